package synth

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// IP protocol numbers of the transports the generator writes.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// Header sizes that decide wire lengths and segment sizes.
const (
	tcpHeaderLen = 32 // 20 + NOP NOP timestamps, as Linux sends
	mss4         = 1500 - 20 - tcpHeaderLen
	mss6         = 1500 - 40 - tcpHeaderLen
	udpPayload4  = 1252 // QUIC-style datagrams
	udpPayload6  = 1232
	pingPayload  = 56
	maxSegments  = 44 // 44*1448 bytes: the largest TSO/GRO packet under 64 KB
)

// conv is one conversation between an initiator (side 0, usually internal)
// and a responder (side 1). Its two directions are two src->dst pairs.
type conv struct {
	addr     [2][16]byte
	port     [2]uint16
	pair     [2]int32 // directional pair ids, side 0->1 and 1->0
	seq      [2]uint32
	ipid     [2]uint16
	ttl      [2]uint8
	internal [2]bool
	v6       bool
	proto    uint8
	vlan     uint16 // 802.1Q id on Ethernet; 0: untagged
	icmpSeq  uint16
}

func newConv(a, b addr, aPort, bPort uint16, proto uint8, aInternal, bInternal bool, r *rng) conv {
	c := conv{
		addr:     [2][16]byte{a.b, b.b},
		port:     [2]uint16{aPort, bPort},
		internal: [2]bool{aInternal, bInternal},
		v6:       a.v6,
		proto:    proto,
	}
	if proto == protoICMP && a.v6 {
		c.proto = protoICMPv6
	}
	for side := range 2 {
		c.seq[side] = uint32(r.u64())
		c.ipid[side] = uint16(r.u64())
		c.ttl[side] = 64
		if !c.internal[side] {
			c.ttl[side] = uint8(r.between(44, 58)) // a few routers away
		}
	}
	return c
}

// shape is a header template for one combination of IP version, transport
// and VLAN tag, serialised once with gopacket/layers. Packets are made by
// patching addresses, lengths, counters and checksums into buf in place;
// the payload after the headers stays zero, so checksums need only the
// headers and a 64 KB packet costs no more than a 64-byte one.
type shape struct {
	buf     []byte
	ipOff   int // start of the IP header
	l4Off   int // start of the transport header
	hdrLen  int // start of the payload
	maxData int // largest payload the IP length fields allow
}

// encoder turns events into packet bytes for one link type and snap length.
type encoder struct {
	link    LinkType
	snaplen int
	shapes  [16]shape // index: v6<<3 | vlan<<2 | transport (0-2)
}

func transportIndex(proto uint8) int {
	switch proto {
	case protoTCP:
		return 0
	case protoUDP:
		return 1
	}
	return 2
}

func newEncoder(link LinkType, snaplen int) (*encoder, error) {
	e := &encoder{link: link, snaplen: snaplen}
	for i := range e.shapes {
		v6, vlan, t := i&8 != 0, i&4 != 0, i&3
		if t == 3 || (vlan && link != Ethernet) {
			continue
		}
		proto := [3]uint8{protoTCP, protoUDP, protoICMP}[t]
		if v6 && proto == protoICMP {
			proto = protoICMPv6
		}
		s, err := buildShape(link, v6, vlan, proto, snaplen)
		if err != nil {
			return nil, err
		}
		e.shapes[i] = s
	}
	return e, nil
}

// buildShape serialises a zero-payload packet of the given kind with
// placeholder addresses; every per-packet field is patched later.
func buildShape(link LinkType, v6, vlan bool, proto uint8, snaplen int) (shape, error) {
	var ls []gopacket.SerializableLayer
	etype := layers.EthernetTypeIPv4
	if v6 {
		etype = layers.EthernetTypeIPv6
	}
	switch link {
	case Ethernet:
		eth := &layers.Ethernet{SrcMAC: make(net.HardwareAddr, 6), DstMAC: make(net.HardwareAddr, 6), EthernetType: etype}
		ls = append(ls, eth)
		if vlan {
			eth.EthernetType = layers.EthernetTypeDot1Q
			ls = append(ls, &layers.Dot1Q{Type: etype})
		}
	case Null:
		fam := layers.ProtocolFamilyIPv4
		if v6 {
			fam = layers.ProtocolFamilyIPv6BSD
		}
		ls = append(ls, &layers.Loopback{Family: fam})
	}
	var nl gopacket.NetworkLayer
	ipLen := 20
	if v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(proto), SrcIP: make(net.IP, 16), DstIP: make(net.IP, 16)}
		ls, nl, ipLen = append(ls, ip), ip, 40
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocol(proto), SrcIP: make(net.IP, 4), DstIP: make(net.IP, 4)}
		ls, nl = append(ls, ip), ip
	}
	var l4Len int
	switch proto {
	case protoTCP:
		tcp := &layers.TCP{ACK: true, Window: 502, Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)},
		}}
		if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
			return shape{}, err
		}
		ls, l4Len = append(ls, tcp), tcpHeaderLen
	case protoUDP:
		ls, l4Len = append(ls, &layers.UDP{}), 8
	case protoICMP:
		ls, l4Len = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)}), 8
	case protoICMPv6:
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		if err := icmp.SetNetworkLayerForChecksum(nl); err != nil {
			return shape{}, err
		}
		ls, l4Len = append(ls, icmp, &layers.ICMPv6Echo{}), 8
	}
	sb := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		return shape{}, fmt.Errorf("synth: serialising %v template: %w", link, err)
	}
	linkLen := [...]int{Ethernet: 14, Raw: 0, LinuxSLL: 0, Null: 4}[link]
	if vlan {
		linkLen += 4
	}
	// Ethernet pads short frames to 60 bytes; the template ends at the
	// transport header.
	hdr := sb.Bytes()[:linkLen+ipLen+l4Len]
	if link == LinuxSLL {
		// gopacket can decode but not serialise SLL; its 16 bytes are simple.
		sll := make([]byte, 16, 16+len(hdr))
		binary.BigEndian.PutUint16(sll[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(sll[4:], 6) // address length
		binary.BigEndian.PutUint16(sll[14:], uint16(etype))
		hdr = append(sll, hdr...)
	}
	s := shape{hdrLen: len(hdr)}
	s.l4Off = s.hdrLen - l4Len
	s.ipOff = s.l4Off - ipLen
	s.maxData = 0xffff - l4Len
	if !v6 {
		s.maxData -= ipLen
	}
	size := s.hdrLen + s.maxData
	if snaplen < size {
		size = max(snaplen, s.hdrLen)
	}
	s.buf = make([]byte, size)
	copy(s.buf, hdr)
	return s, nil
}

// encode patches the packet for ev into its shape's buffer and returns the
// captured bytes (cut at the snap length) and the length on the wire. The
// slice is valid until the next call.
func (e *encoder) encode(c *conv, ev event) (data []byte, wireLen int) {
	i := transportIndex(c.proto)
	if c.v6 {
		i |= 8
	}
	if c.vlan != 0 && e.link == Ethernet {
		i |= 4
	}
	s := &e.shapes[i]
	b := s.buf
	src, dst := int(ev.dir), int(1-ev.dir)
	size := int(ev.size)
	l4Len := s.hdrLen - s.l4Off
	wireLen = s.hdrLen + size

	switch e.link {
	case Ethernet:
		dm, sm := mac(addr{b: c.addr[dst], v6: c.v6}, c.internal[dst]), mac(addr{b: c.addr[src], v6: c.v6}, c.internal[src])
		copy(b[0:6], dm[:])
		copy(b[6:12], sm[:])
		if i&4 != 0 {
			binary.BigEndian.PutUint16(b[14:], c.vlan)
		}
	case LinuxSLL:
		pt := uint16(0) // addressed to this host...
		if c.internal[src] {
			pt = 4 // ...or sent by it, as a gateway's "any" capture sees them
		}
		binary.BigEndian.PutUint16(b[0:], pt)
		sm := mac(addr{b: c.addr[src], v6: c.v6}, c.internal[src])
		copy(b[6:12], sm[:])
	}

	ip := b[s.ipOff:s.l4Off]
	var pseudo uint32
	if c.v6 {
		binary.BigEndian.PutUint16(ip[4:], uint16(l4Len+size))
		ip[7] = c.ttl[src]
		copy(ip[8:24], c.addr[src][:])
		copy(ip[24:40], c.addr[dst][:])
		pseudo = sum16(ip[8:40], uint32(c.proto)+uint32(l4Len+size))
	} else {
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+l4Len+size))
		binary.BigEndian.PutUint16(ip[4:], c.ipid[src])
		c.ipid[src]++
		ip[8] = c.ttl[src]
		copy(ip[12:16], c.addr[src][:4])
		copy(ip[16:20], c.addr[dst][:4])
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], fold(sum16(ip, 0)))
		pseudo = sum16(ip[12:20], uint32(c.proto)+uint32(l4Len+size))
	}

	l4 := b[s.l4Off:s.hdrLen]
	csum := 0
	switch c.proto {
	case protoTCP:
		binary.BigEndian.PutUint16(l4[0:], c.port[src])
		binary.BigEndian.PutUint16(l4[2:], c.port[dst])
		binary.BigEndian.PutUint32(l4[4:], c.seq[src])
		binary.BigEndian.PutUint32(l4[8:], c.seq[dst])
		c.seq[src] += uint32(size)
		l4[13] = 0x10 // ACK
		if size > 0 {
			l4[13] = 0x18 // PSH|ACK
		}
		if ev.flags != 0 {
			l4[13] = ev.flags
		}
		// Timestamps option: each side's millisecond clock, offset per host.
		ms := uint32(ev.ts / 1e6)
		binary.BigEndian.PutUint32(l4[24:], ms+clockOffset(c.addr[src]))
		binary.BigEndian.PutUint32(l4[28:], ms-20+clockOffset(c.addr[dst]))
		csum = 16
	case protoUDP:
		binary.BigEndian.PutUint16(l4[0:], c.port[src])
		binary.BigEndian.PutUint16(l4[2:], c.port[dst])
		binary.BigEndian.PutUint16(l4[4:], uint16(l4Len+size))
		csum = 6
	case protoICMP, protoICMPv6:
		typ := [2]uint8{8, 0} // echo request, reply
		if c.proto == protoICMPv6 {
			typ = [2]uint8{128, 129}
		} else {
			pseudo = 0 // unlike ICMPv6, ICMPv4 sums no pseudo-header
		}
		l4[0] = typ[ev.dir]
		binary.BigEndian.PutUint16(l4[4:], c.port[0])
		if ev.dir == 0 {
			c.icmpSeq++
		}
		binary.BigEndian.PutUint16(l4[6:], c.icmpSeq)
		csum = 2
	}
	l4[csum], l4[csum+1] = 0, 0
	// The payload is zeros and adds nothing to the sum.
	ck := fold(sum16(l4, pseudo))
	if ck == 0 && c.proto == protoUDP {
		ck = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(l4[csum:], ck)

	n := min(wireLen, e.snaplen)
	return b[:n], wireLen
}

// clockOffset gives each host its own TCP timestamp clock.
func clockOffset(a [16]byte) uint32 {
	return (binary.BigEndian.Uint32(a[0:]) ^ binary.BigEndian.Uint32(a[12:])) * 2654435761
}

// sum16 adds b as big-endian 16-bit words to s (the Internet checksum sum).
func sum16(b []byte, s uint32) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b) != n {
		s += uint32(b[n]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
