package archive

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Stats is a snapshot of the recorder's counters. Counts only grow; gauges
// (FilesOpen, Connections, LogDirBytes, ArchiveBytes, Ring*) say what holds
// now.
type Stats struct {
	PacketsWritten uint64 // records written to files in -l
	BytesWritten   uint64 // bytes of those records, headers included
	PacketsDropped uint64 // refused by Tap because the writer queue was full
	PacketsLost    uint64 // queued but not written: open or write failed
	// PacketsDiscarded were held in memory and deleted unwritten: with a
	// connection that ended (or was evicted) with no alert, or with a part
	// the -l quota deleted.
	PacketsDiscarded uint64

	FilesOpen    int    // descriptors held now
	MaxFilesOpen int    // the most ever held at once
	FilesCreated uint64 // files created in -l
	// FilesRecycled were deleted parts kept as spares in -l/.spare, header
	// only, for the next new part to take.
	FilesRecycled uint64
	PendingBytes  int64 // memory holding records not yet written to -l

	Connections        int    // tracked now, ended ones still lingering included
	ConnectionsEnded   uint64 // by FIN/RST or idle timeout
	ConnectionsEvicted uint64 // dropped, files and all, to stay under -archive_max_connections
	Rotations          uint64 // files started because the previous one was full
	RotationDeletions  uint64 // oldest parts deleted to stay under -max_pcap_rotations
	FilesDeleted       uint64 // files of connections that ended with no alert
	QuotaDeletions     uint64 // files deleted to stay under -archive_log_quota_mb
	LogDirBytes        int64  // bytes in -l written by this run

	Archives              uint64 // Archive calls that stored something
	ArchivedFiles         uint64 // pcap files stored in -archive_dir
	ArchiveBytes          int64  // bytes in -archive_dir's alert folders
	ArchiveQuotaDeletions uint64 // old alert folders deleted for -archive_quota_mb
	ArchiveQuotaDropped   uint64 // files not archived because they did not fit the quota

	RingBytes     int64  // flight recorder memory in use
	RingFlows     int    // address pairs with packets in the ring
	RingEvictions uint64 // ring chunks taken from the least recently active pairs

	Leftovers uint64 // files from an earlier run deleted or archived at start

	// Errors counts failures by kind: "open", "write", "close", "remove",
	// "mkdir", "move", "archive_write", "leftover".
	Errors map[string]uint64
}

// Error kinds, the keys of Stats.Errors.
const (
	errOpen = iota
	errWrite
	errClose
	errRemove
	errMkdir
	errMove
	errArchiveWrite
	errLeftover
	nErrKinds
)

var errKindNames = [nErrKinds]string{"open", "write", "close", "remove", "mkdir", "move", "archive_write", "leftover"}

// counters are written by the writer goroutine and Archive callers and read
// by Stats, hence atomics.
type counters struct {
	packetsWritten, bytesWritten, packetsDropped, packetsLost atomic.Uint64
	packetsDiscarded, filesCreated, filesRecycled             atomic.Uint64
	pendingBytes                                              atomic.Int64
	filesOpen, maxFilesOpen, connections                      atomic.Int64
	connsEnded, connsEvicted, rotations, rotationDeletions    atomic.Uint64
	filesDeleted, quotaDeletions                              atomic.Uint64
	logDirBytes                                               atomic.Int64
	archives, archivedFiles, archiveQuotaDeletions            atomic.Uint64
	archiveQuotaDropped                                       atomic.Uint64
	archiveBytes                                              atomic.Int64
	ringBytes, ringFlows                                      atomic.Int64
	ringEvictions, leftovers                                  atomic.Uint64
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
		PacketsDiscarded:      c.packetsDiscarded.Load(),
		FilesCreated:          c.filesCreated.Load(),
		FilesRecycled:         c.filesRecycled.Load(),
		PendingBytes:          c.pendingBytes.Load(),
		FilesOpen:             int(c.filesOpen.Load()),
		MaxFilesOpen:          int(c.maxFilesOpen.Load()),
		Connections:           int(c.connections.Load()),
		ConnectionsEnded:      c.connsEnded.Load(),
		ConnectionsEvicted:    c.connsEvicted.Load(),
		Rotations:             c.rotations.Load(),
		RotationDeletions:     c.rotationDeletions.Load(),
		FilesDeleted:          c.filesDeleted.Load(),
		QuotaDeletions:        c.quotaDeletions.Load(),
		LogDirBytes:           c.logDirBytes.Load(),
		Archives:              c.archives.Load(),
		ArchivedFiles:         c.archivedFiles.Load(),
		ArchiveBytes:          c.archiveBytes.Load(),
		ArchiveQuotaDeletions: c.archiveQuotaDeletions.Load(),
		ArchiveQuotaDropped:   c.archiveQuotaDropped.Load(),
		RingBytes:             c.ringBytes.Load(),
		RingFlows:             int(c.ringFlows.Load()),
		RingEvictions:         c.ringEvictions.Load(),
		Leftovers:             c.leftovers.Load(),
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
