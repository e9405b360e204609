package archive

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/sirupsen/logrus"
)

// Cutting reads an alerted flow's records out of the spool, at the offsets
// the segments' indexes give, and writes one pcap per connection into the
// alert's folder. It runs on the caller of Archive, never on the writer
// goroutine, so logging goes on meanwhile. A segment the quota deletes
// while it is read is skipped.

// load returns the connections of g that sel accepts and that have packets
// in [since, until), with their records.
func (g *segRef) load(sel selector, since, until int64) ([]*connRecs, error) {
	if g.last < since || g.first >= until {
		return nil, nil
	}
	keep := func(c *connRecs) bool { return sel.match(c.key) && c.last >= since && c.first < until }
	if g.current {
		var out []*connRecs
		for _, c := range g.conns {
			if keep(c) {
				out = append(out, c)
			}
		}
		return out, nil
	}
	x, err := lookupIndex(idxPath(g.path), sel.addrs(), keep)
	if err != nil {
		// No usable index (it could not be written when the segment was
		// sealed): scan the segment instead.
		b, _, err := scanSegment(g.path)
		if err != nil {
			return nil, err
		}
		return b.snapshot(sel.raw, func(k connKey) bool { return sel.match(k) }), nil
	}
	var out []*connRecs
	for _, c := range x.order {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// cutter writes the pcaps of one archive.
type cutter struct {
	cfg  *Config
	hdr  fileHeader
	arch *archiveIndex
	st   *counters
	errs *errLog
	// scratch is the caller's; one cut at a time uses it.
	scratch *cutScratch
}

// cutRec is one record of a connection: which segment, where.
type cutRec struct {
	seg int
	ref recRef
}

// cutConn gathers one connection's records across segments, oldest first.
type cutConn struct {
	key  connKey
	recs []cutRec
}

// fill writes the archive's pcaps into dir: recent.pcap from the ring, and
// one set of files per connection from the spool.
func (c *cutter) fill(dir string, set archiveSet, sel selector, first netip.Addr, since, until int64) (paths []string, size int64, err error) {
	if set.ring != nil {
		p := filepath.Join(dir, recentFile)
		n := int64(len(set.ring))
		if werr := c.store(p, set.ring); werr != nil {
			c.st.packetsLost.Add(uint64(countRecords(set.ring)))
			err = errors.Join(err, werr)
		} else if n > 0 {
			paths = append(paths, p)
			size += n
		}
	}
	if len(set.segs) == 0 {
		return paths, size, err
	}
	// Gather each connection's records in spool order.
	var conns []*cutConn
	byKey := make(map[connKey]*cutConn)
	for i := range set.segs {
		cs, lerr := set.segs[i].load(sel, since, until)
		if lerr != nil {
			c.errs.report(errRead, lerr, logrus.Fields{"file": set.segs[i].path})
			continue
		}
		for _, cr := range cs {
			cc := byKey[cr.key]
			if cc == nil {
				cc = &cutConn{key: cr.key}
				byKey[cr.key] = cc
				conns = append(conns, cc)
			}
			for _, ref := range cr.recs {
				cc.recs = append(cc.recs, cutRec{i, ref})
			}
		}
	}
	rd := newSegReader(set.segs, c.hdr)
	defer rd.close()
	for _, cc := range conns {
		ps, n, cerr := c.cutConn(dir, rd, cc, first, since, until)
		paths = append(paths, ps...)
		size += n
		err = errors.Join(err, cerr)
	}
	slices.Sort(paths)
	return paths, size, err
}

// cutScratch is the memory one cut reuses from connection to connection
// and from archive to archive: the records read, where each sits, and the
// file being assembled. Reusing it keeps a run of alerts from leaving
// garbage the size of their evidence behind.
type cutScratch struct {
	recs  []byte
	spans []recSpan // newest first
	parts []int     // records per part, newest part first
	file  []byte
}

type recSpan struct{ start, n int }

// cutConn writes one connection's files: its records in [since, until),
// newest first into parts of at most partMax bytes, at most MaxRotations
// parts; then the parts are written oldest first, numbered from 1.
func (c *cutter) cutConn(dir string, rd *segReader, cc *cutConn, first netip.Addr, since, until int64) ([]string, int64, error) {
	partMax := c.cfg.partMax()
	s := c.scratch
	s.recs, s.spans, s.parts = s.recs[:0], s.spans[:0], s.parts[:0]
	var curN int
	var curSize int64
	for i := len(cc.recs) - 1; i >= 0; i-- {
		start := len(s.recs)
		var ts int64
		var rerr error
		s.recs, ts, rerr = rd.readInto(s.recs, cc.recs[i])
		if rerr != nil {
			c.errs.report(errRead, rerr, logrus.Fields{"file": rd.segs[cc.recs[i].seg].path})
			continue
		}
		if ts < since || ts >= until {
			s.recs = s.recs[:start]
			continue
		}
		n := int64(len(s.recs) - start)
		if curN > 0 && pcapHeaderLen+curSize+n > partMax {
			s.parts = append(s.parts, curN)
			curN, curSize = 0, 0
			if len(s.parts) == c.cfg.MaxRotations {
				// Older packets would make one file too many.
				c.st.rotationDrops.Add(uint64(i + 1))
				s.recs = s.recs[:start]
				break
			}
		}
		s.spans = append(s.spans, recSpan{start, int(n)})
		curN++
		curSize += n
	}
	if curN > 0 && len(s.parts) < c.cfg.MaxRotations {
		s.parts = append(s.parts, curN)
	}
	if len(s.parts) == 0 {
		return nil, 0, nil
	}
	k := cc.key
	a, pa, b, pb := k.a, k.pa, k.b, k.pb
	if b == first {
		a, pa, b, pb = b, pb, a, pa
	}
	base := baseName(k.proto, a, pa, b, pb)
	var paths []string
	var size int64
	var err error
	// The oldest part holds the last spans; each part's spans run newest
	// first, so they are copied in reverse.
	end := len(s.spans)
	for i := range s.parts {
		n := s.parts[len(s.parts)-1-i]
		s.file = c.hdr.appendHeader(s.file[:0])
		for j := end - 1; j >= end-n; j-- {
			sp := s.spans[j]
			s.file = append(s.file, s.recs[sp.start:sp.start+sp.n]...)
		}
		end -= n
		p := filepath.Join(dir, partName(base, uint64(i+1)))
		if werr := c.store(p, s.file); werr != nil {
			c.st.packetsLost.Add(uint64(n))
			err = errors.Join(err, werr)
			continue
		}
		paths = append(paths, p)
		size += int64(len(s.file))
	}
	return paths, size, err
}

// store writes one archive file within the archive quota.
func (c *cutter) store(path string, data []byte) error {
	n := int64(len(data))
	if !c.arch.reserve(n) {
		c.st.archiveQuotaDropped.Add(1)
		return fmt.Errorf("%s: %d bytes do not fit -archive_quota_mb", path, n)
	}
	if err := os.WriteFile(path, data, fileMode); err != nil {
		os.Remove(path)
		c.arch.release(n)
		c.errs.report(errArchiveWrite, err, logrus.Fields{"file": path})
		return err
	}
	return nil
}

// countRecords counts the records of a pcap held in memory.
func countRecords(b []byte) int {
	h, err := parseSegHeader(b)
	if err != nil {
		return 0
	}
	n := 0
	for off := pcapHeaderLen; off+pcapRecordHeaderLen <= len(b); n++ {
		_, incl, _ := h.parseRecordHeader(b[off:])
		off += pcapRecordHeaderLen + incl
	}
	return n
}

// segReader reads single records from the segments of an archive set,
// opening each file once.
type segReader struct {
	segs  []segRef
	out   fileHeader
	files []*os.File
	hdrs  []segHeader
	errs  []error
	buf   []byte
}

func newSegReader(segs []segRef, out fileHeader) *segReader {
	return &segReader{segs: segs, out: out, files: make([]*os.File, len(segs)), hdrs: make([]segHeader, len(segs)), errs: make([]error, len(segs))}
}

// errOtherLink marks a segment written with another link type (an earlier
// run on another interface): its records cannot share a file with ours.
var errOtherLink = errors.New("segment has another link type")

func (r *segReader) file(i int) (*os.File, segHeader, error) {
	if r.files[i] == nil && r.errs[i] == nil {
		f, err := os.Open(r.segs[i].path)
		if err == nil {
			var hb [pcapHeaderLen]byte
			if _, err = f.ReadAt(hb[:], 0); err == nil {
				r.hdrs[i], err = parseSegHeader(hb[:])
			}
			if err == nil && fileLinkType(r.hdrs[i].linkType) != fileLinkType(r.out.linkType) {
				err = fmt.Errorf("%s: %w", r.segs[i].path, errOtherLink)
			}
			if err != nil {
				f.Close()
				f = nil
			}
		}
		r.files[i], r.errs[i] = f, err
	}
	return r.files[i], r.hdrs[i], r.errs[i]
}

// readInto appends one record to dst, re-encoded for the output header if
// the segment's byte order or time resolution differs, and returns it with
// the record's time. On error dst comes back as it was.
func (r *segReader) readInto(dst []byte, cr cutRec) ([]byte, int64, error) {
	f, h, err := r.file(cr.seg)
	if err != nil {
		return dst, 0, err
	}
	at := len(dst)
	dst = slices.Grow(dst, int(cr.ref.n))[:at+int(cr.ref.n)]
	b := dst[at:]
	if _, err := f.ReadAt(b, int64(cr.ref.off)); err != nil {
		return dst[:at], 0, fmt.Errorf("%s at %d: %w", r.segs[cr.seg].path, cr.ref.off, err)
	}
	ts, incl, orig := h.parseRecordHeader(b)
	if pcapRecordHeaderLen+incl != len(b) {
		return dst[:at], 0, fmt.Errorf("%s at %d: record of %d bytes, index says %d", r.segs[cr.seg].path, cr.ref.off, pcapRecordHeaderLen+incl, len(b))
	}
	if h.nano != r.out.nano || h.order.Uint32([]byte{1, 0, 0, 0}) != 1 {
		re := r.out.appendRecord(nil, ts, b[pcapRecordHeaderLen:], uint32(orig))
		dst = append(dst[:at], re...)
	}
	return dst, ts, nil
}

func (r *segReader) close() {
	for _, f := range r.files {
		if f != nil {
			f.Close()
		}
	}
}
