package report

import (
	"time"

	"github.com/wherefore/wherefore/capture"
)

// sampleBudget is the most packets per interval handed to the collector
// for the talker tables. Up to it every packet is counted exactly; beyond
// it the sink samples by bytes, doubling the step as needed, so a busy
// capture costs the collector a fixed amount of work per interval.
const sampleBudget = 4096

// Sink passes records on to the next sink (the flow aggregator) and, on the
// capture goroutine, sums each interval's traffic exactly (total, out, in)
// and picks the packets the talker tables count: one per step bytes, each
// standing for the bytes of its step. A copy per sampled packet and one
// channel operation per interval is all the collector costs the capture.
type Sink struct {
	c    *Collector
	next capture.Sink
	ch   *chunk
	// The open interval's sums.
	cur     total
	lo, hi  int64
	started bool
	// Byte sampling: credit accumulates wire bytes; a packet that brings it
	// to step or more is sampled with the whole steps as its weight.
	step, credit uint64
	samples      int // sampled in the open interval
	// pending holds closed intervals' sums when a live collector had no
	// free chunk; the oldest give way when it is full.
	pending []total
}

// total is one interval's exact traffic.
type total struct {
	idx                   int64
	first, last           int64 // packet times, ns
	bytes, packets        uint64
	out, in               uint64
	outPackets, inPackets uint64
}

// chunk is what the sink hands the collector at a time.
type chunk struct {
	recs   []rec
	totals []total
	step   uint64 // the sampling step when handed over
}

// Sink wraps next. Its methods are called from the capture goroutine only.
func (c *Collector) Sink(next capture.Sink) *Sink {
	return &Sink{c: c, next: next, step: 1, pending: make([]total, 0, 64)}
}

var _ capture.Sink = (*Sink)(nil)

// Records implements capture.Sink.
func (s *Sink) Records(batch []capture.Record) {
	local := s.c.cfg.Local
	for i := range batch {
		r := &batch[i]
		if r.TS < s.lo || r.TS >= s.hi {
			s.open(r.TS)
		}
		w := uint64(r.WireLen)
		s.cur.last = max(s.cur.last, r.TS)
		s.cur.bytes += w
		s.cur.packets++
		if sl, dl := local(r.Src), local(r.Dst); sl != dl {
			if sl {
				s.cur.out += w
				s.cur.outPackets++
			} else {
				s.cur.in += w
				s.cur.inPackets++
			}
		}
		s.credit += w
		if s.credit < s.step {
			continue
		}
		n := s.credit / s.step
		s.credit -= n * s.step
		s.sample(r, n*s.step)
	}
	s.next.Records(batch)
}

func (s *Sink) sample(r *capture.Record, weight uint64) {
	if s.ch == nil {
		if s.ch = s.take(); s.ch == nil {
			s.c.dropped.Add(1) // live and behind: the tables miss it
			return
		}
	}
	s.ch.recs = append(s.ch.recs, rec{src: r.Src.As16(), dst: r.Dst.As16(), weight: weight, wire: r.WireLen})
	if s.samples++; s.samples >= sampleBudget {
		s.step *= 2
		s.samples = sampleBudget / 2
	}
	if len(s.ch.recs) == cap(s.ch.recs) {
		s.flush()
	}
}

// open closes the interval in progress and starts the one holding ts.
// Packets older than it (reordered) count in the open one, as the flow
// aggregator counts them.
func (s *Sink) open(ts int64) {
	iv := int64(s.c.cfg.Interval)
	idx := floorDiv(ts, iv)
	if s.started {
		if idx < s.cur.idx {
			s.lo = ts // count it here without reopening
			return
		}
		s.pending = appendBounded(s.pending, s.cur)
		s.flush()
	}
	s.started = true
	s.cur = total{idx: idx, first: ts, last: ts}
	s.lo, s.hi = idx*iv, (idx+1)*iv
	s.samples = 0
}

func appendBounded(ts []total, t total) []total {
	if len(ts) == cap(ts) {
		copy(ts, ts[1:])
		ts = ts[:len(ts)-1]
	}
	return append(ts, t)
}

// Idle implements capture.Sink: a quiet live capture hands over what it has.
func (s *Sink) Idle(now time.Time) {
	s.flush()
	s.next.Idle(now)
}

// Flush hands over the records and sums held, the open interval's too,
// waiting for the collector if it must; call it when the capture ends,
// before Collector.Close.
func (s *Sink) Flush() {
	if s.started {
		s.pending = appendBounded(s.pending, s.cur)
		s.cur = total{idx: s.cur.idx, first: s.cur.last, last: s.cur.last}
	}
	if s.ch == nil && len(s.pending) > 0 {
		s.ch = <-s.c.free
	}
	s.flush()
}

// take returns an empty chunk, waiting for one unless lossy (then nil
// when none is free).
func (s *Sink) take() *chunk {
	if s.c.cfg.Lossy {
		select {
		case ch := <-s.c.free:
			return ch
		default:
			return nil
		}
	}
	return <-s.c.free
}

func (s *Sink) flush() {
	if s.ch == nil {
		if len(s.pending) == 0 {
			return
		}
		if s.ch = s.take(); s.ch == nil {
			return // the sums wait in pending
		}
	}
	s.ch.totals = append(s.ch.totals, s.pending...)
	s.ch.step = s.step
	s.pending = s.pending[:0]
	if !s.c.send(msg{chunk: s.ch}) {
		s.ch.recs, s.ch.totals = s.ch.recs[:0], s.ch.totals[:0] // closed
		return
	}
	s.ch = nil
}
