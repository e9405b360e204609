package anomaly

import (
	"fmt"
	"math"
	"time"
)

// Defaults of PooledConfig.
const (
	// DefaultPooledRisk is one false alert per million key-intervals: about
	// one per 1400 key-hours at 5 s intervals.
	DefaultPooledRisk      = 1e6
	DefaultPooledNInit     = 2000
	DefaultPooledMaxExcess = 2000
	// DefaultColdDeviation is the threshold on deviations used until the
	// pooled model has calibrated: 8 spreads (with the default spread floor
	// of 0.5, a jump of at least e^4, about 55 times the usual volume).
	DefaultColdDeviation = 8
	// DefaultMinDeviation is the lowest threshold a learned model may set.
	DefaultMinDeviation = 3
)

// PooledConfig configures a Pooled model.
type PooledConfig struct {
	// Risk is "about one false alert per Risk key-intervals": the model's
	// q is 1/Risk. It must exceed 1/(1-Level) (50 with the default Level).
	// See RiskForKeyHours to state it per key-hour. Default 1e6.
	Risk float64
	// NInit is the number of deviation scores the model calibrates on; a
	// scope with thousands of keys fills it in its first intervals.
	// Default 2000.
	NInit int
	// Level is the SPOT level (default 0.98).
	Level float64
	// MaxExcess bounds the tail sample (default 2000: with 2% of scores
	// above t, the last 100 000 scores or so).
	MaxExcess int
	// ExcludeAlarms leaves deviations above the threshold out of the model
	// (SPOT's default). Off by default here: one scope pools thousands of
	// keys, so an attacker's few values barely move the tail, whereas
	// leaving every alarm out censors the sample at the threshold and
	// lowers the next threshold, inflating false alerts several-fold on
	// light-tailed data (see TestSPOTStreamingNormal).
	ExcludeAlarms bool
	// ColdDeviation is the threshold on deviations returned until the
	// model has calibrated. Default 8.
	ColdDeviation float64
	// MinDeviation floors the learned threshold. Default 3.
	MinDeviation float64
}

// RiskForKeyHours converts "about one false alert per hours key-hours" at
// the given interval to the Risk in key-intervals that PooledConfig takes.
func RiskForKeyHours(hours float64, interval time.Duration) float64 {
	return hours * float64(time.Hour) / float64(interval)
}

// Validate applies the defaults and reports the first invalid field.
func (c *PooledConfig) Validate() error {
	if c.Risk == 0 {
		c.Risk = DefaultPooledRisk
	}
	if c.Level == 0 {
		c.Level = DefaultSPOTLevel
	}
	if !(c.Level > 0 && c.Level < 1) {
		return fmt.Errorf("anomaly: pooled Level %g invalid (must be > 0 and < 1; 0 means %g)", c.Level, DefaultSPOTLevel)
	}
	if !(c.Risk > 1/(1-c.Level)) || math.IsInf(c.Risk, 0) {
		return fmt.Errorf("anomaly: pooled Risk %g invalid (one false alert per Risk key-intervals; must be a number above 1/(1-Level) = %g; 0 means %g)",
			c.Risk, 1/(1-c.Level), float64(DefaultPooledRisk))
	}
	if c.NInit == 0 {
		c.NInit = DefaultPooledNInit
	}
	if c.MaxExcess == 0 {
		c.MaxExcess = DefaultPooledMaxExcess
	}
	if c.ColdDeviation == 0 {
		c.ColdDeviation = DefaultColdDeviation
	}
	if !(c.ColdDeviation > 0) || math.IsInf(c.ColdDeviation, 0) {
		return fmt.Errorf("anomaly: pooled ColdDeviation %g invalid (must be a positive number of spreads; 0 means %d)", c.ColdDeviation, DefaultColdDeviation)
	}
	if c.MinDeviation == 0 {
		c.MinDeviation = DefaultMinDeviation
	}
	if !(c.MinDeviation > 0) || math.IsInf(c.MinDeviation, 0) {
		return fmt.Errorf("anomaly: pooled MinDeviation %g invalid (must be a positive number of spreads; 0 means %d)", c.MinDeviation, DefaultMinDeviation)
	}
	sc := c.spotConfig()
	return sc.Validate()
}

func (c *PooledConfig) spotConfig() SPOTConfig {
	return SPOTConfig{Q: 1 / c.Risk, NInit: c.NInit, Level: c.Level, MaxExcess: c.MaxExcess, KeepAlarms: !c.ExcludeAlarms}
}

// Pooled learns one threshold on deviation scores (Baseline.Deviation) for
// a whole scope (pairs, hosts, ...): one SPOT fed every key's score every
// interval, so it calibrates within the first intervals.
//
// What Risk means: SPOT estimates the threshold a normal score exceeds with
// probability q = 1/Risk, so over K key-intervals about K/Risk normal ones
// cross it. That holds as far as the scores of normal keys resemble each
// other and the past; keys that are regularly bursty, or traffic that
// changes, make the real rate differ, which is why the evaluation measures
// it. A Pooled is not safe for concurrent use: one goroutine (the one that
// merges a scope's keys, or each shard with its own) feeds it.
type Pooled struct {
	cfg  PooledConfig
	spot *SPOT
}

// NewPooled validates a copy of cfg and returns an uncalibrated model.
func NewPooled(cfg PooledConfig) (*Pooled, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := NewSPOT(cfg.spotConfig())
	if err != nil {
		return nil, err
	}
	s.lazy = true
	return &Pooled{cfg: cfg, spot: s}, nil
}

// Config returns the validated configuration.
func (p *Pooled) Config() PooledConfig { return p.cfg }

// SPOT returns the underlying model.
func (p *Pooled) SPOT() *SPOT { return p.spot }

// Observe feeds one key's deviation score to the model and says how it
// compares with the current threshold. It does not refit the tail (a fit
// costs about 0.2 ms per 200 excesses, and an interval of 100 000 keys
// has 2000 excesses): call EndInterval once the interval's scores are in.
// It does not allocate.
func (p *Pooled) Observe(d float64) (Status, error) { return p.spot.Step(d) }

// Base returns the level above which Observe learns a deviation (SPOT's
// initial threshold t), once the model is calibrated: a deviation at or
// below it only adds to the count of those seen, whatever order it comes
// in, so a caller may count such deviations (ObserveBelow) instead of
// keeping and ordering them.
func (p *Pooled) Base() (float64, bool) {
	if !p.spot.Calibrated() {
		return 0, false
	}
	return p.spot.t, true
}

// ObserveBelow counts n deviations at or below Base, as n calls of Observe
// with them would. The model must be calibrated.
func (p *Pooled) ObserveBelow(n int) {
	if p.spot.Calibrated() {
		p.spot.n += n
	}
}

// EndInterval refits the tail to the excesses observed since the last call,
// so the next interval is judged by a threshold that includes this one.
func (p *Pooled) EndInterval() { p.spot.Refit() }

// Threshold returns the threshold on deviations, never below MinDeviation,
// and whether it is learned; until the model calibrates (and while it has
// seen no excess) it is ColdDeviation.
func (p *Pooled) Threshold() (float64, bool) {
	z := p.spot.Threshold()
	if !p.spot.Calibrated() || math.IsInf(z, 1) {
		return p.cfg.ColdDeviation, false
	}
	return max(z, p.cfg.MinDeviation), true
}
