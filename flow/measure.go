package flow

import (
	"math"
	"net/netip"

	"github.com/wherefore/wherefore/capture"
)

// counts is what a pair measures in the open interval beyond its series;
// the shard zeroes it when the interval closes. Counters saturate rather
// than wrap: a pair past 65535 SYNs in one interval is remarkable however
// many more it sent.
type counts struct {
	bytes     uint64
	packets   uint32 // saturating, as the counters below
	dnsBytes  uint32 // TCP or UDP packets from or to port 53
	icmpBytes uint32 // ICMP and ICMPv6
	syn       uint16 // TCP SYN without ACK: connections opened, retries included
	synAck    uint16 // TCP SYN+ACK: connections accepted
	rst       uint16 // TCP RST
	unreach   uint16 // ICMP destination unreachable sent
	udp       uint16 // UDP packets
	tcpTries  uint16 // distinct destination ports tried over TCP
	udpTries  uint16 // distinct destination ports tried over UDP
	nports    uint8  // ports held inline, at most inlinePorts
	marks     uint8  // markFolded, markEcho, ...
	ports     [inlinePorts]uint16
	portSet   int32 // 1 + index of a lent bitmap; 0 none; -1 none was left
}

// Bits of counts.marks.
const (
	markFolded    uint8 = 1 << iota // already folded into the interval's aggregates
	markEcho                        // sent an ICMP echo request: a try at the host
	markEchoReply                   // sent an ICMP echo reply
	markUDPReply                    // sent UDP from a service port to an ephemeral one
)

// bareACKWire is the largest frame of a bare ACK: Ethernet, IP and TCP
// headers with options, or the 60-byte minimum frame; one with payload is
// longer.
const bareACKWire = 66

// inlinePorts is how many distinct tried ports a pair holds in its own
// state; most pairs try one or two, and a scan spills into a bitmap.
const inlinePorts = 4

// Bits of flowState.bits.
const (
	localSrc    uint8 = 1 << iota // set when the flow is created
	localDst                      // set when the flow is created
	flowInUse                     // the slab position holds a flow
	flowAlerted                   // raised an alert not yet resolved
)

func inc16(x *uint16) {
	if *x != math.MaxUint16 {
		*x++
	}
}

func add32(x *uint32, n uint32) {
	if s := *x + n; s >= *x {
		*x = s
	} else {
		*x = math.MaxUint32
	}
}

const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	portDNS     = 53
)

// measure accounts one packet's transport fields to its pair. A try is a
// packet that asks for something new: a TCP segment without ACK or RST (a
// SYN opening a connection, or a FIN, NULL or Xmas probe), a UDP datagram
// that is not a reply from a service port to an ephemeral one, or an ICMP
// echo request (a ping sweep tries hosts). TCP and UDP tries are counted
// per distinct destination port, so retries do not inflate them; echo
// requests once per pair.
func (s *shard) measure(f *flowState, e *entry) {
	switch e.proto {
	case protoTCP:
		fl := e.flags
		if fl&capture.FlagACK == 0 {
			if fl&capture.FlagRST == 0 {
				s.startTries(f)
				if s.ports.add(f, e.dport) {
					inc16(&f.tcpTries)
				}
				if fl&capture.FlagSYN != 0 {
					inc16(&f.syn)
				}
			}
		} else if fl&capture.FlagSYN != 0 {
			inc16(&f.synAck)
		} else if fl == capture.FlagACK && e.wire <= bareACKWire && e.sport >= 1024 && f.tcpTries == 0 && s.ports.add(f, e.dport) {
			// A probe comes from an ephemeral port (a server's ACKs to
			// its clients' ports, reset after they closed, are not one)
			// of a pair that tries nothing else, whose tried ports it
			// would otherwise mix with.
			inc16(&f.ackProbes)
		}
		if fl&capture.FlagRST != 0 {
			inc16(&f.rst)
		}
		if e.sport == portDNS || e.dport == portDNS {
			add32(&f.dnsBytes, e.wire)
		}
	case protoUDP:
		inc16(&f.udp)
		if e.sport >= 1024 || e.dport < 1024 {
			s.startTries(f)
			if s.ports.add(f, e.dport) {
				inc16(&f.udpTries)
			}
		} else {
			f.marks |= markUDPReply
		}
		if e.sport == portDNS || e.dport == portDNS {
			add32(&f.dnsBytes, e.wire)
		}
	case protoICMP:
		measureICMP(f, e, icmpTypes{unreach: 3, echo: 8, echoReply: 0})
	case protoICMPv6:
		measureICMP(f, e, icmpTypes{unreach: 1, echo: 128, echoReply: 129})
	}
}

// icmpTypes are the ICMP message types measure tells apart, which differ
// between ICMP and ICMPv6.
type icmpTypes struct{ unreach, echo, echoReply uint8 }

func measureICMP(f *flowState, e *entry, t icmpTypes) {
	add32(&f.icmpBytes, e.wire)
	switch e.icmpType {
	case t.unreach:
		inc16(&f.unreach)
	case t.echo:
		f.marks |= markEcho
	case t.echoReply:
		f.marks |= markEchoReply
	}
}

// startTries empties the port set of a pair about to try its first port
// in the interval when it holds bare-ACK ports: tried ports are counted
// apart from them, and a port probed by ACK and then tried is a try.
func (s *shard) startTries(f *flowState) {
	if f.ackProbes == 0 || f.tcpTries != 0 || f.udpTries != 0 {
		return
	}
	f.nports = 0
	if f.portSet > 0 {
		clear(s.ports.all[f.portSet-1][:])
	}
}

// portBitmap is an exact set of the 65536 ports: 8 KiB, no error, no hash.
// Ports are a small universe, so a bitmap beats a sketch here.
type portBitmap [1 << 10]uint64

// portSets lends bitmaps to pairs that try more than inlinePorts ports in
// one interval (a vertical scan). At most max are ever allocated; all are
// returned when the interval closes.
type portSets struct {
	all  []*portBitmap
	used int // all[:used] are lent in the open interval
	max  int
	// full counts pairs that needed a bitmap when none was left; their
	// tries beyond inlinePorts are counted per packet, an upper bound.
	full uint64
}

// add inserts port into f's set and reports whether it was new.
func (p *portSets) add(f *flowState, port uint16) bool {
	switch {
	case f.portSet > 0:
		bm := p.all[f.portSet-1]
		w, bit := port>>6, uint64(1)<<(port&63)
		if bm[w]&bit != 0 {
			return false
		}
		bm[w] |= bit
		return true
	case f.portSet < 0:
		return !f.hasPort(port)
	}
	if f.hasPort(port) {
		return false
	}
	if int(f.nports) < inlinePorts {
		f.ports[f.nports] = port
		f.nports++
		return true
	}
	if p.used == len(p.all) {
		if len(p.all) == p.max {
			p.full++
			f.portSet = -1
			return true
		}
		p.all = append(p.all, new(portBitmap))
	}
	bm := p.all[p.used]
	p.used++
	f.portSet = int32(p.used)
	for _, q := range f.ports {
		bm[q>>6] |= 1 << (q & 63)
	}
	bm[port>>6] |= 1 << (port & 63)
	return true
}

// reset takes every lent bitmap back, cleared, when the interval closes.
func (p *portSets) reset() {
	for _, bm := range p.all[:p.used] {
		clear(bm[:])
	}
	p.used = 0
}

func (f *flowState) hasPort(port uint16) bool {
	for _, q := range f.ports[:f.nports] {
		if q == port {
			return true
		}
	}
	return false
}

// wordPrefix is a network in the key's 16-byte form, so a flow's locality
// is two masked compares per network, without building a netip.Addr.
type wordPrefix struct {
	hi, lo, maskHi, maskLo uint64
}

func makeWordPrefixes(nets []netip.Prefix) []wordPrefix {
	out := make([]wordPrefix, 0, len(nets))
	for _, p := range nets {
		a, bits := p.Addr(), p.Bits()
		if a.Is4() {
			bits += 96 // the key holds IPv4 as IPv4-mapped IPv6
		}
		k := makeKey(a, a)
		var mhi, mlo uint64
		switch {
		case bits >= 128:
			mhi, mlo = math.MaxUint64, math.MaxUint64
		case bits >= 64:
			mhi, mlo = math.MaxUint64, ^(math.MaxUint64 >> uint(bits-64))
		case bits > 0:
			mhi = ^(math.MaxUint64 >> uint(bits))
		}
		out = append(out, wordPrefix{hi: k.src0 & mhi, lo: k.src1 & mlo, maskHi: mhi, maskLo: mlo})
	}
	return out
}

func localIn(nets []wordPrefix, hi, lo uint64) bool {
	for i := range nets {
		n := &nets[i]
		if hi&n.maskHi == n.hi && lo&n.maskLo == n.lo {
			return true
		}
	}
	return false
}
