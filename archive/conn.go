package archive

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

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

// makeConnKey returns the canonical key of r's connection and whether r was
// sent by the key's a endpoint.
func makeConnKey(r *capture.Record) (k connKey, fromA bool) {
	src, dst := r.Src.Unmap(), r.Dst.Unmap()
	var sp, dp uint16
	if r.Proto == protoTCP || r.Proto == protoUDP {
		sp, dp = r.SrcPort, r.DstPort
	}
	c := src.Compare(dst)
	if c < 0 || c == 0 && sp <= dp {
		return connKey{a: src, b: dst, pa: sp, pb: dp, proto: r.Proto}, true
	}
	return connKey{a: dst, b: src, pa: dp, pb: sp, proto: r.Proto}, false
}

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

// isPartName reports whether name looks like a file this package writes in
// -l, so leftovers are recognised and a user's own files are left alone.
func isPartName(name string) bool {
	rest, ok := strings.CutSuffix(name, ".pcap")
	if !ok {
		return false
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 || dot == len(rest)-1 {
		return false
	}
	if _, err := strconv.ParseUint(rest[dot+1:], 10, 64); err != nil {
		return false
	}
	us := strings.IndexByte(rest, '_')
	return us > 0 && us < dot
}

// part is one file of a connection.
type part struct {
	c    *conn
	seq  uint64
	id   uint64 // names the part to fileIO
	path string
	size int64 // bytes on disk plus bytes pending for it
	// onDisk is set once records have gone to fileIO, which creates the
	// file; until then the part lives only in its connection's pending
	// buffer.
	onDisk bool
	// prev and next link every part in -l from oldest to newest, so the
	// quota can delete the oldest file of any connection first.
	prev, next *part
}

// Slots of conn.links: a connection is in the active or the ended list
// (never both), maybe in the list of its pending buffer's size class, and
// in its pair's list.
const (
	slotAge = iota
	slotPend
	slotPair
	nSlots
)

type link struct{ prev, next *conn }

// conn is one tracked connection. It belongs to the writer goroutine.
type conn struct {
	key  connKey
	pair pairKey
	base string

	first, last int64 // packet time, ns
	moved       int64 // packet time of the last move in the activity list
	finA, finB  bool  // FIN seen from endpoint a / b
	ended       bool
	endWall     time.Time // wall time of the end or of the latest later packet

	parts   []*part // oldest first; all but cur are on disk
	cur     *part   // the part being appended to; nil: next packet starts one
	nextSeq uint64

	buf     []byte // cur's pending bytes: whole records, after the header if cur has no file yet
	bufPkts int
	// pendSince is the writer's pendClock when buf last became non-empty.
	pendSince int64

	links  [nSlots]link
	member [nSlots]bool
}

// connList is an intrusive doubly linked list over one slot of conn.links;
// head is the most recently touched. Intrusive links keep moves allocation
// free, which matters with a move per packet.
type connList struct {
	slot       int
	head, tail *conn
	n          int
}

func (l *connList) pushFront(c *conn) {
	lk := &c.links[l.slot]
	lk.prev, lk.next = nil, l.head
	if l.head != nil {
		l.head.links[l.slot].prev = c
	} else {
		l.tail = c
	}
	l.head = c
	c.member[l.slot] = true
	l.n++
}

func (l *connList) remove(c *conn) {
	if !c.member[l.slot] {
		return
	}
	lk := &c.links[l.slot]
	if lk.prev != nil {
		lk.prev.links[l.slot].next = lk.next
	} else {
		l.head = lk.next
	}
	if lk.next != nil {
		lk.next.links[l.slot].prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	lk.prev, lk.next = nil, nil
	c.member[l.slot] = false
	l.n--
}

func (l *connList) moveToFront(c *conn) {
	if l.head == c {
		return
	}
	l.remove(c)
	l.pushFront(c)
}
