package archive

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
)

// Query selects spool records for Extract.
type Query struct {
	// Dir is the spool directory (-l).
	Dir string
	// Filter is a BPF expression, as tcpdump takes; empty matches all.
	Filter string
	// From and To bound packet time: From <= t < To; a zero bound is open.
	From, To time.Time
}

// ExtractStats says what Extract did.
type ExtractStats struct {
	Segments int // segments with packets in the time range
	Indexed  int // of them, read through their index (only the named addresses' records)
	Scanned  int // of them, read whole
	Skipped  int // unreadable, or of another link type than the first
	Packets  int // records written
}

// Extract writes to w, as one pcap file, the spool records in q.Dir that
// match q.Filter within q's time range, oldest segment first. When the
// filter can only match packets of certain addresses (host 10.0.0.5,
// src net 10.1.0.0/16 and port 443 ...), a sealed segment is read through
// its index: only those addresses' records. It works beside a running
// daemon: the segment being written is read up to its last whole record,
// and one the quota deletes meanwhile is skipped.
func Extract(ctx context.Context, q Query, w io.Writer) (ExtractStats, error) {
	var st ExtractStats
	segs, err := listSegments(q.Dir)
	if err != nil {
		return st, err
	}
	if len(segs) == 0 {
		return st, fmt.Errorf("archive: %s: no spool segments (%s*%s)", q.Dir, segPrefix, segExt)
	}
	from, to := int64(-1<<63), int64(1<<63-1)
	if !q.From.IsZero() {
		from = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		to = q.To.UnixNano()
	}
	prefixes := filterPrefixes(q.Filter)
	bw := bufio.NewWriterSize(w, 1<<20)
	var out *fileHeader
	var bpf *pcap.BPF
	for _, path := range segs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		f, err := os.Open(path)
		if err != nil {
			st.Skipped++ // deleted by the quota since the listing
			continue
		}
		h, err := readSegHeader(io.NewSectionReader(f, 0, pcapHeaderLen))
		if err != nil || out != nil && fileLinkType(h.linkType) != fileLinkType(out.linkType) {
			f.Close()
			st.Skipped++
			continue
		}
		if out == nil {
			fh := h.fileHeader()
			out = &fh
			if _, err := bw.Write(out.appendHeader(nil)); err != nil {
				f.Close()
				return st, err
			}
			if q.Filter != "" {
				bpf, err = pcap.NewBPF(layers.LinkType(fileLinkType(h.linkType)), max(h.snaplen, 65535), q.Filter)
				if err != nil {
					f.Close()
					return st, fmt.Errorf("archive: filter %q: %w", q.Filter, err)
				}
			}
		}
		e := extractor{f: f, h: h, out: out, bpf: bpf, from: from, to: to, w: bw}
		var x *segIndex
		keep := func(c *connRecs) bool {
			return c.last >= from && c.first < to && (inPrefixes(c.key.a, prefixes) || inPrefixes(c.key.b, prefixes))
		}
		switch hosts := prefixHosts(prefixes); {
		case prefixes == nil:
			var h idxHeader
			if h, err = readIndexHeader(idxPath(path)); err == nil {
				x = &segIndex{first: h.first, last: h.last, size: h.size}
			}
		case hosts != nil:
			// Single addresses: their buckets name their connections.
			x, err = lookupIndex(idxPath(path), hosts, keep)
		default:
			x, err = readIndex(idxPath(path), keep)
		}
		switch {
		case err == nil && (x.last < from || x.first >= to):
			// Sealed and wholly outside the range.
		case err == nil && prefixes != nil:
			st.Segments++
			st.Indexed++
			err = e.indexed(x)
		default:
			// The segment being written, or one without its index.
			st.Segments++
			st.Scanned++
			err = e.scan()
		}
		f.Close()
		st.Packets += e.n
		if err != nil {
			return st, err
		}
	}
	return st, bw.Flush()
}

// listSegments returns the spool segments in dir, oldest first.
func listSegments(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("archive: spool: %w", err)
	}
	type seg struct {
		seq  uint64
		path string
	}
	var segs []seg
	for _, e := range ents {
		if n, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			segs = append(segs, seg{n, filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(segs, func(a, b seg) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.path
	}
	return out, nil
}

// extractor copies the matching records of one segment.
type extractor struct {
	f        *os.File
	h        segHeader
	out      *fileHeader
	bpf      *pcap.BPF
	from, to int64
	w        *bufio.Writer
	n        int
	buf      []byte
}

// emit writes one record (header and data) if it matches.
func (e *extractor) emit(rec []byte) error {
	ts, incl, orig := e.h.parseRecordHeader(rec)
	if ts < e.from || ts >= e.to {
		return nil
	}
	data := rec[pcapRecordHeaderLen : pcapRecordHeaderLen+incl]
	if e.bpf != nil {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: incl, Length: orig}
		if !e.bpf.Matches(ci, data) {
			return nil
		}
	}
	e.n++
	if e.h.nano == e.out.nano && e.h.order.Uint32([]byte{1, 0, 0, 0}) == 1 {
		_, err := e.w.Write(rec[:pcapRecordHeaderLen+incl])
		return err
	}
	e.buf = e.out.appendRecord(e.buf[:0], ts, data, uint32(orig))
	_, err := e.w.Write(e.buf)
	return err
}

// scan reads the whole segment, up to its last whole record.
func (e *extractor) scan() error {
	r := bufio.NewReaderSize(io.NewSectionReader(e.f, pcapHeaderLen, 1<<62), 1<<20)
	var rec []byte
	for {
		hdr, err := r.Peek(pcapRecordHeaderLen)
		if err != nil {
			return nil
		}
		_, incl, _ := e.h.parseRecordHeader(hdr)
		if incl > maxSnaplen {
			return nil
		}
		n := pcapRecordHeaderLen + incl
		if cap(rec) < n {
			rec = make([]byte, n)
		}
		rec = rec[:n]
		if _, err := io.ReadFull(r, rec); err != nil {
			return nil // a record still being written
		}
		if err := e.emit(rec); err != nil {
			return err
		}
	}
}

// indexed reads only the records x lists, in file order.
func (e *extractor) indexed(x *segIndex) error {
	var refs []recRef
	for _, c := range x.order {
		refs = append(refs, c.recs...)
	}
	slices.SortFunc(refs, func(a, b recRef) int { return cmp.Compare(a.off, b.off) })
	var rec []byte
	for _, ref := range refs {
		if cap(rec) < int(ref.n) {
			rec = make([]byte, ref.n)
		}
		rec = rec[:ref.n]
		if _, err := e.f.ReadAt(rec, int64(ref.off)); err != nil {
			return fmt.Errorf("archive: %s at %d: %w", e.f.Name(), ref.off, err)
		}
		if _, incl, _ := e.h.parseRecordHeader(rec); pcapRecordHeaderLen+incl != len(rec) {
			return fmt.Errorf("archive: %s at %d: %w", e.f.Name(), ref.off, errBadIndex)
		}
		if err := e.emit(rec); err != nil {
			return err
		}
	}
	return nil
}

// prefixHosts returns the addresses of ps when each is a single address,
// else nil.
func prefixHosts(ps []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, p := range ps {
		if !p.IsSingleIP() {
			return nil
		}
		out = append(out, p.Addr().Unmap())
	}
	return out
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
