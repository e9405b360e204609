package archive

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// File work runs on a goroutine of its own. The writer decides what goes
// where (connections, parts, budgets) and hands over operations in order;
// fileIO carries them out: descriptors, creates, writes, spares, deletes.
// The two run on two cores, and neither waits for the other except when
// the writer has too many bytes in flight or needs a barrier (an archive,
// the shutdown).

type opKind uint8

const (
	opWrite   opKind = iota // append buf to the part; off 0 creates it
	opClose                 // the part will not be written for a while: free its descriptor
	opDelete                // the part's file goes (kept as a spare when possible)
	opBarrier               // close done once everything before is carried out
	opForget                // the part left -l (archived): forget what is known of it
)

type fileOp struct {
	kind opKind
	id   uint64 // the part
	path string
	off  int64 // opWrite: the file's size before buf, header included
	buf  []byte
	pkts int
	done chan struct{}
}

// ioResult gives a written (or failed) buffer back to the writer.
type ioResult struct {
	buf []byte
	id  uint64
	// lost is the bytes of buf that did not reach the file; gone means the
	// part's file is no more (its header never made it, or a cut could not
	// be repaired): the writer forgets the part.
	lost int64
	gone bool
}

type openFile struct {
	id    uint64
	f     *rawFile
	size  int64 // bytes in the file: a failed write is cut back to this
	links lruLinks[*openFile]
}

func (f *openFile) lru() *lruLinks[*openFile] { return &f.links }

type fileIO struct {
	st      *counters
	errs    *errLog
	logDir  string
	maxOpen int
	spares  *spares
	ops     chan []fileOp
	spent   chan []fileOp // carried-out batches, for the writer to reuse
	done    chan struct{}

	files  map[uint64]*openFile
	lru    lruList[*openFile] // open files, least recently written last
	noOpen time.Time          // file opens rest until then
	// failed are parts a write failed for: their size on disk is no
	// longer what the writer thinks, so a reopen asks the file.
	failed map[uint64]struct{}

	mu      sync.Mutex
	results []ioResult
	ready   chan struct{} // a token when results has something
}

func newFileIO(cfg *Config, st *counters, errs *errLog) *fileIO {
	x := &fileIO{
		st:      st,
		errs:    errs,
		logDir:  cfg.LogDir,
		maxOpen: cfg.MaxOpenFiles,
		spares:  &spares{},
		ops:     make(chan []fileOp, 64),
		spent:   make(chan []fileOp, 64),
		done:    make(chan struct{}),
		files:   make(map[uint64]*openFile),
		failed:  make(map[uint64]struct{}),
		ready:   make(chan struct{}, 1),
	}
	if cfg.LogPackets {
		x.spares = newSpares(cfg.LogDir)
	}
	return x
}

func (x *fileIO) run() {
	defer close(x.done)
	for batch := range x.ops {
		for i := range batch {
			x.do(&batch[i])
			batch[i] = fileOp{}
		}
		select {
		case x.spent <- batch[:0]:
		default:
		}
	}
	x.closeAll()
}

func (x *fileIO) do(op *fileOp) {
	switch op.kind {
	case opWrite:
		x.write(op)
	case opClose:
		if f := x.files[op.id]; f != nil {
			x.close(f)
		}
	case opDelete:
		if f := x.files[op.id]; f != nil {
			x.close(f)
		}
		delete(x.failed, op.id)
		if x.spares.recycle(op.path) {
			x.st.filesRecycled.Add(1)
		} else if err := os.Remove(op.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			x.errs.report(errRemove, err, logrus.Fields{"file": op.path})
		}
	case opBarrier:
		close(op.done)
	case opForget:
		delete(x.failed, op.id)
	}
}

// write appends op.buf to its part's file, opening or creating it first.
// On failure the file is cut back to its last whole record, so it stays a
// valid pcap (a new file that did not get its header is deleted); the
// records are lost and counted.
func (x *fileIO) write(op *fileOp) {
	res := ioResult{buf: op.buf, id: op.id}
	defer func() { x.give(res) }() // what res says by then
	f := x.files[op.id]
	if f == nil {
		if f = x.open(op); f == nil {
			x.st.packetsLost.Add(uint64(op.pkts))
			res.lost, res.gone = int64(len(op.buf)), op.off == 0
			if !res.gone {
				// Later writes were sized with these records in.
				x.failed[op.id] = struct{}{}
			}
			return
		}
	} else {
		x.lru.touch(f)
	}
	n, err := f.f.Write(op.buf)
	if err == nil {
		f.size += int64(n)
		x.st.packetsWritten.Add(uint64(op.pkts))
		x.st.bytesWritten.Add(uint64(n))
		return
	}
	x.errs.report(errWrite, err, logrus.Fields{"file": op.path})
	x.st.packetsLost.Add(uint64(op.pkts))
	x.failed[op.id] = struct{}{}
	res.lost = int64(len(op.buf))
	switch {
	case f.size < pcapHeaderLen:
		res.gone = true // the header was in this write
	case n > 0:
		if terr := f.f.Truncate(f.size); terr != nil {
			// A partial record we cannot cut would spoil the file.
			x.errs.report(errWrite, terr, logrus.Fields{"file": op.path})
			res.gone = true
		}
	}
	// Closed in any case: a descriptor opened to create writes at its own
	// offset, which a cut would leave past the end of the file. The next
	// write reopens it to append.
	x.close(f)
	if res.gone {
		delete(x.failed, op.id)
		if rerr := os.Remove(op.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			x.errs.report(errRemove, rerr, logrus.Fields{"file": op.path})
		}
	}
}

// open gives op's part a descriptor, creating its file (or taking a spare)
// when op starts it.
func (x *fileIO) open(op *fileOp) *openFile {
	if !x.noOpen.IsZero() && time.Now().Before(x.noOpen) {
		return nil
	}
	for len(x.files) >= x.maxOpen && x.lru.tail != nil {
		x.close(x.lru.tail)
	}
	flags, mode := flagsAppend, uint32(0)
	if op.off == 0 {
		flags, mode = flagsCreate, fileMode
		if x.spares.take(op.path) {
			flags = flagsReuse
		}
	}
	rf, err := openRaw(op.path, flags, mode)
	if err != nil {
		x.noOpen = time.Now().Add(openRetry)
		x.errs.report(errOpen, err, logrus.Fields{"file": op.path, "dir": x.logDir})
		return nil
	}
	f := &openFile{id: op.id, f: rf, size: op.off}
	if op.off == 0 {
		x.st.filesCreated.Add(1)
	} else if _, bad := x.failed[op.id]; bad {
		var st syscall.Stat_t
		if err := syscall.Fstat(rf.fd, &st); err != nil {
			x.errs.report(errOpen, err, logrus.Fields{"file": op.path})
			rf.Close()
			return nil
		}
		f.size = st.Size
	}
	x.files[op.id] = f
	x.lru.pushFront(f)
	n := x.st.filesOpen.Add(1)
	if n > x.st.maxFilesOpen.Load() {
		x.st.maxFilesOpen.Store(n)
	}
	return f
}

func (x *fileIO) close(f *openFile) {
	if err := f.f.Close(); err != nil {
		x.errs.report(errClose, err, logrus.Fields{"file": f.f.path})
	}
	x.lru.remove(f)
	delete(x.files, f.id)
	x.st.filesOpen.Add(-1)
}

func (x *fileIO) closeAll() {
	for x.lru.head != nil {
		x.close(x.lru.head)
	}
}

// give hands a result to the writer; it never blocks.
func (x *fileIO) give(r ioResult) {
	x.mu.Lock()
	x.results = append(x.results, r)
	x.mu.Unlock()
	select {
	case x.ready <- struct{}{}:
	default:
	}
}

// take returns the results so far, reusing into's storage.
func (x *fileIO) take(into []ioResult) []ioResult {
	x.mu.Lock()
	into = append(into[:0], x.results...)
	clear(x.results)
	x.results = x.results[:0]
	x.mu.Unlock()
	return into
}
