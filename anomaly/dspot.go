package anomaly

import (
	"fmt"
	"math"
)

// DSPOT is SPOT under drift: it judges each value's residual from M, the
// mean of the last Depth accepted values, so a level that moves slowly does
// not look extreme. The first Depth values only fill the window; an alarm
// is not accepted into it. Depth 0 is plain SPOT. A DSPOT is not safe for
// concurrent use.
type DSPOT struct {
	spot   *SPOT
	window []float64 // last Depth accepted values, a ring
	head   int
	filled int
}

// NewDSPOT validates a copy of cfg and returns a DSPOT with a drift window
// of depth values (0 for plain SPOT).
func NewDSPOT(cfg SPOTConfig, depth int) (*DSPOT, error) {
	if depth < 0 || depth > 1<<20 {
		return nil, fmt.Errorf("anomaly: DSPOT depth %d invalid (must be between 0 and %d; 0 means plain SPOT)", depth, 1<<20)
	}
	s, err := NewSPOT(cfg)
	if err != nil {
		return nil, err
	}
	return &DSPOT{spot: s, window: make([]float64, depth)}, nil
}

// Depth returns the drift window's length.
func (d *DSPOT) Depth() int { return len(d.window) }

// SPOT returns the model of the residuals.
func (d *DSPOT) SPOT() *SPOT { return d.spot }

// Mean returns M, the mean of the drift window (0 for plain SPOT, NaN while
// the window fills).
func (d *DSPOT) Mean() float64 {
	if len(d.window) == 0 {
		return 0
	}
	if d.filled < len(d.window) {
		return math.NaN()
	}
	// Summed afresh each time: exact, and Depth is small.
	s := 0.0
	for _, v := range d.window {
		s += v
	}
	return s / float64(len(d.window))
}

// Threshold returns the alarm threshold in the values' own units, M + z_q.
func (d *DSPOT) Threshold() float64 { return d.Mean() + d.spot.Threshold() }

// InitialThreshold returns M + t.
func (d *DSPOT) InitialThreshold() float64 { return d.Mean() + d.spot.InitialThreshold() }

// Step judges x and updates the model, as SPOT.Step does; NaN and ±Inf
// are refused with ErrNotFinite.
func (d *DSPOT) Step(x float64) (Status, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, ErrNotFinite
	}
	if d.filled < len(d.window) {
		d.accept(x)
		return StatusCalibrating, nil
	}
	st, err := d.spot.Step(x - d.Mean())
	if err != nil {
		return st, err
	}
	if st != StatusAlarm || d.spot.cfg.KeepAlarms {
		d.accept(x)
	}
	return st, nil
}

func (d *DSPOT) accept(x float64) {
	if len(d.window) == 0 {
		return
	}
	d.window[d.head] = x
	d.head = (d.head + 1) % len(d.window)
	if d.filled < len(d.window) {
		d.filled++
	}
}
