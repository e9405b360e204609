package archive

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"

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
	order       []*connRecs // as written: first seen first
	first, last int64
	size        int64 // segment bytes the index covers
}

// ckey is a connection key of five machine words, which is what the
// per-packet lookup hashes and compares. Each address is its 16-byte form
// as two big-endian words, so the words order as the bytes do; endpoints
// are ordered, the lower first, so both directions share the key.
type ckey struct {
	a0, a1, b0, b1 uint64
	ports          uint64 // first endpoint's port<<24 | second's<<8 | protocol
}

// addrWords is an address's 16-byte form as two big-endian words.
func addrWords(a netip.Addr) (uint64, uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

func wordsAddr(w0, w1 uint64) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], w0)
	binary.BigEndian.PutUint64(b[8:], w1)
	return netip.AddrFrom16(b).Unmap()
}

func ckeyOf(r *capture.Record) ckey {
	s0, s1 := addrWords(r.Src)
	d0, d1 := addrWords(r.Dst)
	return makeCkey(s0, s1, d0, d1, r.SrcPort, r.DstPort, r.Proto)
}

// makeCkey orders the endpoints; ports count for TCP and UDP only.
func makeCkey(s0, s1, d0, d1 uint64, sport, dport uint16, proto uint8) ckey {
	var sp, dp uint64
	if proto == protoTCP || proto == protoUDP {
		sp, dp = uint64(sport), uint64(dport)
	}
	if s0 < d0 || s0 == d0 && (s1 < d1 || s1 == d1 && sp <= dp) {
		return ckey{s0, s1, d0, d1, sp<<24 | dp<<8 | uint64(proto)}
	}
	return ckey{d0, d1, s0, s1, dp<<24 | sp<<8 | uint64(proto)}
}

// eq compares word by word, cheaper than the generated comparison.
func (k *ckey) eq(o *ckey) bool {
	return k.a0 == o.a0 && k.a1 == o.a1 && k.b0 == o.b0 && k.b1 == o.b1 && k.ports == o.ports
}

func (k ckey) connKey() connKey {
	if k == (ckey{}) {
		return connKey{} // a packet whose addresses could not be read
	}
	return connKey{a: wordsAddr(k.a0, k.a1), b: wordsAddr(k.b0, k.b1), pa: uint16(k.ports >> 24), pb: uint16(k.ports >> 8), proto: uint8(k.ports)}
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

	// Scratch kept from segment to segment: the snapshot's picks, and the
	// grouped records and address buckets writeTo lays out.
	pick             []*connRecs
	starts           []uint32
	grouped          []recRef
	buckets, entries []uint32
	bw               *bufio.Writer
	wbuf             []byte
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

// Memory the index counts per connection (state, at most four slots, its
// address entries and buckets) and per record.
const (
	idxConnMem = 128
	idxRecMem  = 20 // its entry, and its place in the grouped copy at the seal
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
	h := mix(k.a0^p0, k.a1^seed)
	h = mix(k.b0^p1, k.b1^h)
	return mix(k.ports^p2, h^seed)
}

// lookup returns the number of connection k, adding it when new.
func (x *idxBuilder) lookup(k *ckey, ts int64) uint32 {
	if x.prev != 0 && x.order[x.prev-1].ck.eq(k) {
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
			if n := uint32(s) - 1; x.order[n].ck.eq(k) {
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

// snapshot copies the connections match accepts, with their records. pre,
// when not nil, turns a connection down by its raw key first, which spares
// building the key of the many connections a cut does not want.
func (x *idxBuilder) snapshot(pre func(*ckey) bool, match func(connKey) bool) []*connRecs {
	var out []*connRecs
	var picked []uint32
	for i := range x.order {
		c := &x.order[i]
		if pre != nil && !pre(&c.ck) {
			continue
		}
		if key := c.ck.connKey(); match(key) {
			if len(x.pick) < len(x.order) {
				x.pick = make([]*connRecs, len(x.order))
			}
			cr := &connRecs{key: key, first: c.first, last: c.last, recs: make([]recRef, 0, c.n)}
			x.pick[i] = cr
			picked = append(picked, uint32(i))
			out = append(out, cr)
		}
	}
	if len(out) == 0 {
		return nil
	}
	for _, e := range x.recs {
		if cr := x.pick[e.conn]; cr != nil {
			cr.recs = append(cr.recs, e.recRef)
		}
	}
	for _, i := range picked {
		x.pick[i] = nil
	}
	return out
}

// Index file layout (version 3), little endian:
//
//	header   magic and version; the segment size it covers; first and last
//	         packet time; the numbers of connections, records, address
//	         buckets and address entries; the address hash's seed
//	conns    per connection: proto, ports, both addresses (16 bytes and a
//	         length, 0, 4 or 16), first and last time, its number of
//	         records and where its records start
//	buckets  for each bucket of the address hash, where its entries start,
//	         and one more: the end
//	entries  per bucket, the numbers of the connections with an endpoint
//	         hashed there
//	records  offset and length of every record, grouped by connection,
//	         each connection's in file order
//
// A cut or an extract about a few addresses reads their buckets, then only
// their connections and records, a handful of small reads per segment;
// the records grouped per connection are one read each. Older versions are
// not read: the segment is scanned and its index written anew.
const (
	idxMagic    = "WFIDX\x00\x00\x03"
	idxHdrLen   = 8 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 8
	idxConnLen  = 1 + 2 + 2 + 17 + 17 + 8 + 8 + 4 + 4
	idxRecLen   = 8
	idxEntryLen = 4
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

// addrHash places an address, as addrWords gives it, in the index's
// address buckets.
func addrHash(w0, w1, seed uint64) uint64 {
	const p0, p1 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	return mix(mix(w0^p0, w1^seed), p1)
}

// grown returns s with length n, reusing its memory when it can.
func grown[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// writeTo writes the index to w. The grouping of records and the address
// buckets are counting sorts over memory the builder keeps from segment to
// segment.
func (x *idxBuilder) writeTo(w io.Writer) error {
	nc := len(x.order)
	// Records grouped by connection: starts[i] is where connection i's
	// records begin in grouped.
	x.starts = grown(x.starts, nc)
	var at uint32
	for i := range x.order {
		x.starts[i] = at
		at += x.order[i].n
	}
	x.grouped = grown(x.grouped, len(x.recs))
	for _, e := range x.recs {
		x.grouped[x.starts[e.conn]] = e.recRef
		x.starts[e.conn]++
	}
	for i := range x.order {
		x.starts[i] -= x.order[i].n
	}
	// Address buckets: each connection is listed under both endpoints
	// (once when they are the same address).
	nb := 1
	for nb < nc {
		nb <<= 1
	}
	mask := uint64(nb - 1)
	x.buckets = grown(x.buckets, nb+1)
	clear(x.buckets)
	x.forEachEndpoint(func(_ uint32, w0, w1 uint64) { x.buckets[addrHash(w0, w1, x.seed)&mask+1]++ })
	for b := 1; b <= nb; b++ {
		x.buckets[b] += x.buckets[b-1]
	}
	naddr := x.buckets[nb]
	x.entries = grown(x.entries, int(naddr))
	x.forEachEndpoint(func(conn uint32, w0, w1 uint64) {
		b := addrHash(w0, w1, x.seed) & mask
		x.entries[x.buckets[b]] = conn
		x.buckets[b]++
	})
	// Each bucket's cursor now sits at its end, the next one's start.
	copy(x.buckets[1:], x.buckets[:nb])
	x.buckets[0] = 0

	if x.bw == nil {
		x.bw = bufio.NewWriterSize(w, 256<<10)
		x.wbuf = make([]byte, 0, 64<<10)
	}
	bw := x.bw
	bw.Reset(w)
	defer bw.Reset(nil) // let the file go
	le := binary.LittleEndian
	b := x.wbuf[:0]
	flush := func(room int) {
		if len(b)+room > cap(b) {
			bw.Write(b)
			b = b[:0]
		}
	}
	b = append(b, idxMagic...)
	b = le.AppendUint64(b, uint64(x.size))
	b = le.AppendUint64(b, uint64(x.first))
	b = le.AppendUint64(b, uint64(x.last))
	b = le.AppendUint32(b, uint32(nc))
	b = le.AppendUint32(b, uint32(len(x.recs)))
	b = le.AppendUint32(b, uint32(nb))
	b = le.AppendUint32(b, naddr)
	b = le.AppendUint64(b, x.seed)
	for i := range x.order {
		flush(idxConnLen)
		c := &x.order[i]
		key := c.ck.connKey()
		b = append(b, key.proto)
		b = le.AppendUint16(b, key.pa)
		b = le.AppendUint16(b, key.pb)
		b = appendAddr(b, key.a)
		b = appendAddr(b, key.b)
		b = le.AppendUint64(b, uint64(c.first))
		b = le.AppendUint64(b, uint64(c.last))
		b = le.AppendUint32(b, c.n)
		b = le.AppendUint32(b, x.starts[i])
	}
	bw.Write(b)
	b = b[:0]
	// The arrays go out in buffer-sized chunks, stored word by word.
	for _, vs := range [][]uint32{x.buckets, x.entries} {
		for len(vs) > 0 {
			n := min(len(vs), cap(b)/4)
			b = b[:4*n]
			for i, v := range vs[:n] {
				le.PutUint32(b[4*i:], v)
			}
			bw.Write(b)
			vs = vs[n:]
		}
	}
	for rs := x.grouped; len(rs) > 0; {
		n := min(len(rs), cap(b)/idxRecLen)
		b = b[:idxRecLen*n]
		for i, r := range rs[:n] {
			le.PutUint32(b[idxRecLen*i:], r.off)
			le.PutUint32(b[idxRecLen*i+4:], r.n)
		}
		bw.Write(b)
		rs = rs[n:]
	}
	return bw.Flush()
}

// forEachEndpoint calls f with each connection's distinct endpoint
// addresses; a packet whose addresses could not be read has none.
func (x *idxBuilder) forEachEndpoint(f func(conn uint32, w0, w1 uint64)) {
	for i := range x.order {
		ck := &x.order[i].ck
		if *ck == (ckey{}) {
			continue
		}
		f(uint32(i), ck.a0, ck.a1)
		if ck.b0 != ck.a0 || ck.b1 != ck.a1 {
			f(uint32(i), ck.b0, ck.b1)
		}
	}
}

// idxHeader is an index file's header.
type idxHeader struct {
	size, first, last int64
	nc, nr, nb, naddr uint32
	seed              uint64
}

func (h *idxHeader) bucketsAt() int64 { return idxHdrLen + int64(h.nc)*idxConnLen }
func (h *idxHeader) entriesAt() int64 { return h.bucketsAt() + 4*(int64(h.nb)+1) }
func (h *idxHeader) recordsAt() int64 { return h.entriesAt() + idxEntryLen*int64(h.naddr) }
func (h *idxHeader) fileLen() int64   { return h.recordsAt() + idxRecLen*int64(h.nr) }

// openIndex opens an index file and checks its header against its length.
func openIndex(path string) (*os.File, idxHeader, error) {
	var h idxHeader
	f, err := os.Open(path)
	if err != nil {
		return nil, h, err
	}
	var b [idxHdrLen]byte
	info, err := f.Stat()
	if err == nil {
		_, err = f.ReadAt(b[:], 0)
	}
	if err != nil || string(b[:8]) != idxMagic {
		f.Close()
		return nil, h, fmt.Errorf("%s: %w", path, errBadIndex)
	}
	le := binary.LittleEndian
	h = idxHeader{
		size: int64(le.Uint64(b[8:])), first: int64(le.Uint64(b[16:])), last: int64(le.Uint64(b[24:])),
		nc: le.Uint32(b[32:]), nr: le.Uint32(b[36:]), nb: le.Uint32(b[40:]), naddr: le.Uint32(b[44:]),
		seed: le.Uint64(b[48:]),
	}
	switch {
	case int64(h.nr)*pcapRecordHeaderLen > h.size || h.nc > h.nr || h.naddr > 2*h.nc,
		h.nb == 0 || h.nb&(h.nb-1) != 0 || h.nb > 2*h.nc+1,
		h.fileLen() != info.Size():
		f.Close()
		return nil, h, fmt.Errorf("%s: %w: %d connections, %d records in %d bytes, %d index bytes", path, errBadIndex, h.nc, h.nr, h.size, info.Size())
	}
	return f, h, nil
}

// readIndexHeader reads what an index says about its segment: size and
// time span.
func readIndexHeader(path string) (idxHeader, error) {
	f, h, err := openIndex(path)
	if err != nil {
		return h, err
	}
	f.Close()
	return h, nil
}

// parseConn decodes one connection entry: the connection, its number of
// records and where they start.
func parseConn(ch []byte) (c *connRecs, n, start uint32) {
	le := binary.LittleEndian
	c = &connRecs{key: connKey{
		proto: ch[0],
		pa:    le.Uint16(ch[1:]),
		pb:    le.Uint16(ch[3:]),
		a:     readAddr(ch[5:22]),
		b:     readAddr(ch[22:39]),
	}}
	c.first = int64(le.Uint64(ch[39:]))
	c.last = int64(le.Uint64(ch[47:]))
	return c, le.Uint32(ch[55:]), le.Uint32(ch[59:])
}

func parseRecs(c *connRecs, b []byte) {
	le := binary.LittleEndian
	c.recs = make([]recRef, len(b)/idxRecLen)
	for i := range c.recs {
		c.recs[i] = recRef{le.Uint32(b[i*idxRecLen:]), le.Uint32(b[i*idxRecLen+4:])}
	}
}

// readIndex reads a whole index file. keep, when not nil, chooses the
// connections whose records are loaded; the others are skipped.
func readIndex(path string, keep func(*connRecs) bool) (*segIndex, error) {
	f, h, err := openIndex(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, idxHdrLen, h.fileLen()-idxHdrLen), 256<<10)
	x := &segIndex{first: h.first, last: h.last, size: h.size}
	type kept struct {
		c        *connRecs
		n, start uint32
	}
	var ks []kept
	var ch [idxConnLen]byte
	var at uint32
	for range h.nc {
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", path, errBadIndex, err)
		}
		c, n, start := parseConn(ch[:])
		if start != at || uint64(start)+uint64(n) > uint64(h.nr) {
			return nil, fmt.Errorf("%s: %w: records of connection %d", path, errBadIndex, len(ks))
		}
		at += n
		if keep == nil || keep(c) {
			ks = append(ks, kept{c, n, start})
		}
	}
	if len(ks) == 0 {
		return x, nil // nothing asked for: the records need not be read
	}
	if _, err := r.Discard(int(h.recordsAt() - h.bucketsAt())); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, errBadIndex, err)
	}
	var pos uint32
	var buf []byte
	for _, k := range ks {
		if _, err := r.Discard(int(k.start-pos) * idxRecLen); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", path, errBadIndex, err)
		}
		buf = grown(buf, int(k.n)*idxRecLen)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", path, errBadIndex, err)
		}
		parseRecs(k.c, buf)
		pos = k.start + k.n
		x.order = append(x.order, k.c)
	}
	return x, nil
}

// lookupIndex reads from an index file only the connections with an
// endpoint among addrs that keep accepts, with their records, through the
// address buckets: a few small reads per address and per connection.
func lookupIndex(path string, addrs []netip.Addr, keep func(*connRecs) bool) (*segIndex, error) {
	f, h, err := openIndex(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bad := func(what string, err error) error {
		return fmt.Errorf("%s: %w: %s: %w", path, errBadIndex, what, err)
	}
	le := binary.LittleEndian
	var conns []uint32
	var b []byte
	for _, a := range addrs {
		w0, w1 := addrWords(a)
		bk := int64(addrHash(w0, w1, h.seed) & uint64(h.nb-1))
		var se [8]byte
		if _, err := f.ReadAt(se[:], h.bucketsAt()+4*bk); err != nil {
			return nil, bad("bucket", err)
		}
		s, e := le.Uint32(se[:]), le.Uint32(se[4:])
		if s > e || e > h.naddr {
			return nil, bad("bucket", fmt.Errorf("entries %d..%d of %d", s, e, h.naddr))
		}
		b = grown(b, int(e-s)*idxEntryLen)
		if _, err := f.ReadAt(b, h.entriesAt()+idxEntryLen*int64(s)); err != nil {
			return nil, bad("entries", err)
		}
		for i := 0; i < len(b); i += idxEntryLen {
			conns = append(conns, le.Uint32(b[i:]))
		}
	}
	slices.Sort(conns)
	conns = slices.Compact(conns)
	x := &segIndex{first: h.first, last: h.last, size: h.size}
	var ch [idxConnLen]byte
	for _, i := range conns {
		if i >= h.nc {
			return nil, bad("entry", fmt.Errorf("connection %d of %d", i, h.nc))
		}
		if _, err := f.ReadAt(ch[:], idxHdrLen+idxConnLen*int64(i)); err != nil {
			return nil, bad("connection", err)
		}
		c, n, start := parseConn(ch[:])
		if uint64(start)+uint64(n) > uint64(h.nr) {
			return nil, bad("connection", fmt.Errorf("records %d+%d of %d", start, n, h.nr))
		}
		if !keep(c) {
			continue
		}
		b = grown(b, int(n)*idxRecLen)
		if _, err := f.ReadAt(b, h.recordsAt()+idxRecLen*int64(start)); err != nil {
			return nil, bad("records", err)
		}
		parseRecs(c, b)
		x.order = append(x.order, c)
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
