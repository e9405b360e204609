package archive

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Stats is a snapshot of the recorder's counters. Counts only grow; gauges
// (Segments, LogDirBytes, IndexBytes, ArchiveBytes, Ring*) say what holds
// now.
type Stats struct {
	PacketsWritten uint64 // records written to the spool in -l
	BytesWritten   uint64 // bytes of those records, headers included
	PacketsDropped uint64 // refused by Tap because the writer queue was full
	// PacketsLost were meant for a file and did not reach it: a spool
	// segment could not be created or written (-l full, read-only or
	// gone), or an alert's evidence could not be stored in -archive_dir.
	PacketsLost uint64

	SegmentsCreated   uint64 // spool segments started by this run
	Segments          int    // sealed segments in -l now
	RecoveredSegments uint64 // segments of an earlier run taken over at start
	IndexSeals        uint64 // segments sealed early because their index reached -archive_index_mb
	IndexBytes        int64  // memory of the current segment's index
	QuotaDeletions    uint64 // segments deleted to stay under -archive_log_quota_mb
	LogDirBytes       int64  // bytes of the spool in -l

	Archives      uint64 // Archive calls that stored something
	ArchivedFiles uint64 // pcap files stored in -archive_dir
	// ArchivesFailed are alerts whose evidence could not be stored: the
	// folder or its files could not be written (its packets are counted
	// in PacketsLost).
	ArchivesFailed uint64
	// RotationDrops are older records of an archived connection left out
	// to stay within -max_pcap_rotations files of -max_pcap_log_size.
	RotationDrops         uint64
	ArchiveBytes          int64  // bytes in -archive_dir's alert folders
	ArchiveQuotaDeletions uint64 // old alert folders deleted for -archive_quota_mb
	ArchiveQuotaDropped   uint64 // files not archived because they did not fit the quota

	RingBytes     int64  // flight recorder memory in use
	RingFlows     int    // address pairs with packets in the ring
	RingEvictions uint64 // ring chunks taken from the least recently active pairs

	// Errors counts failures by kind: "open", "write", "read", "remove",
	// "mkdir", "archive_write", "recover".
	Errors map[string]uint64
}

// Error kinds, the keys of Stats.Errors.
const (
	errOpen = iota
	errWrite
	errRead
	errRemove
	errMkdir
	errArchiveWrite
	errRecover
	nErrKinds
)

var errKindNames = [nErrKinds]string{"open", "write", "read", "remove", "mkdir", "archive_write", "recover"}

// counters are written by the writer goroutine and Archive callers and read
// by Stats, hence atomics.
type counters struct {
	packetsWritten, bytesWritten, packetsDropped, packetsLost atomic.Uint64
	segmentsCreated, recoveredSegments, indexSeals            atomic.Uint64
	quotaDeletions                                            atomic.Uint64
	segments, indexBytes, logDirBytes                         atomic.Int64
	archives, archivedFiles, archivesFailed, rotationDrops    atomic.Uint64
	archiveQuotaDeletions, archiveQuotaDropped                atomic.Uint64
	archiveBytes                                              atomic.Int64
	ringBytes, ringFlows                                      atomic.Int64
	ringEvictions                                             atomic.Uint64
	errors                                                    [nErrKinds]atomic.Uint64
}

// Stats returns a snapshot of the counters; safe to call from any goroutine.
func (r *Recorder) Stats() Stats {
	c := &r.st
	s := Stats{
		PacketsWritten:        c.packetsWritten.Load(),
		BytesWritten:          c.bytesWritten.Load(),
		PacketsDropped:        c.packetsDropped.Load(),
		PacketsLost:           c.packetsLost.Load(),
		SegmentsCreated:       c.segmentsCreated.Load(),
		Segments:              int(c.segments.Load()),
		RecoveredSegments:     c.recoveredSegments.Load(),
		IndexSeals:            c.indexSeals.Load(),
		IndexBytes:            c.indexBytes.Load(),
		QuotaDeletions:        c.quotaDeletions.Load(),
		LogDirBytes:           c.logDirBytes.Load(),
		Archives:              c.archives.Load(),
		ArchivedFiles:         c.archivedFiles.Load(),
		ArchivesFailed:        c.archivesFailed.Load(),
		RotationDrops:         c.rotationDrops.Load(),
		ArchiveBytes:          c.archiveBytes.Load(),
		ArchiveQuotaDeletions: c.archiveQuotaDeletions.Load(),
		ArchiveQuotaDropped:   c.archiveQuotaDropped.Load(),
		RingBytes:             c.ringBytes.Load(),
		RingFlows:             int(c.ringFlows.Load()),
		RingEvictions:         c.ringEvictions.Load(),
		Errors:                make(map[string]uint64, nErrKinds),
	}
	for i := range c.errors {
		s.Errors[errKindNames[i]] = c.errors[i].Load()
	}
	return s
}

// errLog counts an error and logs it, at most once per kind every
// logEvery: a full disk fails every write, and the log must not become a
// second flood.
type errLog struct {
	log        *logrus.Logger
	st         *counters
	mu         sync.Mutex
	last       [nErrKinds]time.Time
	suppressed [nErrKinds]int
}

const logEvery = 10 * time.Second

func (e *errLog) report(kind int, err error, fields logrus.Fields) {
	e.st.errors[kind].Add(1)
	now := time.Now()
	e.mu.Lock()
	if now.Sub(e.last[kind]) < logEvery {
		e.suppressed[kind]++
		e.mu.Unlock()
		return
	}
	n := e.suppressed[kind]
	e.last[kind], e.suppressed[kind] = now, 0
	e.mu.Unlock()
	entry := e.log.WithError(err).WithField("kind", errKindNames[kind])
	if n > 0 {
		entry = entry.WithField("suppressed", n)
	}
	entry.WithFields(fields).Error("archive: file operation failed; packets continue to be captured")
}
