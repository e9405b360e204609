package capture

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// Sink receives decoded records in capture order. It is called on the
// capture goroutine, so it must hand work on rather than do it.
type Sink interface {
	// Records receives a batch; the slice is reused once Records returns.
	Records(batch []Record)
	// Idle is called when a live source had no packet within its read
	// timeout, so time-driven work (closing intervals) still happens.
	Idle(now time.Time)
}

// Counters are the reader's running totals. They are updated once per batch
// and may be read from any goroutine.
type Counters struct {
	Packets  atomic.Uint64 // packets read from the source
	Bytes    atomic.Uint64 // wire bytes of the packets accounted to flows
	Captured atomic.Uint64 // bytes as stored (record headers excluded), for file progress
	Skipped  [numSkipReasons]atomic.Uint64
	// Heartbeat is the wall-clock time (Unix nanoseconds) the loop last
	// handed on a batch or woke from a read timeout: a stale heartbeat means
	// capture has stalled (health checks, the systemd watchdog).
	Heartbeat atomic.Int64
}

// SkippedSnapshot returns the skip counters by reason.
func (c *Counters) SkippedSnapshot() SkipCounts {
	var s SkipCounts
	for i := range c.Skipped {
		s[i] = c.Skipped[i].Load()
	}
	return s
}

const maxBatchSpan = int64(100 * time.Millisecond)

// Reader runs the capture loop: read, decode, optionally tap, batch, hand on.
type Reader struct {
	Source    Source
	Tap       Tap // may be nil
	Sink      Sink
	BatchSize int // records per batch handed to the sink; default 1024
	Counters  *Counters
	// Now is the wall clock for Idle; tests may replace it.
	Now func() time.Time
	// Live says the source's clock is the wall clock (a live interface):
	// read timeouts then advance time through Sink.Idle. A quiet pipe
	// carrying a capture file must not: its packet time may be years old.
	Live bool
}

// Run reads until the source ends (nil), ctx is cancelled (nil), or the
// source fails (the error says where). Records read before a failure have
// already been handed to the sink.
func (r *Reader) Run(ctx context.Context) error {
	size := r.BatchSize
	if size <= 0 {
		size = 1024
	}
	if r.Counters == nil {
		r.Counters = new(Counters)
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	r.Counters.Heartbeat.Store(now().UnixNano())
	// A read blocked on a quiet pipe would never see ctx; sources that can
	// be interrupted are, so a signal always stops the loop.
	if in, ok := r.Source.(interface{ Interrupt() }); ok {
		stop := context.AfterFunc(ctx, in.Interrupt)
		defer stop()
	}
	dec := NewDecoder(r.Source.LinkType())
	batch := make([]Record, 0, size)
	// A batch is handed on when full or when it spans maxBatchSpan of packet
	// time, so a slow live trickle still reaches the flow table promptly.
	var batchStart int64
	var packets, bytes, captured uint64
	var lastSkipped SkipCounts
	flush := func() {
		if len(batch) > 0 {
			r.Sink.Records(batch)
			batch = batch[:0]
		}
		c := r.Counters
		c.Heartbeat.Store(now().UnixNano())
		c.Packets.Add(packets)
		c.Bytes.Add(bytes)
		c.Captured.Add(captured)
		packets, bytes, captured = 0, 0, 0
		for i, v := range dec.Skipped {
			if d := v - lastSkipped[i]; d != 0 {
				c.Skipped[i].Add(d)
			}
		}
		lastSkipped = dec.Skipped
	}
	defer flush()

	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return nil
		}
		data, ci, err := r.Source.ReadPacket()
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				flush()
				if r.Live {
					r.Sink.Idle(now())
				}
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			if err == io.EOF || ctx.Err() != nil {
				// After a signal, a read cut short is the expected end.
				return nil
			}
			return err
		}
		packets++
		captured += uint64(ci.CaptureLength)
		batch = batch[:len(batch)+1]
		rec := &batch[len(batch)-1]
		if !dec.Decode(ci, data, rec) {
			batch = batch[:len(batch)-1]
			continue
		}
		bytes += uint64(rec.WireLen)
		if r.Tap != nil {
			r.Tap(ci, data, rec)
		}
		if len(batch) == 1 {
			batchStart = rec.TS
		}
		if len(batch) == cap(batch) || rec.TS-batchStart > maxBatchSpan {
			flush()
		}
	}
}
