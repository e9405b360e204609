package archive

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// ErrClosed is returned by Archive after Close.
var ErrClosed = errors.New("archive: recorder closed")

// Recorder is the packet path of the evidence: Tap copies each packet on
// the capture goroutine; the writer goroutine, started by New and ended by
// Close, appends it to the spool (or, without -log_packets, to the flight
// recorder's ring); Archive cuts an alerted flow's connections out of the
// spool into -archive_dir. Archive and Stats may be called from any
// goroutine.
type Recorder struct {
	cfg     Config
	log     *logrus.Logger
	enabled bool
	snaplen int
	hdr     fileHeader
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

	spool    *spool // nil without -log_packets
	ring     *ring  // nil unless the flight recorder is on
	arch     *archiveIndex
	archives sync.WaitGroup // Archive calls in flight; Close waits for them
	tick     time.Duration
	once     sync.Once
}

// New checks cfg, takes over the spool an earlier run left in -l, and
// starts the writer goroutine. Only an invalid Config is an error: an
// unusable -l or -archive_dir is logged and counted, and capture goes on.
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
		hdr:     fileHeader{snaplen: uint32(cfg.snaplen()), linkType: cfg.LinkType, nano: cfg.Nanosecond},
		reqs:    make(chan *archiveReq),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		tick:    200 * time.Millisecond,
	}
	r.errs = &errLog{log: log, st: &r.st}
	// Absolute, because the paths go into alerts read elsewhere.
	for _, d := range []*string{&r.cfg.LogDir, &r.cfg.ArchiveDir} {
		if *d == "" {
			continue
		}
		abs, err := filepath.Abs(*d)
		if err != nil {
			return nil, fmt.Errorf("archive: directory %q: %w", *d, err)
		}
		*d = abs
	}
	if r.cfg.ArchiveDir != "" {
		r.arch = newArchiveIndex(&r.cfg, &r.st, r.errs)
	}
	if cfg.LogPackets {
		r.spool = newSpool(&r.cfg, r.hdr, &r.st, r.errs, log)
	} else if cfg.RingMB > 0 {
		r.ring = newRing(&r.cfg, r.hdr, &r.st)
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
			if r.spool != nil {
				r.spool.close()
			}
			return
		}
	}
}

func (r *Recorder) process(b *batch) {
	switch {
	case r.spool != nil:
		r.spool.write(b)
	case r.ring != nil:
		for i := range b.ents {
			e := &b.ents[i]
			r.ring.add(makePair(e.rec.Src, e.rec.Dst), e.ts, e.data(b.arena), e.origLen)
		}
		r.ring.publish()
	}
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

// Close stops the recorder: packets tapped before it are written, the
// current segment is sealed with its index, and Archive calls in flight
// finish. The spool stays in -l, within its quota, for -extract and the
// next start. Close returns ctx's error if that takes too long; it is safe
// to call more than once.
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
		return fmt.Errorf("archive: close: archive still cutting files: %w", ctx.Err())
	}
}
