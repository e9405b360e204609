package capture

import (
	"encoding/binary"
	"errors"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// ipv4Layer decodes an IPv4 header and stops the parser at the outer IP
// header: a tunnel (IP-in-IP, GRE, 6in4) is accounted to the outer pair that
// actually moves the bytes, and a later fragment, which carries no transport
// header, is accounted by its IP header alone.
type ipv4Layer struct {
	layers.IPv4
}

func (l *ipv4Layer) NextLayerType() gopacket.LayerType {
	if l.FragOffset != 0 {
		return gopacket.LayerTypeZero
	}
	switch l.Protocol {
	case layers.IPProtocolTCP:
		return layers.LayerTypeTCP
	case layers.IPProtocolUDP:
		return layers.LayerTypeUDP
	case layers.IPProtocolICMPv4:
		return layers.LayerTypeICMPv4
	}
	return gopacket.LayerTypeZero
}

// ipv6Layer decodes an IPv6 header, then walks the common extension headers
// so the transport ports are found and Proto names the real transport.
type ipv6Layer struct {
	layers.IPv6
	transport layers.IPProtocol
	payload   []byte
}

func (l *ipv6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.IPv6.DecodeFromBytes(data, df); err != nil {
		return err
	}
	// gopacket folds a hop-by-hop header into the IPv6 layer itself.
	next := l.NextHeader
	if l.HopByHop != nil {
		next = l.HopByHop.NextHeader
	}
	payload := l.IPv6.Payload
	for {
		switch next {
		case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination:
			if len(payload) < 8 {
				l.transport, l.payload = next, nil
				return nil
			}
			n := 8 + int(payload[1])*8
			if n > len(payload) {
				l.transport, l.payload = next, nil
				return nil
			}
			next = layers.IPProtocol(payload[0])
			payload = payload[n:]
		case layers.IPProtocolIPv6Fragment:
			if len(payload) < 8 {
				l.transport, l.payload = next, nil
				return nil
			}
			offset := binary.BigEndian.Uint16(payload[2:4]) >> 3
			next = layers.IPProtocol(payload[0])
			payload = payload[8:]
			if offset != 0 {
				// A later fragment: no transport header to read.
				l.transport, l.payload = next, nil
				return nil
			}
		default:
			l.transport, l.payload = next, payload
			return nil
		}
	}
}

func (l *ipv6Layer) LayerPayload() []byte { return l.payload }

func (l *ipv6Layer) NextLayerType() gopacket.LayerType {
	if l.payload == nil {
		return gopacket.LayerTypeZero
	}
	switch l.transport {
	case layers.IPProtocolTCP:
		return layers.LayerTypeTCP
	case layers.IPProtocolUDP:
		return layers.LayerTypeUDP
	case layers.IPProtocolICMPv6:
		return layers.LayerTypeICMPv6
	}
	return gopacket.LayerTypeZero
}

// sll2HeaderLen is the size of a Linux cooked v2 header (LINKTYPE_LINUX_SLL2),
// which libpcap uses for the "any" device and which gopacket does not decode.
const sll2HeaderLen = 20

var errShortSLL2 = errors.New("short Linux SLL2 header")

// sll2EtherType returns the protocol field of a Linux cooked v2 header.
func sll2EtherType(data []byte) (layers.EthernetType, error) {
	if len(data) < sll2HeaderLen {
		return 0, errShortSLL2
	}
	return layers.EthernetType(binary.BigEndian.Uint16(data[0:2])), nil
}

// tcpLayer reads only what accounting needs from a TCP header: ports and
// flags. gopacket's full TCP decoder parses options and looks up a payload
// decoder by port, a third of the decode time on a busy link, for nothing
// wherefore uses.
type tcpLayer struct {
	srcPort, dstPort uint16
	flags            uint8
	contents         []byte
}

var errShortTCP = errors.New("TCP header cut short")

func (l *tcpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 14 {
		return errShortTCP
	}
	l.srcPort = binary.BigEndian.Uint16(data[0:2])
	l.dstPort = binary.BigEndian.Uint16(data[2:4])
	l.flags = data[13]
	l.contents = data
	return nil
}

func (l *tcpLayer) CanDecode() gopacket.LayerClass    { return layers.LayerTypeTCP }
func (l *tcpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }
func (l *tcpLayer) LayerPayload() []byte              { return nil }

// udpLayer reads the ports of a UDP header, for the same reason.
type udpLayer struct {
	srcPort, dstPort uint16
	contents         []byte
}

var errShortUDP = errors.New("UDP header cut short")

func (l *udpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		return errShortUDP
	}
	l.srcPort = binary.BigEndian.Uint16(data[0:2])
	l.dstPort = binary.BigEndian.Uint16(data[2:4])
	l.contents = data
	return nil
}

func (l *udpLayer) CanDecode() gopacket.LayerClass    { return layers.LayerTypeUDP }
func (l *udpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }
func (l *udpLayer) LayerPayload() []byte              { return nil }
