package anomaly

import (
	"fmt"
	"math"
)

// judge fills r for value against expected and threshold, scoring in
// log1p units: the ratio of how far value rose above expected to how far
// threshold lies above it, mapped by ratioScore. Hit is value > threshold,
// and Score > AlertScore exactly when Hit is set, rounding included.
func judge(r *Result, kind Kind, value, expected, threshold float64) {
	r.Kind, r.Value, r.Expected, r.Threshold = kind, value, expected, threshold
	r.Hit = value > threshold
	lv, le, lt := math.Log1p(max(value, 0)), math.Log1p(max(expected, 0)), math.Log1p(max(threshold, 0))
	var ratio float64
	switch {
	case lt > le:
		ratio = (lv - le) / (lt - le)
	case r.Hit:
		ratio = math.Inf(1)
	}
	s := ratioScore(ratio)
	switch {
	case r.Hit && s <= AlertScore:
		s = math.Nextafter(AlertScore, 1)
	case !r.Hit && s > AlertScore:
		s = AlertScore
	}
	r.Score = s
}

// SurgeConfig configures the volume detectors Surge and Tunnel.
type SurgeConfig struct {
	// MinValue is an absolute floor: a value at or below it never alerts,
	// however unusual (e.g. bytes per interval). Default 0.
	MinValue float64
	// ColdCeiling, when positive, judges a key with no history and no
	// parent history: it alerts past this value. 0 leaves such keys
	// unjudged (Result.NoHistory), for a static ceiling elsewhere.
	ColdCeiling float64
}

// Validate reports the first invalid field.
func (c *SurgeConfig) Validate() error {
	if !(c.MinValue >= 0) || math.IsInf(c.MinValue, 0) {
		return fmt.Errorf("anomaly: surge MinValue %g invalid (must be >= 0)", c.MinValue)
	}
	if !(c.ColdCeiling >= 0) || math.IsInf(c.ColdCeiling, 0) {
		return fmt.Errorf("anomaly: surge ColdCeiling %g invalid (must be >= 0; 0 turns it off)", c.ColdCeiling)
	}
	return nil
}

// Surge judges value, one key's volume this interval, against the key's
// own baseline, and the threshold thr on deviations (Pooled.Threshold):
// it alerts (KindSurge) when value lies more than thr spreads above the
// key's normal level and above MinValue. A key without history (a new
// destination) is judged against its parent's baseline instead, e.g. the
// source host's usual upload per interval (KindNewDestination, sub-score
// "parent" 1): one new peer receiving far more than the host usually sends
// in all is worth an alert in its first interval. With neither, only
// ColdCeiling can judge it. Expected and Threshold are in value's unit.
// Call it before Update-ing the baselines with value; bc and cfg must have
// been validated.
func Surge(value float64, own, parent Baseline, thr float64, bc *BaselineConfig, cfg *SurgeConfig, r *Result) {
	r.Reset()
	switch {
	case own.Known(bc):
		judge(r, KindSurge, value, own.Typical(), max(own.Level(thr, bc), cfg.MinValue))
		r.SetSub("deviation", (math.Log1p(max(value, 0))-own.Center)/own.Scale(bc))
	case parent.Known(bc):
		judge(r, KindNewDestination, value, parent.Typical(), max(parent.Level(thr, bc), cfg.MinValue))
		r.SetSub("deviation", (math.Log1p(max(value, 0))-parent.Center)/parent.Scale(bc))
		r.SetSub("parent", 1)
	case cfg.ColdCeiling > 0:
		judge(r, KindNewDestination, value, 0, max(cfg.ColdCeiling, cfg.MinValue))
		r.SetSub("cold", 1)
	default:
		r.Kind, r.Value, r.NoHistory = KindNewDestination, value, true
		return
	}
	r.SetSub("threshold", thr)
}

// Tunnel judges one host's volume of a covert-channel-prone protocol (DNS,
// ICMP) this interval against that protocol's own baseline for the host,
// not against its bulk transfers, exactly as Surge does for a key with
// history (KindTunnel); with no history it is judged against ColdCeiling
// when set (e.g. 1 MB of DNS in 5 s), else left to the caller.
func Tunnel(value float64, proto Baseline, thr float64, bc *BaselineConfig, cfg *SurgeConfig, r *Result) {
	Surge(value, proto, Baseline{}, thr, bc, cfg, r)
	r.Kind = KindTunnel
}

// Defaults of RampConfig.
const (
	DefaultRampIntervals = 4
	DefaultRampGrowth    = 8
)

// RampConfig configures Ramp.
type RampConfig struct {
	// Intervals is k, the number of consecutive rises (so k+1 values) a
	// ramp needs. Default 4.
	Intervals int
	// Growth is how many times its starting value the last value must
	// reach. Default 8.
	Growth float64
	// MinValue is an absolute floor for the last value. Default 0.
	MinValue float64
}

// Validate applies the defaults and reports the first invalid field.
func (c *RampConfig) Validate() error {
	if c.Intervals == 0 {
		c.Intervals = DefaultRampIntervals
	}
	if c.Intervals < 1 || c.Intervals > 1<<16 {
		return fmt.Errorf("anomaly: ramp Intervals %d invalid (must be between 1 and %d; 0 means %d)", c.Intervals, 1<<16, DefaultRampIntervals)
	}
	if c.Growth == 0 {
		c.Growth = DefaultRampGrowth
	}
	if !(c.Growth > 1) || math.IsInf(c.Growth, 0) {
		return fmt.Errorf("anomaly: ramp Growth %g invalid (must be a number > 1; 0 means %d)", c.Growth, DefaultRampGrowth)
	}
	if !(c.MinValue >= 0) || math.IsInf(c.MinValue, 0) {
		return fmt.Errorf("anomaly: ramp MinValue %g invalid (must be >= 0)", c.MinValue)
	}
	return nil
}

// Ramp judges the newest values of a key's series, oldest first, for a
// transfer that keeps growing: the last Intervals+1 values must rise
// strictly every interval, and the last must exceed Growth times the first
// (at least Growth when the first is below 1) and MinValue. Expected is the
// first value of the ramp, Threshold what the last had to exceed; a series
// that did not rise every time scores 0. Fewer values than needed give
// NoHistory.
func Ramp(series []float64, cfg *RampConfig, r *Result) {
	r.Reset()
	k := cfg.Intervals
	if len(series) < k+1 {
		r.Kind, r.NoHistory = KindRamp, true
		if len(series) > 0 {
			r.Value = series[len(series)-1]
		}
		return
	}
	w := series[len(series)-k-1:]
	first, last := w[0], w[k]
	judge(r, KindRamp, last, first, max(max(first, 1)*cfg.Growth, cfg.MinValue))
	for i := 1; i <= k; i++ {
		if !(w[i] > w[i-1]) {
			r.Hit, r.Score = false, 0
			r.SetSub("rises", float64(i-1))
			return
		}
	}
	r.SetSub("rises", float64(k))
}

// Absolute floors of the count detectors, in the spirit of Zeek's scan
// policy (15 ports or 25 hosts within 5 minutes) and its SSH guessing
// policy (30 failed attempts). They are per the caller's window: counts
// summed over 5 minutes compare with them as Zeek's do.
const (
	DefaultVScanFloor      = 15  // distinct ports of one destination tried by one source
	DefaultHScanFloor      = 25  // distinct hosts tried by one source on one port
	DefaultFanOutFloor     = 25  // new destinations contacted by one local host
	DefaultFanInFloor      = 100 // distinct sources towards one host
	DefaultBruteForceFloor = 30  // short or refused connections from one source to one service
)

// CountConfig configures a count detector (scans, fan-out, fan-in, brute
// force): Kind names it in alerts, Floor is the count it must exceed with
// or without history.
type CountConfig struct {
	Kind  Kind
	Floor float64
}

// DefaultCountConfig returns the default floor for a count kind, and false
// for a kind that is not a count.
func DefaultCountConfig(k Kind) (CountConfig, bool) {
	switch k {
	case KindVScan:
		return CountConfig{k, DefaultVScanFloor}, true
	case KindHScan:
		return CountConfig{k, DefaultHScanFloor}, true
	case KindFanOut:
		return CountConfig{k, DefaultFanOutFloor}, true
	case KindFanIn:
		return CountConfig{k, DefaultFanInFloor}, true
	case KindBruteForce:
		return CountConfig{k, DefaultBruteForceFloor}, true
	}
	return CountConfig{}, false
}

// Validate reports the first invalid field.
func (c *CountConfig) Validate() error {
	switch c.Kind {
	case KindVScan, KindHScan, KindFanOut, KindFanIn, KindBruteForce:
	default:
		return fmt.Errorf("anomaly: count detector kind %q invalid (must be vscan, hscan, fanout, fanin or bruteforce)", c.Kind)
	}
	if !(c.Floor >= 0) || math.IsInf(c.Floor, 0) {
		return fmt.Errorf("anomaly: %s Floor %g invalid (must be a count >= 0)", c.Kind, c.Floor)
	}
	return nil
}

// DefaultCountMinSpread is the spread floor (BaselineConfig.MinSpread)
// suggested for baselines of distinct counts: counts vary far less than
// byte volumes, and with the volume floor of 0.5 a threshold of 6 spreads
// would ask a host that usually reaches 400 peers to reach 8000.
const DefaultCountMinSpread = 0.1

// Count judges a distinct count (ports, hosts, sources, attempts) of one
// key against Floor and, when the key's baseline of that count has
// history, against the learned level thr spreads above it: the threshold
// is the larger of the two, so a P2P client or a busy server that always
// talks to hundreds of peers is judged by its own habits, and a host with
// no history by the floor alone, so a scan is caught in a capture of a few
// seconds. Sub-score "learned" says whether history set the threshold.
// Give count baselines their own BaselineConfig (DefaultCountMinSpread) and
// thr from a Pooled model of count deviations.
func Count(count float64, b Baseline, thr float64, bc *BaselineConfig, cfg *CountConfig, r *Result) {
	r.Reset()
	threshold, expected, learned := cfg.Floor, 0.0, 0.0
	if b.Known(bc) {
		expected = b.Typical()
		if l := b.Level(thr, bc); l > threshold {
			threshold, learned = l, 1
		}
	}
	judge(r, cfg.Kind, count, expected, threshold)
	r.SetSub("learned", learned)
}
