package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"os"

	"github.com/google/gopacket"

	"github.com/wherefore/wherefore/capture"
)

// A segment's index says where each connection's records are: for every
// connection (TCP/UDP 5-tuple both ways, other protocols per address pair)
// its first and last packet time and the offset and length of each record.
// The writer builds it while it appends; when the segment is sealed it is
// written beside it as <segment>.idx, so a cut reads only the records it
// needs.

// recRef locates one pcap record, header included, in a segment.
type recRef struct{ off, n uint32 }

// connRecs is one connection's part of an index.
type connRecs struct {
	key         connKey
	first, last int64 // packet time, ns
	recs        []recRef
}

// segIndex is an index read from its file: the connections asked for,
// each with its records.
type segIndex struct {
	conns       map[connKey]*connRecs
	order       []*connRecs // as written: first seen first
	first, last int64
	size        int64 // segment bytes the index covers
}

func newSegIndex() *segIndex {
	return &segIndex{conns: make(map[connKey]*connRecs)}
}

// ckey is a connection key of plain bytes: it hashes as one block of
// memory, which matters once per packet. Endpoints are ordered as bytes,
// the lower first, so both directions share it.
type ckey struct {
	a, b   [16]byte
	pa, pb uint16
	proto  uint8
}

func ckeyOf(r *capture.Record) ckey {
	s, d := r.Src.As16(), r.Dst.As16()
	var sp, dp uint16
	if r.Proto == protoTCP || r.Proto == protoUDP {
		sp, dp = r.SrcPort, r.DstPort
	}
	c := bytes.Compare(s[:], d[:])
	if c < 0 || c == 0 && sp <= dp {
		return ckey{s, d, sp, dp, r.Proto}
	}
	return ckey{d, s, dp, sp, r.Proto}
}

func (k ckey) connKey() connKey {
	if k == (ckey{}) {
		return connKey{} // a packet whose addresses could not be read
	}
	return connKey{a: netip.AddrFrom16(k.a).Unmap(), b: netip.AddrFrom16(k.b).Unmap(), pa: k.pa, pb: k.pb, proto: k.proto}
}

// idxBuilder is the index of the segment being written. Records are
// appended in file order, each naming its connection by number, to one
// array reused from segment to segment: a packet costs one hash probe (none
// when it continues the previous packet's connection) and one sequential
// append, and the index is written out as it stands.
type idxBuilder struct {
	// slots is an open-addressing table over order: each slot holds a
	// connection's number plus one (0: empty) in its low half and the high
	// half of its hash in its upper half, so most misses are decided
	// without reading order. Its length is a power of two, at most half
	// full. A table of its own, rather than a map keyed by ckey, because
	// the per-packet lookup is the index's whole cost and this one hashes
	// five words once and touches one slot.
	slots       []uint64
	seed        uint64 // random per builder, so crafted traffic cannot aim at one chain
	prev        uint32 // connection of the last record plus one; 0: none
	order       []connState
	recs        []recEntry // file order
	first, last int64
	size        int64 // segment bytes indexed
	mem         int64 // bytes of memory the index holds, roughly
}

type connState struct {
	ck          ckey
	first, last int64
	n           uint32
}

type recEntry struct {
	conn uint32
	recRef
}

// Memory the index counts per connection (state and at most four slots)
// and per record.
const (
	idxConnMem = 128
	idxRecMem  = 12
)

// idxMinSlots is the table's first size; it doubles as connections come.
const idxMinSlots = 1 << 10

func newIdxBuilder() *idxBuilder {
	return &idxBuilder{slots: make([]uint64, idxMinSlots), seed: rand.Uint64()}
}

// reset empties x for the next segment, keeping its memory.
func (x *idxBuilder) reset() {
	clear(x.slots)
	x.prev = 0
	x.order = x.order[:0]
	x.recs = x.recs[:0]
	x.first, x.last, x.size, x.mem = 0, 0, 0, 0
}

// mix folds a 128-bit product, the step of the wyhash family of hashes.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash of k under seed: every byte of the key goes through a multiply.
func (k *ckey) hash(seed uint64) uint64 {
	const p0, p1, p2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3
	le := binary.LittleEndian
	ports := uint64(k.pa)<<24 | uint64(k.pb)<<8 | uint64(k.proto)
	h := mix(le.Uint64(k.a[:8])^p0, le.Uint64(k.a[8:])^seed)
	h = mix(le.Uint64(k.b[:8])^p1, le.Uint64(k.b[8:])^h)
	return mix(ports^p2, h^seed)
}

// lookup returns the number of connection k, adding it when new.
func (x *idxBuilder) lookup(k *ckey, ts int64) uint32 {
	if x.prev != 0 && x.order[x.prev-1].ck == *k {
		return x.prev - 1 // a run of one connection's packets
	}
	h := k.hash(x.seed)
	tag := h &^ (1<<32 - 1)
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			n := uint32(len(x.order))
			x.order = append(x.order, connState{ck: *k, first: ts, last: ts})
			x.slots[i] = tag | uint64(n+1)
			x.mem += idxConnMem
			if 2*len(x.order) > len(x.slots) {
				x.grow()
			}
			x.prev = n + 1
			return n
		}
		if s&^(1<<32-1) == tag {
			if n := uint32(s) - 1; x.order[n].ck == *k {
				x.prev = n + 1
				return n
			}
		}
	}
}

// grow doubles the table and places every connection again.
func (x *idxBuilder) grow() {
	x.slots = make([]uint64, 2*len(x.slots))
	mask := uint64(len(x.slots) - 1)
	for n := range x.order {
		h := x.order[n].ck.hash(x.seed)
		i := h & mask
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = h&^(1<<32-1) | uint64(n+1)
	}
}

// add notes one record of connection k.
func (x *idxBuilder) add(k ckey, ts int64, off, n uint32) {
	i := x.lookup(&k, ts)
	c := &x.order[i]
	c.first, c.last = min(c.first, ts), max(c.last, ts)
	c.n++
	if len(x.recs) == 0 {
		x.first, x.last = ts, ts
	} else {
		x.first, x.last = min(x.first, ts), max(x.last, ts)
	}
	x.recs = append(x.recs, recEntry{i, recRef{off, n}})
	x.mem += idxRecMem
}

// snapshot copies the connections match accepts, with their records.
func (x *idxBuilder) snapshot(match func(connKey) bool) []*connRecs {
	picked := make(map[uint32]*connRecs)
	var out []*connRecs
	for i := range x.order {
		c := &x.order[i]
		if key := c.ck.connKey(); match(key) {
			cr := &connRecs{key: key, first: c.first, last: c.last, recs: make([]recRef, 0, c.n)}
			picked[uint32(i)] = cr
			out = append(out, cr)
		}
	}
	if len(out) > 0 {
		for _, e := range x.recs {
			if cr := picked[e.conn]; cr != nil {
				cr.recs = append(cr.recs, e.recRef)
			}
		}
	}
	return out
}

// Index file layout, little endian: magic and version; the segment size it
// covers, first and last packet time, the number of connections and of
// records; per connection: proto, ports, both addresses (16 bytes and a
// length, 0, 4 or 16), first and last time, its number of records; then
// every record in file order: its connection's number, offset and length.
const (
	idxMagic   = "WFIDX\x00\x00\x02"
	idxHdrLen  = 8 + 8 + 8 + 8 + 4 + 4
	idxConnLen = 1 + 2 + 2 + 17 + 17 + 8 + 8 + 4
	idxRecLen  = 12
)

// errBadIndex marks an index file that cannot be used; the segment is
// scanned instead.
var errBadIndex = errors.New("unusable index")

func appendAddr(b []byte, a netip.Addr) []byte {
	var raw [16]byte
	n := byte(0)
	switch {
	case a.Is4():
		v := a.As4()
		copy(raw[:], v[:])
		n = 4
	case a.Is6():
		raw = a.As16()
		n = 16
	}
	b = append(b, raw[:]...)
	return append(b, n)
}

func readAddr(b []byte) netip.Addr {
	switch b[16] {
	case 4:
		return netip.AddrFrom4([4]byte(b[:4]))
	case 16:
		return netip.AddrFrom16([16]byte(b[:16]))
	}
	return netip.Addr{}
}

// writeTo writes the index to w.
func (x *idxBuilder) writeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	b := make([]byte, 0, 64<<10)
	b = append(b, idxMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(x.size))
	b = binary.LittleEndian.AppendUint64(b, uint64(x.first))
	b = binary.LittleEndian.AppendUint64(b, uint64(x.last))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(x.order)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(x.recs)))
	for i := range x.order {
		c := &x.order[i]
		key := c.ck.connKey()
		b = append(b, key.proto)
		b = binary.LittleEndian.AppendUint16(b, key.pa)
		b = binary.LittleEndian.AppendUint16(b, key.pb)
		b = appendAddr(b, key.a)
		b = appendAddr(b, key.b)
		b = binary.LittleEndian.AppendUint64(b, uint64(c.first))
		b = binary.LittleEndian.AppendUint64(b, uint64(c.last))
		b = binary.LittleEndian.AppendUint32(b, c.n)
		if len(b) >= 60<<10 {
			bw.Write(b)
			b = b[:0]
		}
	}
	for _, e := range x.recs {
		if len(b)+idxRecLen > cap(b) {
			bw.Write(b)
			b = b[:0]
		}
		at := len(b)
		b = b[:at+idxRecLen]
		binary.LittleEndian.PutUint32(b[at:], e.conn)
		binary.LittleEndian.PutUint32(b[at+4:], e.off)
		binary.LittleEndian.PutUint32(b[at+8:], e.n)
	}
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

// readIndex reads an index file. keep, when not nil, chooses the
// connections whose records are loaded; the others are skipped.
func readIndex(path string, keep func(*connRecs) bool) (*segIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var h [idxHdrLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil || string(h[:8]) != idxMagic {
		return nil, fmt.Errorf("%s: %w", path, errBadIndex)
	}
	x := newSegIndex()
	x.size = int64(binary.LittleEndian.Uint64(h[8:]))
	x.first = int64(binary.LittleEndian.Uint64(h[16:]))
	x.last = int64(binary.LittleEndian.Uint64(h[24:]))
	nc := binary.LittleEndian.Uint32(h[32:])
	nr := binary.LittleEndian.Uint32(h[36:])
	if int64(nr)*pcapRecordHeaderLen > x.size || int64(nc) > int64(nr) {
		return nil, fmt.Errorf("%s: %w: %d connections, %d records in %d bytes", path, errBadIndex, nc, nr, x.size)
	}
	byNum := make([]*connRecs, nc) // nil: not kept
	var ch [idxConnLen]byte
	for i := range nc {
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", path, errBadIndex, err)
		}
		c := &connRecs{key: connKey{
			proto: ch[0],
			pa:    binary.LittleEndian.Uint16(ch[1:]),
			pb:    binary.LittleEndian.Uint16(ch[3:]),
			a:     readAddr(ch[5:22]),
			b:     readAddr(ch[22:39]),
		}}
		c.first = int64(binary.LittleEndian.Uint64(ch[39:]))
		c.last = int64(binary.LittleEndian.Uint64(ch[47:]))
		if keep != nil && !keep(c) {
			continue
		}
		c.recs = make([]recRef, 0, binary.LittleEndian.Uint32(ch[55:]))
		byNum[i] = c
		x.conns[c.key] = c
		x.order = append(x.order, c)
	}
	if len(x.order) == 0 {
		return x, nil // nothing asked for: the records need not be read
	}
	var rb [idxRecLen]byte
	for range nr {
		if _, err := io.ReadFull(r, rb[:]); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", path, errBadIndex, err)
		}
		n := binary.LittleEndian.Uint32(rb[:])
		if n >= nc {
			return nil, fmt.Errorf("%s: %w: connection %d of %d", path, errBadIndex, n, nc)
		}
		if c := byNum[n]; c != nil {
			c.recs = append(c.recs, recRef{binary.LittleEndian.Uint32(rb[4:]), binary.LittleEndian.Uint32(rb[8:])})
		}
	}
	return x, nil
}

// scanSegment reads a segment from the start, builds its index, and
// returns it with the size of the whole records it holds (anything after
// them is a record cut by a crash).
func scanSegment(path string) (*idxBuilder, segHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, segHeader{}, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	sh, err := readSegHeader(r)
	if err != nil {
		return nil, sh, fmt.Errorf("%s: %w", path, err)
	}
	dec := capture.NewDecoder(sh.linkType)
	x := newIdxBuilder()
	off := int64(pcapHeaderLen)
	var rec capture.Record
	var buf []byte
	for {
		ts, incl, orig, ok := sh.readRecordHeader(r)
		if !ok || incl > maxSnaplen {
			break
		}
		if cap(buf) < incl {
			buf = make([]byte, incl)
		}
		buf = buf[:incl]
		if _, err := io.ReadFull(r, buf); err != nil {
			break
		}
		n := recordLen(incl)
		ci := gopacket.CaptureInfo{CaptureLength: incl, Length: orig}
		rec = capture.Record{}
		var k ckey
		if dec.Decode(ci, buf, &rec) {
			k = ckeyOf(&rec)
		}
		x.add(k, ts, uint32(off), uint32(n))
		off += n
	}
	x.size = off
	return x, sh, nil
}
