package anomaly

import (
	"fmt"
	"math"
	"slices"
)

// Defaults of BeaconConfig.
const (
	DefaultBeaconMinEvents = 10
	DefaultBeaconThreshold = 0.8
)

// BeaconConfig configures a Beacon scorer.
type BeaconConfig struct {
	// MinEvents is the fewest connections in a window worth scoring.
	// Default 10.
	MinEvents int
	// Threshold is the regularity (in [0, 1]) above which a window is a
	// beacon. Default 0.8.
	Threshold float64
}

// Validate applies the defaults and reports the first invalid field.
func (c *BeaconConfig) Validate() error {
	if c.MinEvents == 0 {
		c.MinEvents = DefaultBeaconMinEvents
	}
	if c.MinEvents < 4 {
		return fmt.Errorf("anomaly: beacon MinEvents %d invalid (must be >= 4, so quartiles of the gaps exist; 0 means %d)", c.MinEvents, DefaultBeaconMinEvents)
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultBeaconThreshold
	}
	if !(c.Threshold > 0 && c.Threshold < 1) {
		return fmt.Errorf("anomaly: beacon Threshold %g invalid (must be > 0 and < 1; 0 means %g)", c.Threshold, DefaultBeaconThreshold)
	}
	return nil
}

// Beacon scores how regular one source's connections to one destination
// are over a window, as RITA does: malware calling home tends to connect at
// a fixed period with requests of a fixed size.
//
// For the gaps between connection times, and separately for the sizes, it
// takes the quartiles Q1, Q2, Q3 (linear interpolation) and the median
// absolute deviation MAD, and scores
//
//	skew       = 1 - |Bowley skew|, Bowley skew = (Q1 + Q3 - 2 Q2)/(Q3 - Q1)
//	dispersion = max(0, 1 - MAD/Q2) (1 when MAD = 0)
//
// The Bowley skew is taken as 0 when the median equals a quartile, as RITA
// does: with few distinct values (gaps of 60, 60, 61 s) the formula gives
// ±1 from ties alone, not from a lopsided shape. The timing score is the mean of the gaps' skew and dispersion, the size
// score the same for sizes, and the regularity the mean of the two (the
// timing score alone when no sizes are given). In the tests, random
// (Poisson) arrivals score about 0.6 on timing, a once-a-minute beacon
// with up to 3 s of jitter about 0.99.
//
// Result: Value is the regularity, Threshold the configured one, Expected
// the median gap (the beacon's period, in the times' unit); sub-scores
// "timing", "size", "gap_skew", "gap_dispersion", "size_skew",
// "size_dispersion". Score is the regularity rescaled so that the
// threshold maps to AlertScore. A Beacon reuses its scratch buffers, so it
// does not allocate once they have grown to the longest window; it is not
// safe for concurrent use.
type Beacon struct {
	cfg  BeaconConfig
	a, b []float64
}

// NewBeacon validates a copy of cfg and returns a scorer.
func NewBeacon(cfg BeaconConfig) (*Beacon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Beacon{cfg: cfg}, nil
}

// Score judges one window: times are the connections' start times in
// ascending order (any unit, e.g. seconds), sizes their sizes (bytes), or
// nil. Fewer than MinEvents times give NoHistory.
func (bc *Beacon) Score(times, sizes []float64, r *Result) {
	r.Reset()
	r.Kind = KindBeacon
	r.Threshold = bc.cfg.Threshold
	if len(times) < bc.cfg.MinEvents {
		r.NoHistory = true
		return
	}
	bc.a = bc.a[:0]
	for i := 1; i < len(times); i++ {
		bc.a = append(bc.a, times[i]-times[i-1])
	}
	gapSkew, gapDisp, period := bc.regularity(bc.a)
	timing := (gapSkew + gapDisp) / 2
	reg := timing
	r.SetSub("timing", timing)
	r.SetSub("gap_skew", gapSkew)
	r.SetSub("gap_dispersion", gapDisp)
	if len(sizes) >= 4 {
		bc.a = append(bc.a[:0], sizes...)
		sizeSkew, sizeDisp, _ := bc.regularity(bc.a)
		size := (sizeSkew + sizeDisp) / 2
		reg = (timing + size) / 2
		r.SetSub("size", size)
		r.SetSub("size_skew", sizeSkew)
		r.SetSub("size_dispersion", sizeDisp)
	}
	r.Value, r.Expected = reg, period
	t := bc.cfg.Threshold
	r.Hit = reg > t
	if r.Hit {
		r.Score = AlertScore + (1-AlertScore)*(reg-t)/(1-t)
		if r.Score <= AlertScore {
			r.Score = math.Nextafter(AlertScore, 1)
		}
	} else {
		r.Score = AlertScore * max(reg, 0) / t
	}
}

// regularity sorts xs in place and returns its skew and dispersion scores
// and its median.
func (bc *Beacon) regularity(xs []float64) (skew, disp, median float64) {
	slices.Sort(xs)
	q1, q2, q3 := quantileSorted(xs, 0.25), quantileSorted(xs, 0.5), quantileSorted(xs, 0.75)
	skew = 1
	if q1 < q2 && q2 < q3 {
		skew = 1 - math.Abs((q1+q3-2*q2)/(q3-q1))
	}
	bc.b = bc.b[:0]
	for _, x := range xs {
		bc.b = append(bc.b, math.Abs(x-q2))
	}
	slices.Sort(bc.b)
	mad := quantileSorted(bc.b, 0.5)
	switch {
	case mad == 0:
		disp = 1
	case q2 > 0:
		disp = max(0, 1-mad/q2)
	}
	return skew, disp, q2
}

// quantileSorted returns the p-quantile of sorted xs by linear
// interpolation between order statistics (R's type 7).
func quantileSorted(xs []float64, p float64) float64 {
	h := p * float64(len(xs)-1)
	lo := int(h)
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[lo] + (h-float64(lo))*(xs[lo+1]-xs[lo])
}

// BeaconTrack is one pair's events as the beacon detector keeps them
// across a restart (State.Beacons). Times are Unix milliseconds of the
// intervals the events fell in, oldest first; Sizes their bytes.
type BeaconTrack struct {
	Src string `json:"src"`
	Dst string `json:"dst"`
	// SrcFirst is when the source was first seen, Born when the pair's
	// first event came, Start when its current series began (Unix ms).
	SrcFirst int64    `json:"src_first"`
	Born     int64    `json:"born"`
	Start    int64    `json:"start"`
	Total    uint32   `json:"total"`
	Times    []int64  `json:"times"`
	Sizes    []uint32 `json:"sizes"`
	Alerted  bool     `json:"alerted,omitempty"`
	// Settled: the pair was found to be its source's habit.
	Settled bool `json:"settled,omitempty"`
}

// check reports what is wrong with a saved track, if anything.
func (t *BeaconTrack) check() error {
	if len(t.Times) != len(t.Sizes) || len(t.Times) == 0 || len(t.Times) > 1024 {
		return fmt.Errorf("beacon track %s->%s has %d times and %d sizes (want as many of each, 1 to 1024)", t.Src, t.Dst, len(t.Times), len(t.Sizes))
	}
	if !slices.IsSorted(t.Times) || t.Start > t.Times[0] || t.Born > t.Start {
		return fmt.Errorf("beacon track %s->%s: times out of order", t.Src, t.Dst)
	}
	return nil
}
