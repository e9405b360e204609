package anomaly

import (
	"fmt"
	"math"
	"slices"
)

// Defaults of SPOTConfig, those of netspot.
const (
	DefaultSPOTQ         = 1e-4
	DefaultSPOTNInit     = 1000
	DefaultSPOTLevel     = 0.98
	DefaultSPOTMaxExcess = 200
	DefaultDSPOTDepth    = 50
)

// SPOTConfig configures a SPOT (Streaming Peaks-Over-Threshold) model.
// Zero fields take netspot's defaults when Validate runs.
type SPOTConfig struct {
	// Q is the risk: the probability that a normal value exceeds the alarm
	// threshold. It must lie in (0, 1-Level). Default 1e-4.
	Q float64
	// NInit is the number of values the model calibrates on before it
	// judges any. Default 1000.
	NInit int
	// Level is the quantile of the calibration values that becomes the
	// initial threshold t; values above t feed the tail fit. Default 0.98.
	Level float64
	// MaxExcess bounds the memory of the tail fit: the most recent MaxExcess
	// excesses over t are kept. Default 200.
	MaxExcess int
	// KeepAlarms makes values above the alarm threshold update the model
	// like any other excess. By default they are alarms and left out, so
	// an attack cannot teach the model that it is normal.
	KeepAlarms bool
}

// Validate applies the defaults and reports the first invalid field, naming
// it and the accepted values.
func (c *SPOTConfig) Validate() error {
	if c.Level == 0 {
		c.Level = DefaultSPOTLevel
	}
	if !(c.Level > 0 && c.Level < 1) {
		return fmt.Errorf("anomaly: SPOT Level %g invalid (must be > 0 and < 1; 0 means %g)", c.Level, DefaultSPOTLevel)
	}
	if c.Q == 0 {
		c.Q = DefaultSPOTQ
	}
	if !(c.Q > 0 && c.Q < 1-c.Level) {
		return fmt.Errorf("anomaly: SPOT risk Q %g invalid (must be > 0 and < 1-Level = %.6g; 0 means %g)", c.Q, 1-c.Level, DefaultSPOTQ)
	}
	if c.NInit == 0 {
		c.NInit = DefaultSPOTNInit
	}
	if k := int(c.Level * float64(c.NInit)); c.NInit < 2 || k < 1 || k >= c.NInit {
		return fmt.Errorf("anomaly: SPOT NInit %d invalid with Level %g (floor(Level*NInit) must be >= 1 and < NInit, so at least one calibration value lies above the threshold; 0 means %d)",
			c.NInit, c.Level, DefaultSPOTNInit)
	}
	if c.MaxExcess == 0 {
		c.MaxExcess = DefaultSPOTMaxExcess
	}
	if c.MaxExcess < 1 || c.MaxExcess > 1<<20 {
		return fmt.Errorf("anomaly: SPOT MaxExcess %d invalid (must be between 1 and %d; 0 means %d)", c.MaxExcess, 1<<20, DefaultSPOTMaxExcess)
	}
	return nil
}

// Status is what one Step made of a value.
type Status uint8

const (
	// StatusCalibrating: the value was stored for calibration (or, for
	// DSPOT, to fill the drift window); nothing was judged.
	StatusCalibrating Status = iota
	// StatusNormal: the value lies at or below the threshold t.
	StatusNormal
	// StatusExcess: the value lies above t but not above the alarm
	// threshold; it refined the tail fit.
	StatusExcess
	// StatusAlarm: the value lies above the alarm threshold.
	StatusAlarm
)

// String returns the status's lower-case name.
func (s Status) String() string {
	switch s {
	case StatusCalibrating:
		return "calibrating"
	case StatusNormal:
		return "normal"
	case StatusExcess:
		return "excess"
	case StatusAlarm:
		return "alarm"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// constError is an error that can be a constant, so errors.Is works on it
// without package-level variables.
type constError string

func (e constError) Error() string { return string(e) }

// ErrNotFinite is returned by Step for NaN or ±Inf: no threshold can judge
// NaN, and an infinite excess would poison the tail fit for good.
const ErrNotFinite = constError("anomaly: value is NaN or infinite (SPOT judges finite numbers)")

// SPOT learns the upper tail of a stream of values and raises an alarm when
// a value is more extreme than the risk Q allows (Siffer et al., "Anomaly
// Detection in Streams with Extreme Value Theory", KDD 2017). For the lower
// tail, feed it -x. Memory is bounded: NInit values during calibration,
// MaxExcess afterwards. A SPOT is not safe for concurrent use.
type SPOT struct {
	cfg   SPOTConfig
	calib []float64 // values stored during calibration; nil afterwards
	t     float64   // initial threshold
	z     float64   // alarm threshold z_q
	n     int       // values counted, alarms excluded
	nt    int       // excesses counted
	fit   gpd
	ex    excessRing
	// lazy defers the refit an excess calls for to the next Refit (a
	// pooled model refits once per interval, not once per key); dirty
	// says one is due.
	lazy, dirty bool
}

// NewSPOT validates a copy of cfg and returns a SPOT that calibrates on its
// first cfg.NInit values.
func NewSPOT(cfg SPOTConfig) (*SPOT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &SPOT{
		cfg:   cfg,
		calib: make([]float64, 0, cfg.NInit),
		z:     math.Inf(1),
		ex:    newExcessRing(cfg.MaxExcess),
	}, nil
}

// Config returns the validated configuration.
func (s *SPOT) Config() SPOTConfig { return s.cfg }

// Calibrated reports whether the model has calibrated and judges values.
func (s *SPOT) Calibrated() bool { return s.calib == nil }

// Threshold returns the alarm threshold z_q: a value above it is an alarm.
// It is +Inf while calibrating, and while the model has seen no value above
// t (it knows nothing of the tail yet, so raises no alarm).
func (s *SPOT) Threshold() float64 { return s.z }

// InitialThreshold returns t, the Level quantile of the calibration values
// (NaN while calibrating).
func (s *SPOT) InitialThreshold() float64 {
	if !s.Calibrated() {
		return math.NaN()
	}
	return s.t
}

// Counts returns n, the values counted (alarms excluded), and nt, the
// excesses over t among them.
func (s *SPOT) Counts() (n, nt int) { return s.n, s.nt }

// Tail returns the fitted shape gamma and scale sigma of the generalised
// Pareto distribution of the excesses over t.
func (s *SPOT) Tail() (gamma, sigma float64) { return s.fit.gamma, s.fit.sigma }

// Probability returns the model's estimate of P(X > x) for x above t, and
// nt/n at or below it; 1 while calibrating.
func (s *SPOT) Probability(x float64) float64 {
	if !s.Calibrated() || s.n == 0 {
		return 1
	}
	if s.nt == 0 {
		if x > s.t {
			return 0
		}
		return 1
	}
	return s.fit.tail(x, s.t, s.n, s.nt)
}

// Step judges x and updates the model. During calibration it stores x and
// calibrates once NInit values are stored (the one step that allocates, a
// sorted copy). NaN and ±Inf are refused with ErrNotFinite and change
// nothing.
func (s *SPOT) Step(x float64) (Status, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, ErrNotFinite
	}
	if !s.Calibrated() {
		s.calib = append(s.calib, x)
		if len(s.calib) == s.cfg.NInit {
			s.calibrate()
		}
		return StatusCalibrating, nil
	}
	switch {
	case x > s.z && !s.cfg.KeepAlarms:
		return StatusAlarm, nil
	case x > s.t:
		s.ex.push(x - s.t)
		s.n++
		s.nt++
		if s.lazy {
			s.dirty = true
		} else {
			s.refit()
		}
		if x > s.z {
			return StatusAlarm, nil // KeepAlarms: learnt, still reported
		}
		return StatusExcess, nil
	}
	s.n++
	return StatusNormal, nil
}

// calibrate sets t to the Level quantile of the stored values, feeds the
// excesses over it to the ring in arrival order (so the ring keeps the most
// recent), fits the tail and frees the calibration buffer.
func (s *SPOT) calibrate() {
	sorted := slices.Clone(s.calib)
	slices.Sort(sorted)
	k := int(s.cfg.Level * float64(len(sorted)))
	s.t = sorted[k-1]
	s.n = len(s.calib)
	for _, x := range s.calib {
		if x > s.t {
			s.ex.push(x - s.t)
			s.nt++
		}
	}
	s.calib = nil
	s.refit()
}

// Refit brings the fit and z_q up to date when a refit is due; SPOT's own
// Step refits on every excess, so only a model whose refits are deferred
// (Pooled) needs it.
func (s *SPOT) Refit() {
	if s.dirty {
		s.refit()
	}
}

// refit fits the tail to the ring's excesses and recomputes z_q.
func (s *SPOT) refit() {
	s.dirty = false
	if s.nt == 0 || s.ex.count == 0 {
		s.z = math.Inf(1)
		return
	}
	s.fit = fitGPD(s.ex.values(), s.ex.stats())
	s.z = s.fit.quantile(s.t, s.cfg.Q, s.n, s.nt)
}

// excessRing holds the most recent excesses with running sums of y and y^2
// and their extremes, so the fit's moments cost nothing per step. The sums
// are recomputed exactly whenever an extreme leaves, which also stops
// rounding errors from accumulating for long.
type excessRing struct {
	buf        []float64
	head       int // next slot to write
	count      int
	sum, sumSq float64
	minY, maxY float64
}

func newExcessRing(size int) excessRing {
	return excessRing{buf: make([]float64, size)}
}

// push adds y, evicting the oldest excess when the ring is full.
func (r *excessRing) push(y float64) {
	evicted, full := r.buf[r.head], r.count == len(r.buf)
	r.buf[r.head] = y
	r.head = (r.head + 1) % len(r.buf)
	if !full {
		r.count++
		r.sum += y
		r.sumSq += y * y
		if r.count == 1 {
			r.minY, r.maxY = y, y
		} else {
			r.minY, r.maxY = min(r.minY, y), max(r.maxY, y)
		}
		return
	}
	if evicted == r.minY || evicted == r.maxY {
		r.recompute()
		return
	}
	r.sum += y - evicted
	r.sumSq += y*y - evicted*evicted
	r.minY, r.maxY = min(r.minY, y), max(r.maxY, y)
}

// recompute sets the sums and extremes exactly from the stored excesses.
func (r *excessRing) recompute() {
	ys := r.values()
	r.sum, r.sumSq = 0, 0
	r.minY, r.maxY = math.Inf(1), math.Inf(-1)
	for _, y := range ys {
		r.sum += y
		r.sumSq += y * y
		r.minY, r.maxY = min(r.minY, y), max(r.maxY, y)
	}
}

// values returns the stored excesses (in ring order, not arrival order).
func (r *excessRing) values() []float64 { return r.buf[:r.count] }

// ordered appends the stored excesses oldest first to dst.
func (r *excessRing) ordered(dst []float64) []float64 {
	start := r.head - r.count
	if start < 0 {
		start += len(r.buf)
	}
	for i := range r.count {
		dst = append(dst, r.buf[(start+i)%len(r.buf)])
	}
	return dst
}

func (r *excessRing) stats() excessStats {
	return excessStats{n: r.count, sum: r.sum, sumSq: r.sumSq, minY: r.minY, maxY: r.maxY}
}
