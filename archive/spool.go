package archive

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// File modes: evidence holds other people's traffic, so it is readable by
// the owner and its group only.
const (
	fileMode = 0o640
	dirMode  = 0o750
)

// Segment files in -l: seg-<number>.pcap and its index seg-<number>.idx.
// Numbers count up across runs, so the oldest segment has the lowest.
const (
	segPrefix = "seg-"
	segExt    = ".pcap"
	idxExt    = ".idx"
)

// openRetry is how long the spool rests after it could not create a
// segment, so a full disk or a read-only -l costs one failed system call a
// second, not one per batch.
const openRetry = time.Second

func segName(seq uint64) string { return fmt.Sprintf("%s%012d%s", segPrefix, seq, segExt) }

// parseSegName returns a segment file's number.
func parseSegName(name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, segPrefix)
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, segExt)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

func idxPath(segPath string) string { return strings.TrimSuffix(segPath, segExt) + idxExt }

// segInfo is a sealed segment.
type segInfo struct {
	seq         uint64
	path        string
	size        int64 // segment and index
	first, last int64 // packet time, ns
}

// spool appends every tapped packet to the current segment in -l, indexes
// it, seals segments at SegmentMB (or when the index reaches IndexMB) and
// holds -l under LogDirQuotaMB by deleting the oldest segments. Its disk
// stage runs on the recorder's disk goroutine, its index stage on the
// index goroutine; cuts read the list of segments under mu.
type spool struct {
	cfg  *Config
	hdr  fileHeader
	st   *counters
	errs *errLog
	log  *logrus.Logger

	segMax, idxMax, quota int64

	// Index stage.
	mu      sync.Mutex // guards sealed, used, idxPath and idxSize for Stats and cuts
	sealed  []segInfo  // oldest first
	used    int64      // sealed segments and indexes
	idx     *idxBuilder
	idxPath string // the segment being indexed; "" between segments
	idxSize int64  // its bytes indexed so far
	// sealSoon asks the disk stage to seal: the index is at its memory.
	sealSoon atomic.Bool

	// Disk stage.
	nextSeq uint64
	cur     *os.File
	curPath string
	curSize int64
	retryAt time.Time
}

func newSpool(cfg *Config, hdr fileHeader, st *counters, errs *errLog, log *logrus.Logger) *spool {
	s := &spool{
		cfg: cfg, hdr: hdr, st: st, errs: errs, log: log,
		segMax:  int64(cfg.SegmentMB) * mib,
		idxMax:  int64(cfg.IndexMB) * mib,
		quota:   int64(cfg.LogDirQuotaMB) * mib,
		nextSeq: 1,
		idx:     newIdxBuilder(),
	}
	s.recover()
	return s
}

// recover takes over the segments an earlier run left: a segment cut by a
// crash is trimmed after its last whole record, a missing or stale index is
// rebuilt by scanning, and the quota applies to them at once. Nothing here
// fails the start: what cannot be read is logged, counted and left alone.
func (s *spool) recover() {
	ents, err := os.ReadDir(s.cfg.LogDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.errs.report(errRecover, err, logrus.Fields{"dir": s.cfg.LogDir})
		}
		return
	}
	var trimmed, rebuilt int
	for _, e := range ents {
		seq, ok := parseSegName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		s.nextSeq = max(s.nextSeq, seq+1)
		path := filepath.Join(s.cfg.LogDir, e.Name())
		info, err := e.Info()
		if err != nil {
			s.errs.report(errRecover, err, logrus.Fields{"file": path})
			continue
		}
		if info.Size() < pcapHeaderLen {
			// A crash between creating the segment and writing its
			// header: it holds no packet.
			if err := os.Remove(path); err != nil {
				s.errs.report(errRecover, err, logrus.Fields{"file": path})
			} else {
				trimmed++
				s.log.WithField("file", path).Warn("archive: removed a spool segment cut before its header")
			}
			continue
		}
		var first, last, size int64
		x, err := readIndexHeader(idxPath(path))
		if err == nil {
			first, last, size = x.first, x.last, x.size
		}
		if err != nil || size != info.Size() {
			// No index (a crash before the seal) or one that does not
			// match: scan the segment, which also finds a cut record.
			b, _, err := scanSegment(path)
			if err != nil {
				s.errs.report(errRecover, err, logrus.Fields{"file": path})
				continue
			}
			first, last, size = b.first, b.last, b.size
			if b.size < info.Size() {
				if err := os.Truncate(path, b.size); err != nil {
					s.errs.report(errRecover, err, logrus.Fields{"file": path})
					continue
				}
				trimmed++
				s.log.WithFields(logrus.Fields{"file": path, "bytes": info.Size() - b.size}).Warn("archive: cut a partial last record from a spool segment")
			}
			if err := writeFileAtomic(idxPath(path), b.writeTo); err != nil {
				s.errs.report(errRecover, err, logrus.Fields{"file": idxPath(path)})
			}
			rebuilt++
		}
		s.sealed = append(s.sealed, segInfo{seq: seq, path: path, size: size + fileSize(idxPath(path)), first: first, last: last})
	}
	slices.SortFunc(s.sealed, func(a, b segInfo) int { return cmp.Compare(a.seq, b.seq) })
	for _, g := range s.sealed {
		s.used += g.size
	}
	s.st.recoveredSegments.Add(uint64(len(s.sealed)))
	if len(s.sealed) > 0 {
		s.log.WithFields(logrus.Fields{"segments": len(s.sealed), "trimmed": trimmed, "indexed": rebuilt, "dir": s.cfg.LogDir}).Info("archive: took over the spool of an earlier run")
	}
	s.enforceQuota()
	s.publish()
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// The spool works in two stages, each on a goroutine of its own so that
// the file writes and the indexing overlap: the disk stage (diskWrite,
// open, diskSeal) appends each batch's records to the current segment and
// notes in the batch what reached the disk; the index stage (apply) indexes
// exactly that, writes a sealed segment's index and applies the quota.

// Spool events, in the order the disk stage produced them.
const (
	evOpen = iota // a segment was started: path
	evRun         // entries [from, to) were written at off
	evSeal        // the segment at path was closed at size bytes
)

type spoolEvent struct {
	kind     uint8
	from, to int
	off      int64
	path     string
}

// diskWrite appends a batch's records, in as few writes as segment
// boundaries allow, and notes each run written in b.ev. Disk stage.
func (s *spool) diskWrite(b *batch) {
	if s.sealSoon.Swap(false) && s.cur != nil {
		// The index would outgrow its memory: seal early, counted.
		s.st.indexSeals.Add(1)
		s.diskSeal(b)
	}
	i := 0
	for i < len(b.ents) {
		if s.cur == nil && !s.open(b) {
			s.st.packetsLost.Add(uint64(len(b.ents) - i))
			return
		}
		// The run of records that fits the current segment; a segment
		// always takes at least one record.
		start, size := i, s.curSize
		for ; i < len(b.ents); i++ {
			n := recordLen(int(b.ents[i].n))
			if size+n > s.segMax && size > pcapHeaderLen {
				break
			}
			size += n
		}
		from := b.ents[start].off
		end := uint32(len(b.arena))
		if i < len(b.ents) {
			end = b.ents[i].off
		}
		if s.writeRun(b, start, i, from, end) && i < len(b.ents) {
			s.diskSeal(b)
		}
	}
}

// writeRun writes records [start, end) of b, arena bytes [from, to); on
// failure they are counted lost and the segment is cut back to its last
// whole record, so it stays a valid pcap. Disk stage.
func (s *spool) writeRun(b *batch, start, end int, from, to uint32) bool {
	n, err := s.cur.Write(b.arena[from:to])
	if err != nil {
		s.errs.report(errWrite, err, logrus.Fields{"file": s.curPath})
		s.st.packetsLost.Add(uint64(end - start))
		if n > 0 {
			if terr := s.cur.Truncate(s.curSize); terr != nil {
				s.errs.report(errWrite, terr, logrus.Fields{"file": s.curPath})
			}
			if _, serr := s.cur.Seek(s.curSize, 0); serr != nil {
				s.errs.report(errWrite, serr, logrus.Fields{"file": s.curPath})
			}
		}
		return false
	}
	b.ev = append(b.ev, spoolEvent{kind: evRun, from: start, to: end, off: s.curSize})
	s.curSize += int64(to - from)
	s.st.packetsWritten.Add(uint64(end - start))
	s.st.bytesWritten.Add(uint64(to - from))
	return true
}

// open starts the next segment; false while -l is unusable. Disk stage.
func (s *spool) open(b *batch) bool {
	now := time.Now()
	if now.Before(s.retryAt) {
		return false
	}
	if err := os.MkdirAll(s.cfg.LogDir, dirMode); err != nil {
		s.errs.report(errOpen, err, logrus.Fields{"dir": s.cfg.LogDir})
		s.retryAt = now.Add(openRetry)
		return false
	}
	path := filepath.Join(s.cfg.LogDir, segName(s.nextSeq))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		s.errs.report(errOpen, err, logrus.Fields{"file": path})
		s.retryAt = now.Add(openRetry)
		if errors.Is(err, fs.ErrExist) {
			s.nextSeq++ // someone else's file: never write over it
		}
		return false
	}
	if _, err := f.Write(s.hdr.appendHeader(nil)); err != nil {
		s.errs.report(errWrite, err, logrus.Fields{"file": path})
		f.Close()
		os.Remove(path)
		s.retryAt = now.Add(openRetry)
		return false
	}
	s.nextSeq++
	s.cur, s.curPath, s.curSize = f, path, pcapHeaderLen
	s.st.segmentsCreated.Add(1)
	b.ev = append(b.ev, spoolEvent{kind: evOpen, path: path})
	return true
}

// diskSeal closes the current segment. Disk stage.
func (s *spool) diskSeal(b *batch) {
	if s.cur == nil {
		return
	}
	if err := s.cur.Close(); err != nil {
		s.errs.report(errWrite, err, logrus.Fields{"file": s.curPath})
	}
	b.ev = append(b.ev, spoolEvent{kind: evSeal, path: s.curPath, off: s.curSize})
	s.cur, s.curPath, s.curSize = nil, "", 0
}

// apply indexes what the disk stage wrote of b, and seals. Index stage.
func (s *spool) apply(b *batch) {
	for _, ev := range b.ev {
		switch ev.kind {
		case evOpen:
			s.idx.reset()
			s.mu.Lock()
			s.idxPath, s.idxSize = ev.path, pcapHeaderLen
			s.mu.Unlock()
		case evRun:
			off := ev.off
			for j := ev.from; j < ev.to; j++ {
				e := &b.ents[j]
				rn := recordLen(int(e.n))
				s.idx.add(e.key(), e.ts, uint32(off), uint32(rn))
				off += rn
			}
			s.idxSize = off
		case evSeal:
			s.seal(ev.path, ev.off)
		}
	}
	b.ev = b.ev[:0]
	if s.idxPath != "" && s.idx.mem >= s.idxMax {
		s.sealSoon.Store(true)
	}
	s.enforceQuota()
}

// seal writes the index of the segment just closed beside it. Index
// stage.
func (s *spool) seal(path string, size int64) {
	s.idx.size = size
	ip := idxPath(path)
	var isize int64
	if err := writeFileAtomic(ip, s.idx.writeTo); err != nil {
		// The next start rebuilds it by scanning; a cut scans it now.
		s.errs.report(errWrite, err, logrus.Fields{"file": ip})
	} else {
		isize = fileSize(ip)
	}
	seq, _ := parseSegName(filepath.Base(path))
	g := segInfo{seq: seq, path: path, size: size + isize, first: s.idx.first, last: s.idx.last}
	s.mu.Lock()
	s.sealed = append(s.sealed, g)
	s.used += g.size
	s.idxPath, s.idxSize = "", 0
	s.mu.Unlock()
	s.idx.reset()
}

// enforceQuota deletes the oldest sealed segments while -l holds more than
// the quota. Index stage.
func (s *spool) enforceQuota() {
	for {
		s.mu.Lock()
		if s.used+s.idxSize <= s.quota || len(s.sealed) == 0 {
			s.mu.Unlock()
			break
		}
		g := s.sealed[0]
		s.sealed = s.sealed[1:]
		s.used -= g.size
		s.mu.Unlock()
		for _, p := range []string{g.path, idxPath(g.path)} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.errs.report(errRemove, err, logrus.Fields{"file": p})
			}
		}
		s.st.quotaDeletions.Add(1)
	}
	s.publish()
}

func (s *spool) publish() {
	s.mu.Lock()
	s.st.logDirBytes.Store(s.used + s.idxSize)
	s.st.segments.Store(int64(len(s.sealed)))
	s.mu.Unlock()
	s.st.indexBytes.Store(s.idx.mem)
}

// segRef is one segment a cut reads: sealed ones by their index file, the
// current one by the records the writer selected.
type segRef struct {
	path        string
	first, last int64
	current     bool
	conns       []*connRecs // current segment only: copies
}

// sealedSegments lists the sealed segments, oldest first.
func (s *spool) sealedSegments() []segRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]segRef, 0, len(s.sealed)+1)
	for _, g := range s.sealed {
		out = append(out, segRef{path: g.path, first: g.first, last: g.last})
	}
	return out
}

// selectCurrent copies what the current segment's index holds for the
// connections match accepts. Index stage.
func (s *spool) selectCurrent(pre func(*ckey) bool, match func(connKey) bool) (segRef, bool) {
	if s.idxPath == "" {
		return segRef{}, false
	}
	ref := segRef{path: s.idxPath, first: s.idx.first, last: s.idx.last, current: true}
	ref.conns = s.idx.snapshot(pre, match)
	return ref, true
}
