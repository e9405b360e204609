package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
// chained per connection in one array reused from segment to segment, so
// a packet costs one map lookup and no allocation once the arrays have
// grown.
type idxBuilder struct {
	conns       map[ckey]int32
	order       []connState
	chain       []recEntry
	first, last int64
	size        int64 // segment bytes indexed
	mem         int64 // bytes of memory the index holds, roughly
}

type connState struct {
	key         connKey
	first, last int64
	head, tail  int32
	n           int32
}

type recEntry struct {
	recRef
	next int32
}

// Memory the index counts per connection (map entry and state) and per
// record.
const (
	idxConnMem = 128
	idxRecMem  = 12
)

func newIdxBuilder() *idxBuilder {
	return &idxBuilder{conns: make(map[ckey]int32)}
}

// reset empties x for the next segment, keeping its memory.
func (x *idxBuilder) reset() {
	clear(x.conns)
	x.order = x.order[:0]
	x.chain = x.chain[:0]
	x.first, x.last, x.size, x.mem = 0, 0, 0, 0
}

// add notes one record of connection k.
func (x *idxBuilder) add(k ckey, ts int64, off, n uint32) {
	i, ok := x.conns[k]
	if !ok {
		i = int32(len(x.order))
		x.order = append(x.order, connState{key: k.connKey(), first: ts, last: ts, head: -1, tail: -1})
		x.conns[k] = i
		x.mem += idxConnMem
	}
	c := &x.order[i]
	c.first, c.last = min(c.first, ts), max(c.last, ts)
	if len(x.chain) == 0 {
		x.first, x.last = ts, ts
	} else {
		x.first, x.last = min(x.first, ts), max(x.last, ts)
	}
	e := int32(len(x.chain))
	x.chain = append(x.chain, recEntry{recRef{off, n}, -1})
	if c.tail >= 0 {
		x.chain[c.tail].next = e
	} else {
		c.head = e
	}
	c.tail = e
	c.n++
	x.mem += idxRecMem
}

// recs returns a copy of c's records.
func (x *idxBuilder) recs(c *connState) []recRef {
	out := make([]recRef, 0, c.n)
	for e := c.head; e >= 0; e = x.chain[e].next {
		out = append(out, x.chain[e].recRef)
	}
	return out
}

// snapshot copies the connections match accepts, with their records.
func (x *idxBuilder) snapshot(match func(connKey) bool) []*connRecs {
	var out []*connRecs
	for i := range x.order {
		c := &x.order[i]
		if match(c.key) {
			out = append(out, &connRecs{key: c.key, first: c.first, last: c.last, recs: x.recs(c)})
		}
	}
	return out
}

// Index file layout, little endian: magic, version, the segment size it
// covers, first and last packet time, the number of connections; then per
// connection: proto, ports, both addresses (16 bytes and a length, 0, 4 or
// 16), first and last time, the number of records and each record's offset
// and length.
const (
	idxMagic   = "WFIDX\x00\x00\x01"
	idxHdrLen  = 8 + 8 + 8 + 8 + 4
	idxConnLen = 1 + 2 + 2 + 17 + 17 + 8 + 8 + 4
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
	var b []byte
	b = append(b, idxMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(x.size))
	b = binary.LittleEndian.AppendUint64(b, uint64(x.first))
	b = binary.LittleEndian.AppendUint64(b, uint64(x.last))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(x.order)))
	bw.Write(b)
	for i := range x.order {
		c := &x.order[i]
		b = b[:0]
		b = append(b, c.key.proto)
		b = binary.LittleEndian.AppendUint16(b, c.key.pa)
		b = binary.LittleEndian.AppendUint16(b, c.key.pb)
		b = appendAddr(b, c.key.a)
		b = appendAddr(b, c.key.b)
		b = binary.LittleEndian.AppendUint64(b, uint64(c.first))
		b = binary.LittleEndian.AppendUint64(b, uint64(c.last))
		b = binary.LittleEndian.AppendUint32(b, uint32(c.n))
		at := len(b)
		b = slices.Grow(b, int(c.n)*8)[:at+int(c.n)*8]
		for e := c.head; e >= 0; e = x.chain[e].next {
			binary.LittleEndian.PutUint32(b[at:], x.chain[e].off)
			binary.LittleEndian.PutUint32(b[at+4:], x.chain[e].n)
			at += 8
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
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
	n := binary.LittleEndian.Uint32(h[32:])
	var ch [idxConnLen]byte
	for range n {
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
		m := int(binary.LittleEndian.Uint32(ch[55:]))
		if int64(m)*pcapRecordHeaderLen > x.size {
			return nil, fmt.Errorf("%s: %w: %d records in %d bytes", path, errBadIndex, m, x.size)
		}
		if keep != nil && !keep(c) {
			if _, err := r.Discard(m * 8); err != nil {
				return nil, fmt.Errorf("%s: %w: %w", path, errBadIndex, err)
			}
			continue
		}
		c.recs = make([]recRef, m)
		var rb [8]byte
		for i := range c.recs {
			if _, err := io.ReadFull(r, rb[:]); err != nil {
				return nil, fmt.Errorf("%s: %w: %w", path, errBadIndex, err)
			}
			c.recs[i] = recRef{binary.LittleEndian.Uint32(rb[:]), binary.LittleEndian.Uint32(rb[4:])}
		}
		x.conns[c.key] = c
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
