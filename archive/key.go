package archive

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/wherefore/wherefore/capture"
)

// IP protocol numbers that carry ports in a connection key.
const (
	protoTCP = 6
	protoUDP = 17
)

// connKey identifies a connection in both directions: the endpoint that
// sorts lower is always a, so a reply finds the same entry.
type connKey struct {
	a, b   netip.Addr
	pa, pb uint16
	proto  uint8
}

// pairKey is an unordered address pair; alerts and the flight recorder work
// per pair so an alert's evidence holds the replies too.
type pairKey struct{ a, b netip.Addr }

func makePair(x, y netip.Addr) pairKey {
	x, y = x.Unmap(), y.Unmap()
	if y.Less(x) {
		x, y = y, x
	}
	return pairKey{x, y}
}

// makeConnKey returns the canonical key of r's connection.
func makeConnKey(r *capture.Record) connKey { return ckeyOf(r).connKey() }

// protoNames gives the protocols most often seen a readable file-name prefix;
// others are written "proto<N>".
var protoNames = [256]string{1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmpv6", 132: "sctp"}

func protoName(p uint8) string {
	if n := protoNames[p]; n != "" {
		return n
	}
	return "proto" + strconv.Itoa(int(p))
}

// addrName renders an address for a file name. IPv6 colons become dashes and
// a zone's % becomes "s" (the ipv6-literal.net convention), because ':' is
// not allowed on Windows or in SMB shares; anything else outside
// [0-9A-Za-z.-] becomes 'x', so a zone name cannot smuggle in a separator.
func addrName(a netip.Addr) string {
	s := a.Unmap().String()
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == ':':
			b.WriteByte('-')
		case ch == '%':
			b.WriteByte('s')
		case ch == '.' || ch == '-' || ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z':
			b.WriteByte(ch)
		default:
			b.WriteByte('x')
		}
	}
	return b.String()
}

// baseName names a connection's files: proto, first endpoint, second
// endpoint, fields separated by '_' (which no rendered address contains).
// The first endpoint is the client when the handshake shows it, else the
// sender of the first packet seen.
func baseName(proto uint8, a netip.Addr, pa uint16, b netip.Addr, pb uint16) string {
	var s strings.Builder
	s.WriteString(protoName(proto))
	s.WriteByte('_')
	s.WriteString(addrName(a))
	if proto == protoTCP || proto == protoUDP {
		s.WriteByte('_')
		s.WriteString(strconv.Itoa(int(pa)))
	}
	s.WriteByte('_')
	s.WriteString(addrName(b))
	if proto == protoTCP || proto == protoUDP {
		s.WriteByte('_')
		s.WriteString(strconv.Itoa(int(pb)))
	}
	return s.String()
}

// partName is the file name of part seq of a connection.
func partName(base string, seq uint64) string {
	return base + "." + strconv.FormatUint(seq, 10) + ".pcap"
}
