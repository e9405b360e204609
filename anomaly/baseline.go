package anomaly

import (
	"fmt"
	"math"
)

// Defaults of BaselineConfig.
const (
	DefaultBaselineAlpha      = 0.05
	DefaultBaselineMinSpread  = 0.5
	DefaultBaselineMinHistory = 3
)

// BaselineConfig configures how per-key baselines learn and judge.
type BaselineConfig struct {
	// Alpha is the weight of the newest active interval in the moving
	// averages (0 < Alpha <= 1); about 1/Alpha intervals are remembered.
	// Default 0.05.
	Alpha float64
	// MinSpread floors the spread (in natural-log units), so that a key
	// that always moved the same amount does not make a small change look
	// extreme: with 0.5, a doubling scores at most ln 2/0.5 = 1.4. Default 0.5.
	MinSpread float64
	// MinHistory is the number of active intervals a baseline needs before
	// it judges. Default 3.
	MinHistory int
}

// Validate applies the defaults and reports the first invalid field.
func (c *BaselineConfig) Validate() error {
	if c.Alpha == 0 {
		c.Alpha = DefaultBaselineAlpha
	}
	if !(c.Alpha > 0 && c.Alpha <= 1) {
		return fmt.Errorf("anomaly: baseline Alpha %g invalid (must be > 0 and <= 1; 0 means %g)", c.Alpha, DefaultBaselineAlpha)
	}
	if c.MinSpread == 0 {
		c.MinSpread = DefaultBaselineMinSpread
	}
	if !(c.MinSpread > 0) || math.IsInf(c.MinSpread, 0) {
		return fmt.Errorf("anomaly: baseline MinSpread %g invalid (must be a positive number of natural-log units; 0 means %g)", c.MinSpread, DefaultBaselineMinSpread)
	}
	if c.MinHistory == 0 {
		c.MinHistory = DefaultBaselineMinHistory
	}
	if c.MinHistory < 1 || c.MinHistory > 1<<20 {
		return fmt.Errorf("anomaly: baseline MinHistory %d invalid (must be between 1 and %d; 0 means %d)", c.MinHistory, 1<<20, DefaultBaselineMinHistory)
	}
	return nil
}

// Baseline is one key's robust notion of normal volume: moving averages of
// log1p(value) (the center) and of its absolute deviation from the center
// (the spread), over the key's ACTIVE intervals only. Idle intervals (0)
// are counted but do not pull the level down, so a nightly backup is
// judged against earlier backups, not against the quiet hours between.
// Working in logarithms makes a jump of two orders of magnitude stand out
// whether the key usually moves 1 kB or 1 GB.
//
// A Baseline is a small plain value (24 bytes), meant to live in a side
// table next to its key; the zero value is a key with no history.
type Baseline struct {
	Center float64 // moving average of log1p(value) over active intervals
	Spread float64 // moving average of |log1p(value) - Center|
	Active uint32  // active intervals seen (saturates)
	Idle   uint32  // idle intervals seen (saturates)
}

// Update learns x, this interval's value (0 for an idle interval). Until
// 1/Alpha active intervals are seen, the averages are plain means, so the
// first values count fully rather than being shrunk towards zero. +Inf is
// ignored.
func (b *Baseline) Update(x float64, cfg *BaselineConfig) {
	if math.IsInf(x, 1) {
		return // not a measurement; it would pin the center at +Inf
	}
	if !(x > 0) { // 0, negative or NaN: nothing moved
		if b.Idle < math.MaxUint32 {
			b.Idle++
		}
		return
	}
	l := math.Log1p(x)
	if b.Active < math.MaxUint32 {
		b.Active++
	}
	a := max(cfg.Alpha, 1/float64(b.Active))
	if b.Active == 1 {
		b.Center, b.Spread = l, 0
		return
	}
	b.Spread += a * (math.Abs(l-b.Center) - b.Spread)
	b.Center += a * (l - b.Center)
}

// Known reports whether the baseline has enough history to judge.
func (b Baseline) Known(cfg *BaselineConfig) bool { return int64(b.Active) >= int64(cfg.MinHistory) }

// Typical returns the key's typical active value, expm1(Center).
func (b Baseline) Typical() float64 { return math.Expm1(b.Center) }

// Scale returns the spread with the configured floor applied.
func (b Baseline) Scale(cfg *BaselineConfig) float64 { return max(b.Spread, cfg.MinSpread) }

// Deviation returns d = (log1p(x) - Center) / max(Spread, MinSpread), how
// many spreads x lies above the key's normal level (negative below), and
// false when the baseline has too little history to say (the caller then
// falls back to a parent's baseline and the pooled model).
func (b Baseline) Deviation(x float64, cfg *BaselineConfig) (float64, bool) {
	if !b.Known(cfg) {
		return 0, false
	}
	return (math.Log1p(max(x, 0)) - b.Center) / b.Scale(cfg), true
}

// Level returns the value that lies d spreads above the normal level,
// the inverse of Deviation: expm1(Center + d Scale).
func (b Baseline) Level(d float64, cfg *BaselineConfig) float64 {
	return math.Expm1(b.Center + d*b.Scale(cfg))
}
