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
// array reused from segment to segment: a packet costs one map lookup and
// one sequential append, and the index is written out as it stands.
type idxBuilder struct {
	conns       map[ckey]uint32
	order       []connState
	recs        []recEntry // file order
	first, last int64
	size        int64 // segment bytes indexed
	mem         int64 // bytes of memory the index holds, roughly
}

type connState struct {
	key         connKey
	first, last int64
	n           uint32
}

type recEntry struct {
	conn uint32
	recRef
}

// Memory the index counts per connection (map entry and state) and per
// record.
const (
	idxConnMem = 128
	idxRecMem  = 12
)

func newIdxBuilder() *idxBuilder {
	return &idxBuilder{conns: make(map[ckey]uint32)}
}

// reset empties x for the next segment, keeping its memory.
func (x *idxBuilder) reset() {
	clear(x.conns)
	x.order = x.order[:0]
	x.recs = x.recs[:0]
	x.first, x.last, x.size, x.mem = 0, 0, 0, 0
}

// add notes one record of connection k.
func (x *idxBuilder) add(k ckey, ts int64, off, n uint32) {
	i, ok := x.conns[k]
	if !ok {
		i = uint32(len(x.order))
		x.order = append(x.order, connState{key: k.connKey(), first: ts, last: ts})
		x.conns[k] = i
		x.mem += idxConnMem
	}
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
		if match(c.key) {
			cr := &connRecs{key: c.key, first: c.first, last: c.last, recs: make([]recRef, 0, c.n)}
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
		b = append(b, c.key.proto)
		b = binary.LittleEndian.AppendUint16(b, c.key.pa)
		b = binary.LittleEndian.AppendUint16(b, c.key.pb)
		b = appendAddr(b, c.key.a)
		b = appendAddr(b, c.key.b)
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
