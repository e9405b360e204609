package report

import (
	"time"

	"github.com/wherefore/wherefore/capture"
)

// Sink passes records on to the next sink (the flow aggregator) and hands
// copies of them to the collector in large buffers, so the capture
// goroutine pays a copy per packet and one channel operation per buffer.
type Sink struct {
	c    *Collector
	next capture.Sink
	buf  []rec
	// lastIdx is the interval of the newest record handed over: a buffer
	// is handed over early when a new interval begins, so a live page is
	// at most one interval behind.
	lastIdx int64
}

// Sink wraps next. Its methods are called from the capture goroutine only.
func (c *Collector) Sink(next capture.Sink) *Sink {
	return &Sink{c: c, next: next}
}

var _ capture.Sink = (*Sink)(nil)

// Records implements capture.Sink.
func (s *Sink) Records(batch []capture.Record) {
	for i := range batch {
		r := &batch[i]
		if s.buf == nil {
			if s.buf = s.take(); s.buf == nil {
				// Live and behind: count what the page misses.
				s.c.dropped.Add(uint64(len(batch) - i))
				break
			}
		}
		s.buf = append(s.buf, rec{ts: r.TS, src: r.Src.As16(), dst: r.Dst.As16(), wire: r.WireLen})
		if len(s.buf) == cap(s.buf) {
			s.flush()
		}
	}
	if n := len(batch); n > 0 && s.buf != nil {
		if idx := floorDiv(batch[n-1].TS, int64(s.c.cfg.Interval)); idx != s.lastIdx {
			s.lastIdx = idx
			s.flush()
		}
	}
	s.next.Records(batch)
}

// Idle implements capture.Sink: a quiet live capture hands over what it has.
func (s *Sink) Idle(now time.Time) {
	s.flush()
	s.next.Idle(now)
}

// Flush hands over the records held; call it when the capture ends, before
// Collector.Close.
func (s *Sink) Flush() { s.flush() }

// take returns an empty buffer, waiting for one unless lossy (then nil
// when none is free).
func (s *Sink) take() []rec {
	if s.c.cfg.Lossy {
		select {
		case b := <-s.c.free:
			return b
		default:
			return nil
		}
	}
	return <-s.c.free
}

func (s *Sink) flush() {
	if len(s.buf) == 0 {
		return
	}
	if !s.c.send(msg{recs: s.buf}) {
		s.buf = s.buf[:0] // closed: nobody counts any more
		return
	}
	s.buf = nil
}
