package capture

import (
	"fmt"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// SkipReason says why a packet could not be accounted to an IP flow.
type SkipReason uint8

// Reasons a packet is skipped. A packet whose IP header decodes is never
// skipped, whatever follows it.
const (
	// SkipNonIP: a well-formed frame that carries no IP (ARP, LLDP, STP,
	// or an encapsulation such as MPLS or PPPoE that is not decoded).
	SkipNonIP SkipReason = iota
	// SkipMalformed: the link or IP header is cut short or invalid.
	SkipMalformed
	// SkipUnsupportedLink: the capture's link type is not one wherefore decodes.
	SkipUnsupportedLink
	numSkipReasons
)

// String returns the reason's name as used in logs, metrics and the summary.
func (r SkipReason) String() string {
	switch r {
	case SkipNonIP:
		return "non_ip"
	case SkipMalformed:
		return "malformed"
	case SkipUnsupportedLink:
		return "unsupported_link"
	}
	return fmt.Sprintf("reason_%d", uint8(r))
}

// SkipReasons lists every reason, in the order counters are reported.
func SkipReasons() []SkipReason {
	return []SkipReason{SkipNonIP, SkipMalformed, SkipUnsupportedLink}
}

// SkipCounts counts skipped packets by reason.
type SkipCounts [numSkipReasons]uint64

// Total returns the number of skipped packets.
func (s *SkipCounts) Total() uint64 {
	var n uint64
	for _, v := range s {
		n += v
	}
	return n
}

// Decoder turns raw frames of one link type into Records. It decodes with
// gopacket's DecodingLayerParser over layers it owns, so decoding allocates
// nothing. A Decoder is used by one goroutine.
type Decoder struct {
	linkType int

	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	loop  layers.Loopback
	ip4   ipv4Layer
	ip6   ipv6Layer
	tcp   tcpLayer
	udp   udpLayer
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6

	// One parser per first layer; all share the layer values above.
	ethParser, sllParser, loopParser, ip4Parser, ip6Parser *gopacket.DecodingLayerParser
	first                                                  *gopacket.DecodingLayerParser
	sll2                                                   bool
	raw                                                    bool
	decoded                                                []gopacket.LayerType

	// Skipped counts packets that could not be accounted, by reason.
	Skipped SkipCounts
}

// NewDecoder returns a decoder for frames of the given link type. An
// unsupported link type is not an error here: every packet is then skipped
// with SkipUnsupportedLink; use Supported to warn the user up front.
func NewDecoder(lt int) *Decoder {
	d := &Decoder{linkType: lt, decoded: make([]gopacket.LayerType, 0, 8)}
	container := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
	for _, l := range []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.loop, &d.ip4, &d.ip6, &d.tcp, &d.udp, &d.icmp4, &d.icmp6} {
		container = container.Put(l)
	}
	newParser := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(container)
		// Unknown payloads (ARP, GRE, SCTP ...) end decoding; they are not errors.
		p.IgnoreUnsupported = true
		return p
	}
	d.ethParser = newParser(layers.LayerTypeEthernet)
	d.sllParser = newParser(layers.LayerTypeLinuxSLL)
	d.loopParser = newParser(layers.LayerTypeLoopback)
	d.ip4Parser = newParser(layers.LayerTypeIPv4)
	d.ip6Parser = newParser(layers.LayerTypeIPv6)
	switch lt {
	case int(layers.LinkTypeEthernet):
		d.first = d.ethParser
	case int(layers.LinkTypeLinuxSLL):
		d.first = d.sllParser
	case int(layers.LinkTypeNull), int(layers.LinkTypeLoop):
		d.first = d.loopParser
	case LinkTypeSLL2:
		d.sll2 = true
	case int(layers.LinkTypeRaw), linkTypeRawAlt12, linkTypeRawAlt14:
		d.raw = true
	case int(layers.LinkTypeIPv4):
		d.first = d.ip4Parser
	case int(layers.LinkTypeIPv6):
		d.first = d.ip6Parser
	}
	return d
}

// maxWireLen bounds a believable original packet length: GSO/GRO and BIG TCP
// aggregates reach hundreds of kilobytes, never megabytes.
const maxWireLen = 4 << 20

// Link types libpcap reports that gopacket has no constant for. Link types
// are plain ints here because gopacket's LinkType is a byte and cannot hold
// LINKTYPE_LINUX_SLL2 (276).
const (
	LinkTypeSLL2     = 276
	linkTypeRawAlt12 = 12 // DLT_RAW on most systems
	linkTypeRawAlt14 = 14 // DLT_RAW on OpenBSD
)

// Supported reports whether frames of link type lt can be decoded.
func Supported(lt int) bool {
	switch lt {
	case int(layers.LinkTypeEthernet), int(layers.LinkTypeLinuxSLL), LinkTypeSLL2,
		int(layers.LinkTypeNull), int(layers.LinkTypeLoop),
		int(layers.LinkTypeRaw), linkTypeRawAlt12, linkTypeRawAlt14,
		int(layers.LinkTypeIPv4), int(layers.LinkTypeIPv6):
		return true
	}
	return false
}

// Decode fills r from one frame. It returns false, and counts the reason,
// when the frame holds no decodable IP header. It never panics: gopacket's
// parser turns a decoder panic into an error, which counts as malformed.
func (d *Decoder) Decode(ci gopacket.CaptureInfo, data []byte, r *Record) bool {
	p := d.first
	switch {
	case d.sll2:
		et, err := sll2EtherType(data)
		if err != nil {
			d.Skipped[SkipMalformed]++
			return false
		}
		switch et {
		case layers.EthernetTypeIPv4:
			p = d.ip4Parser
		case layers.EthernetTypeIPv6:
			p = d.ip6Parser
		default:
			d.Skipped[SkipNonIP]++
			return false
		}
		data = data[sll2HeaderLen:]
	case d.raw:
		if len(data) == 0 {
			d.Skipped[SkipMalformed]++
			return false
		}
		switch data[0] >> 4 {
		case 4:
			p = d.ip4Parser
		case 6:
			p = d.ip6Parser
		default:
			d.Skipped[SkipMalformed]++
			return false
		}
	case p == nil:
		d.Skipped[SkipUnsupportedLink]++
		return false
	}

	if ci.Length > maxWireLen || (ci.Length != 0 && ci.Length < ci.CaptureLength) {
		// A corrupt or hostile record header; its length would otherwise
		// be accounted as gigabytes on the wire.
		d.Skipped[SkipMalformed]++
		return false
	}
	err := p.DecodeLayers(data, &d.decoded)
	*r = Record{TS: ci.Timestamp.UnixNano(), WireLen: uint32(ci.Length)}
	if ci.Length == 0 {
		// Some writers leave the original length unset; the captured bytes
		// are then the best measure there is.
		r.WireLen = uint32(ci.CaptureLength)
	}
	haveIP := false
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			if haveIP {
				continue
			}
			haveIP = true
			r.Src = addr4(d.ip4.SrcIP)
			r.Dst = addr4(d.ip4.DstIP)
			r.Proto = uint8(d.ip4.Protocol)
		case layers.LayerTypeIPv6:
			if haveIP {
				continue
			}
			haveIP = true
			r.Src = addr16(d.ip6.SrcIP)
			r.Dst = addr16(d.ip6.DstIP)
			r.Proto = uint8(d.ip6.transport)
		case layers.LayerTypeTCP:
			r.SrcPort, r.DstPort, r.TCPFlags = d.tcp.srcPort, d.tcp.dstPort, d.tcp.flags
		case layers.LayerTypeUDP:
			r.SrcPort, r.DstPort = d.udp.srcPort, d.udp.dstPort
		case layers.LayerTypeICMPv4:
			r.ICMPType, r.ICMPCode = d.icmp4.TypeCode.Type(), d.icmp4.TypeCode.Code()
		case layers.LayerTypeICMPv6:
			r.ICMPType, r.ICMPCode = d.icmp6.TypeCode.Type(), d.icmp6.TypeCode.Code()
		}
	}
	if !haveIP || !r.Src.IsValid() || !r.Dst.IsValid() {
		if err != nil || len(d.decoded) == 0 {
			d.Skipped[SkipMalformed]++
		} else {
			d.Skipped[SkipNonIP]++
		}
		return false
	}
	// An error past the IP header (a transport header cut by the snaplen,
	// say) loses the ports, never the packet's bytes.
	return true
}

func addr4(ip []byte) netip.Addr {
	if len(ip) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(ip))
}

func addr16(ip []byte) netip.Addr {
	if len(ip) != 16 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(ip))
}
