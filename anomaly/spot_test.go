package anomaly

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestGPDQuantileFormula(t *testing.T) {
	for _, c := range []struct {
		gamma, want float64
	}{{0.5, 23.8885}, {0, 15.9915}} {
		g := gpd{gamma: c.gamma, sigma: 2}
		z := g.quantile(10, 1e-3, 1000, 20)
		if math.Abs(z-c.want) > 1e-4 {
			t.Errorf("gamma %g: z_q = %.5f, want %.4f", c.gamma, z, c.want)
		}
		if p := g.tail(z, 10, 1000, 20); math.Abs(p-1e-3) > 1e-12 {
			t.Errorf("gamma %g: tail at z_q = %g, want 0.001", c.gamma, p)
		}
	}
}

// perfect returns the N-point "perfect" sample x_i = F^-1((i+0.5)/N).
func perfect(n int, inv func(p float64) float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = inv((float64(i) + 0.5) / float64(n))
	}
	return xs
}

func expInv(p float64) float64    { return -math.Log(1 - p) }
func normalInv(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

func TestSPOTPerfectSamples(t *testing.T) {
	for _, c := range []struct {
		name      string
		inv       func(float64) float64
		t, z3, z4 float64
	}{
		{"exp", expInv, 3.90953, 6.888, 9.099},
		{"normal", normalInv, 2.05272, 3.0912, 3.6765},
	} {
		t.Run(c.name, func(t *testing.T) {
			xs := perfect(10000, c.inv)
			for _, q := range []float64{1e-3, 1e-4} {
				s, err := NewSPOT(SPOTConfig{Q: q, NInit: len(xs), Level: 0.98})
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range xs {
					if _, err := s.Step(x); err != nil {
						t.Fatal(err)
					}
				}
				if !s.Calibrated() {
					t.Fatal("not calibrated after NInit values")
				}
				if n, nt := s.Counts(); n != 10000 || nt != 200 {
					t.Errorf("n, N_t = %d, %d; want 10000, 200", n, nt)
				}
				if got := s.InitialThreshold(); !within(got, c.t, 1e-5) {
					t.Errorf("t = %.5f, want %.5f", got, c.t)
				}
				want := c.z3
				if q == 1e-4 {
					want = c.z4
				}
				g, sg := s.Tail()
				t.Logf("q=%g: z=%.5f gamma=%.4f sigma=%.4f", q, s.Threshold(), g, sg)
				if got := s.Threshold(); !within(got, want, 0.01) {
					t.Errorf("q=%g: z_q = %.4f, want %.4f within 1%%", q, got, want)
				}
			}
		})
	}
}

// On clean data the alarm count is q times the stream's length. The model
// learns from every value here (KeepAlarms): leaving alarms out censors the
// sample at z_q, which lowers the next fit's z_q, and on a light tail such as
// the normal's that feedback gives 3 to 30 times more alarms (measured: 29 to
// 318 for these seeds).
func TestSPOTStreamingNormal(t *testing.T) {
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 42))
		s, err := NewSPOT(SPOTConfig{Q: 5e-5, Level: 0.995, KeepAlarms: true})
		if err != nil {
			t.Fatal(err)
		}
		alarms := 0
		for range 200000 {
			st, err := s.Step(rng.NormFloat64())
			if err != nil {
				t.Fatal(err)
			}
			if st == StatusAlarm {
				alarms++
			}
		}
		t.Logf("seed %d: %d alarms, z=%.4f", seed, alarms, s.Threshold())
		// q*200k = 10; a Poisson count around 10 rarely leaves [3, 20].
		if alarms < 3 || alarms > 20 {
			t.Errorf("seed %d: %d alarms in 200k N(0,1) values at q=5e-5, want about 10", seed, alarms)
		}
	}
}

func TestSPOTConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  SPOTConfig
		want string
	}{
		{SPOTConfig{Q: 0.03}, "risk Q 0.03 invalid"},
		{SPOTConfig{Q: 0.5, Level: 0.9}, "< 1-Level = 0.1"},
		{SPOTConfig{Q: -1e-4}, "risk Q -0.0001 invalid"},
		{SPOTConfig{Q: math.NaN()}, "risk Q NaN invalid"},
		{SPOTConfig{Level: 1.5}, "Level 1.5 invalid"},
		{SPOTConfig{NInit: 1}, "NInit 1 invalid"},
		{SPOTConfig{NInit: 10, Level: 0.05}, "NInit 10 invalid with Level 0.05"}, // floor(0.5) = 0
		{SPOTConfig{MaxExcess: -1}, "MaxExcess -1 invalid"},
	} {
		_, err := NewSPOT(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.cfg, err, c.want)
		}
	}
	// floor(0.98*10) = 9: one calibration value lies above t, enough.
	if _, err := NewSPOT(SPOTConfig{NInit: 10}); err != nil {
		t.Errorf("NInit 10: %v", err)
	}
}

func TestSPOTNotFinite(t *testing.T) {
	s, err := NewSPOT(SPOTConfig{NInit: 100})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDSPOT(SPOTConfig{NInit: 100}, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := s.Step(x); !errors.Is(err, ErrNotFinite) {
			t.Errorf("SPOT Step(%g) = %v, want ErrNotFinite", x, err)
		}
		if _, err := d.Step(x); !errors.Is(err, ErrNotFinite) {
			t.Errorf("DSPOT Step(%g) = %v, want ErrNotFinite", x, err)
		}
	}
	if len(s.calib) != 0 || d.filled != 0 {
		t.Fatal("a value that is not finite was stored")
	}
}

// calibrated returns a SPOT calibrated on the perfect Exp(1) sample.
func calibrated(t testing.TB, cfg SPOTConfig) *SPOT {
	t.Helper()
	cfg.NInit = 10000
	s, err := NewSPOT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range perfect(10000, expInv) {
		s.Step(x)
	}
	return s
}

func TestSPOTAlarmLeavesModelAlone(t *testing.T) {
	s := calibrated(t, SPOTConfig{Q: 1e-3})
	n, nt := s.Counts()
	z := s.Threshold()
	if st, _ := s.Step(z + 1); st != StatusAlarm {
		t.Fatalf("z+1: %v, want alarm", st)
	}
	if n2, nt2 := s.Counts(); n2 != n || nt2 != nt || s.Threshold() != z {
		t.Fatalf("alarm changed the model: n %d->%d, n_t %d->%d, z %g->%g", n, n2, nt, nt2, z, s.Threshold())
	}
	if st, _ := s.Step((s.InitialThreshold() + z) / 2); st != StatusExcess {
		t.Fatalf("between t and z: %v, want excess", st)
	}
	if n2, nt2 := s.Counts(); n2 != n+1 || nt2 != nt+1 {
		t.Fatalf("excess: counts %d, %d; want %d, %d", n2, nt2, n+1, nt+1)
	}
	if st, _ := s.Step(0.1); st != StatusNormal {
		t.Fatalf("0.1: %v, want normal", st)
	}

	// KeepAlarms: reported, and learnt.
	k := calibrated(t, SPOTConfig{Q: 1e-3, KeepAlarms: true})
	if st, _ := k.Step(k.Threshold() + 1); st != StatusAlarm {
		t.Fatalf("KeepAlarms z+1: %v, want alarm", st)
	}
	if _, nt2 := k.Counts(); nt2 != nt+1 {
		t.Fatalf("KeepAlarms: n_t %d, want %d", nt2, nt+1)
	}
}

// The ring keeps MaxExcess excesses while n and N_t count the whole stream,
// and its running sums stay equal to sums computed afresh.
func TestSPOTExcessRingBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	s, err := NewSPOT(SPOTConfig{NInit: 500, MaxExcess: 50, KeepAlarms: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 50000 {
		s.Step(rng.ExpFloat64())
	}
	n, nt := s.Counts()
	if n != 50000 || nt < 500 {
		t.Fatalf("n %d, n_t %d: want 50000 and about 1000", n, nt)
	}
	if s.ex.count != 50 || len(s.ex.buf) != 50 {
		t.Fatalf("ring holds %d of %d, want 50", s.ex.count, len(s.ex.buf))
	}
	var sum, sq float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, y := range s.ex.values() {
		sum += y
		sq += y * y
		lo, hi = min(lo, y), max(hi, y)
	}
	if !within(s.ex.sum, sum, 1e-9) || !within(s.ex.sumSq, sq, 1e-9) || s.ex.minY != lo || s.ex.maxY != hi {
		t.Fatalf("running sums %g %g %g %g; exact %g %g %g %g", s.ex.sum, s.ex.sumSq, s.ex.minY, s.ex.maxY, sum, sq, lo, hi)
	}
	if g, _ := s.Tail(); math.Abs(g) > 0.5 {
		t.Errorf("Exp(1) tail shape %g, want near 0", g)
	}
}

// Grimshaw's roots on both sides of 0: a light tail (gamma < 0) and a heavy
// one (gamma > 0) are both recovered from perfect GPD samples.
func TestFitGPDShapes(t *testing.T) {
	for _, want := range []float64{-0.3, 0.3} {
		const sigma = 2.0
		inv := func(p float64) float64 { return sigma / want * (math.Pow(1-p, -want) - 1) }
		ys := perfect(400, inv)
		r := newExcessRing(len(ys))
		for _, y := range ys {
			r.push(y)
		}
		g := fitGPD(r.values(), r.stats())
		if math.Abs(g.gamma-want) > 0.05 || !within(g.sigma, sigma, 0.05) {
			t.Errorf("GPD(%g, %g): fitted gamma %.3f, sigma %.3f", want, sigma, g.gamma, g.sigma)
		}
	}
}

func TestDSPOTFollowsDrift(t *testing.T) {
	// A level rising by 0.01 per step: plain SPOT calibrated on the start
	// alarms on nearly everything later; DSPOT judges the residual.
	rng := rand.New(rand.NewPCG(3, 3))
	xs := make([]float64, 30000)
	for i := range xs {
		xs[i] = float64(i)*0.01 + rng.NormFloat64()
	}
	count := func(depth int) int {
		d, err := NewDSPOT(SPOTConfig{Q: 1e-4}, depth)
		if err != nil {
			t.Fatal(err)
		}
		alarms := 0
		for _, x := range xs {
			if st, _ := d.Step(x); st == StatusAlarm {
				alarms++
			}
		}
		return alarms
	}
	plain, drift := count(0), count(50)
	if plain < 10000 || drift > 30 {
		t.Errorf("alarms: plain SPOT %d (want most values), DSPOT %d (want few)", plain, drift)
	}

	// An alarm is not accepted into the window.
	d, _ := NewDSPOT(SPOTConfig{NInit: 1000}, 10)
	for _, x := range perfect(1010, expInv) {
		d.Step(x)
	}
	m := d.Mean()
	if st, _ := d.Step(d.Threshold() + 100); st != StatusAlarm || d.Mean() != m {
		t.Fatalf("alarm: status %v, mean %g -> %g (want unchanged)", st, m, d.Mean())
	}
	if _, err := NewDSPOT(SPOTConfig{}, -1); err == nil || !strings.Contains(err.Error(), "depth -1 invalid") {
		t.Fatalf("depth -1: %v", err)
	}
}

func TestSPOTStepAllocationFree(t *testing.T) {
	s := calibrated(t, SPOTConfig{Q: 1e-3, MaxExcess: 200})
	d, _ := NewDSPOT(SPOTConfig{NInit: 1000, KeepAlarms: true}, 50)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		d.Step(rng.ExpFloat64())
	}
	i := 0
	xs := perfect(997, expInv) // normal values and excesses (refits)
	if a := testing.AllocsPerRun(2000, func() {
		s.Step(xs[i%len(xs)])
		d.Step(xs[i%len(xs)] + 1)
		i++
	}); a != 0 {
		t.Fatalf("Step allocates %g times", a)
	}
}

// Each side of 0 is searched: the left interval alone yields the light
// tail's likelihood root, the right interval alone the heavy tail's.
func TestGrimshawRootsBothSides(t *testing.T) {
	for _, want := range []float64{-0.3, 0.3} {
		inv := func(p float64) float64 { return 2 / want * (math.Pow(1-p, -want) - 1) }
		ys := perfect(400, inv)
		r := newExcessRing(len(ys))
		for _, y := range ys {
			r.push(y)
		}
		st := r.stats()
		mean := st.sum / float64(st.n)
		lo, hi := -(1-1e-8)/st.maxY, -1e-8/mean
		if want > 0 {
			lo, hi = 1e-8/mean, 2*(mean-st.minY)/(st.minY*st.minY)
		}
		var gammas []float64
		scanRoots(func(x float64) float64 { return grimshawW(ys, x) }, lo, hi, want > 0, func(x float64) {
			gammas = append(gammas, grimshawV(ys, x)-1)
		})
		found := false
		for _, g := range gammas {
			found = found || math.Abs(g-want) < 0.05
		}
		if !found {
			t.Errorf("GPD(%g): roots on its side give gammas %v", want, gammas)
		}
	}
}
