package archive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// ErrClosed is returned by Archive after Close.
var ErrClosed = errors.New("archive: recorder closed")

// Recorder logs packets per connection, keeps the flight recorder, and
// archives the evidence of alerted flows. Tap runs on the capture goroutine;
// the writer goroutine, started by New and ended by Close, decides what
// goes into which file of -l, and its file goroutine (fileio.go) does the
// file system calls; Archive and Stats may be called from any goroutine.
type Recorder struct {
	cfg     Config
	log     *logrus.Logger
	enabled bool
	snaplen int
	st      counters
	errs    *errLog

	mu     sync.Mutex // guards cur and closed; taken by Tap once per packet
	cur    *batch
	closed bool

	free chan *batch
	full chan *batch
	reqs chan *archiveReq
	stop chan struct{}
	done chan struct{}

	w        *writer
	arch     *archiveIndex
	archives sync.WaitGroup // Archive calls in flight; Close waits for them
	tick     time.Duration
	once     sync.Once
}

// New checks cfg, deals with what an earlier run left in -l, and starts the
// writer goroutine. Only an invalid Config or an -l that cannot be created
// is an error: an unusable -archive_dir is logged and counted, and every
// Archive call then fails, but packets are still logged.
func New(cfg Config, log *logrus.Logger) (*Recorder, error) {
	r, err := newRecorder(cfg, log)
	if err != nil {
		return nil, err
	}
	go r.run()
	return r, nil
}

// newRecorder builds a recorder without starting its writer.
func newRecorder(cfg Config, log *logrus.Logger) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = logrus.StandardLogger()
	}
	r := &Recorder{
		cfg:     cfg,
		log:     log,
		enabled: cfg.LogPackets || cfg.RingMB > 0,
		snaplen: cfg.snaplen(),
		reqs:    make(chan *archiveReq),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		tick:    min(max(cfg.Linger/4, 10*time.Millisecond), 500*time.Millisecond),
	}
	r.errs = &errLog{log: log, st: &r.st}
	if r.cfg.LogDir != "" {
		abs, err := filepath.Abs(r.cfg.LogDir)
		if err != nil {
			return nil, fmt.Errorf("archive: -l %q: %w", cfg.LogDir, err)
		}
		r.cfg.LogDir = abs
	}
	if lim := openFileLimit(); cfg.LogPackets && lim > 0 && r.cfg.MaxOpenFiles > lim/2 {
		// The other half is for capture, sockets and the archive's own
		// files: running out of descriptors would fail far more than
		// reopening a few more pcaps does.
		r.cfg.MaxOpenFiles = max(lim/2, 1)
		log.WithFields(logrus.Fields{"archive_max_open_files": r.cfg.MaxOpenFiles, "open_file_limit": lim}).
			Info("archive: holding fewer pcap files open than -archive_max_open_files, within the process's open-file limit")
	}
	if r.cfg.ArchiveDir != "" {
		// Absolute, because the paths go into alerts read elsewhere.
		abs, err := filepath.Abs(r.cfg.ArchiveDir)
		if err != nil {
			return nil, fmt.Errorf("archive: -archive_dir %q: %w", cfg.ArchiveDir, err)
		}
		r.cfg.ArchiveDir = abs
		r.arch = newArchiveIndex(&r.cfg, &r.st, r.errs)
	}
	if cfg.LogPackets {
		if err := os.MkdirAll(r.cfg.LogDir, dirMode); err != nil {
			return nil, fmt.Errorf("archive: -l %q: %w", r.cfg.LogDir, err)
		}
	}
	// The writer first: leftovers it can reuse become its spares.
	r.w = newWriter(&r.cfg, &r.st, r.errs, log)
	if r.cfg.LogDir != "" {
		r.handleLeftovers()
	}
	n := 0
	if r.enabled {
		n = cfg.QueueSize
	}
	r.free = make(chan *batch, n)
	r.full = make(chan *batch, n)
	for range n {
		r.free <- newBatch(r.snaplen)
	}
	return r, nil
}

// run is the writer goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	go r.w.io.run()
	t := time.NewTicker(r.tick)
	defer t.Stop()
	for {
		select {
		case b := <-r.full:
			r.process(b)
		case q := <-r.reqs:
			r.drain()
			r.answer(q)
		case <-t.C:
			// A quiet link may never fill a batch: take the partial one, in
			// its place in the queue so packets stay in order.
			r.mu.Lock()
			r.handOff()
			r.mu.Unlock()
			r.drain()
			r.w.tick()
		case <-r.stop:
			r.drain()
			for answered := true; answered; {
				select {
				case q := <-r.reqs:
					r.answer(q)
				default:
					answered = false
				}
			}
			r.w.shutdown()
			return
		}
	}
}

func (r *Recorder) process(b *batch) {
	r.w.batch(b)
	b.reset()
	r.free <- b
}

// drain handles every batch queued so far.
func (r *Recorder) drain() {
	for {
		select {
		case b := <-r.full:
			r.process(b)
		default:
			return
		}
	}
}

// Close stops the recorder: packets tapped before it are written, every file
// is flushed and closed (each a valid pcap), files of ended connections are
// deleted, and Archive calls in flight finish. Files of live connections stay
// in -l; the next start treats them as leftovers. Close returns ctx's error
// if that takes too long; it is safe to call more than once.
func (r *Recorder) Close(ctx context.Context) error {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.handOff()
		r.mu.Unlock()
		close(r.stop)
	})
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("archive: close: writer still busy: %w", ctx.Err())
	}
	moved := make(chan struct{})
	go func() { r.archives.Wait(); close(moved) }()
	select {
	case <-moved:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("archive: close: archive still moving files: %w", ctx.Err())
	}
}

// openFileLimit is the process's open-file limit (RLIMIT_NOFILE, which Go
// raises to the hard limit at start), or 0 if unknown.
func openFileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return int(rl.Cur)
}
