package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
)

// within reports whether got is within frac (relative) of want.
func within(got, want, frac float64) bool {
	return math.Abs(got-want) <= frac*math.Abs(want)
}

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
