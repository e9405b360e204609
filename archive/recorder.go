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
// the capture goroutine; two goroutines, started by New and ended by Close,
// take it on: the disk goroutine appends it to the spool, the index
// goroutine indexes it (or, without -log_packets, keeps it in the flight
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
	// staged carries batches from the disk goroutine to the index
	// goroutine; diskDone and done close when each has ended.
	staged   chan stageItem
	diskDone chan struct{}
	done     chan struct{}

	spool    *spool // nil without -log_packets
	ring     *ring  // nil unless the flight recorder is on
	arch     *archiveIndex
	archives sync.WaitGroup // Archive calls in flight; Close waits for them
	scratch  sync.Pool      // *cutScratch: the cuts' reusable memory
	tick     time.Duration
	once     sync.Once
}

// New checks cfg, takes over the spool an earlier run left in -l, and
// starts its goroutines. Only an invalid Config is an error: an
// unusable -l or -archive_dir is logged and counted, and capture goes on.
func New(cfg Config, log *logrus.Logger) (*Recorder, error) {
	r, err := newRecorder(cfg, log)
	if err != nil {
		return nil, err
	}
	go r.run()
	go r.index()
	return r, nil
}

// newRecorder builds a recorder without starting its goroutines.
func newRecorder(cfg Config, log *logrus.Logger) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = logrus.StandardLogger()
	}
	r := &Recorder{
		cfg:      cfg,
		log:      log,
		enabled:  cfg.LogPackets || cfg.RingMB > 0,
		snaplen:  cfg.snaplen(),
		hdr:      fileHeader{snaplen: uint32(cfg.snaplen()), linkType: cfg.LinkType, nano: cfg.Nanosecond},
		reqs:     make(chan *archiveReq),
		stop:     make(chan struct{}),
		diskDone: make(chan struct{}),
		done:     make(chan struct{}),
		tick:     200 * time.Millisecond,
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
	r.staged = make(chan stageItem, n+4)
	for range n {
		r.free <- newBatch(r.snaplen)
	}
	return r, nil
}

// stageItem passes from the disk goroutine to the index goroutine, in
// order: a batch the disk stage is done with, an archive request, or the
// end.
type stageItem struct {
	b    *batch
	ctl  bool // b is the closing seal's, not one of the queue's batches
	req  *archiveReq
	stop bool
}

// run is the disk goroutine: it takes the batches Tap queued, in order,
// and has the spool write them; the index goroutine gets each after.
func (r *Recorder) run() {
	defer close(r.diskDone)
	t := time.NewTicker(r.tick)
	defer t.Stop()
	for {
		select {
		case b := <-r.full:
			r.stage(b)
		case q := <-r.reqs:
			r.drain()
			r.staged <- stageItem{req: q}
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
					r.staged <- stageItem{req: q}
				default:
					answered = false
				}
			}
			if r.spool != nil {
				// Every segment in -l gets its index.
				ctl := &batch{}
				r.spool.diskSeal(ctl)
				r.staged <- stageItem{b: ctl, ctl: true}
			}
			r.staged <- stageItem{stop: true}
			return
		}
	}
}

func (r *Recorder) stage(b *batch) {
	if r.spool != nil {
		r.spool.diskWrite(b)
	}
	r.staged <- stageItem{b: b}
}

// drain stages every batch queued so far.
func (r *Recorder) drain() {
	for {
		select {
		case b := <-r.full:
			r.stage(b)
		default:
			return
		}
	}
}

// index is the index goroutine: it indexes what the disk stage wrote (or
// fills the flight recorder's ring), answers archive requests in their
// place among the batches, and frees the batches for Tap.
func (r *Recorder) index() {
	defer close(r.done)
	for it := range r.staged {
		switch {
		case it.b != nil:
			switch {
			case r.spool != nil:
				r.spool.apply(it.b)
			case r.ring != nil:
				b := it.b
				for i := range b.ents {
					e := &b.ents[i]
					r.ring.add(e.pair(), e.ts, e.data(b.arena), e.origLen)
				}
				r.ring.publish()
			}
			if !it.ctl {
				it.b.reset()
				r.free <- it.b
			}
		case it.req != nil:
			r.answer(it.req)
		case it.stop:
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
	for _, done := range []chan struct{}{r.diskDone, r.done} {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("archive: close: writer still busy: %w", ctx.Err())
		}
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
