package flow

import "time"

// Clock cuts packet time into transfer intervals. Boundaries are multiples
// of the interval since the Unix epoch, so hosts of a fleet align; the open
// interval only moves forward, driven by packet timestamps (or, for a quiet
// live capture, by the wall clock).
type Clock struct {
	length  int64
	cur     int64
	started bool
}

// NewClock returns a clock with no interval open yet; length must be positive.
func NewClock(length time.Duration) Clock {
	return Clock{length: int64(length)}
}

// Index returns the interval holding ts (nanoseconds since the epoch),
// rounding towards minus infinity so times before 1970 fall into
// well-defined intervals too.
func (c *Clock) Index(ts int64) int64 {
	return floorDiv(ts, c.length)
}

// Started reports whether an interval has been opened.
func (c *Clock) Started() bool { return c.started }

// Current returns the open interval's index; valid once Started.
func (c *Clock) Current() int64 { return c.cur }

// Open makes idx the open interval. The caller closes the previous one
// first; going back in time is the caller's mistake and is ignored.
func (c *Clock) Open(idx int64) {
	if c.started && idx <= c.cur {
		return
	}
	c.started = true
	c.cur = idx
}

// Interval describes interval idx.
func (c *Clock) Interval(idx int64) Interval {
	return Interval{Index: idx, Start: time.Unix(0, idx*c.length).UTC(), Length: time.Duration(c.length)}
}

// Interval is one closed transfer interval.
type Interval struct {
	// Index counts intervals since the Unix epoch.
	Index int64
	// Start is the interval's first instant (UTC); it ends at Start+Length.
	Start  time.Time
	Length time.Duration
}

// End returns the first instant after the interval.
func (iv Interval) End() time.Time { return iv.Start.Add(iv.Length) }

// floorDiv rounds towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
