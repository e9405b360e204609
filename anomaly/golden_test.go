package anomaly

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

const tol = 1e-9

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol || (math.IsNaN(got) && math.IsNaN(want))
}

// newTest builds an Anomalyzer with a seeded RNG or fails the test.
func newTest(t testing.TB, cfg Config, seed uint64) *Anomalyzer {
	t.Helper()
	a, err := NewAnomalyzer(cfg, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	if err != nil {
		t.Fatalf("NewAnomalyzer(%+v): %v", cfg, err)
	}
	return a
}

func checkScores(t *testing.T, ts *TestScores, want map[string]float64, tol float64) {
	t.Helper()
	got := ts.Map()
	if len(got) != len(want) {
		t.Errorf("tests = %v, want keys of %v", got, want)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !near(g, w, tol) {
			t.Errorf("tests[%q] = %v (present %v), want %v", k, g, ok, w)
		}
	}
}

// Example A of the spec.
func TestGoldenExampleA(t *testing.T) {
	data := []float64{2, 4, 4, 6, 4, 8}
	cfg := Config{ActiveSize: 1, NSeasons: 4, UpperBound: 10, LowerBound: 0, Sensitivity: 0.1,
		Methods: []string{"magnitude", "fence", "cdf"}}
	var ts TestScores
	p := newTest(t, cfg, 1).Score(data, &ts)
	if !near(p, 0.7030027, 1e-7) {
		t.Errorf("Eval = %.9f, want 0.7030027", p)
	}
	checkScores(t, &ts, map[string]float64{"magnitude": 7.0 / 9, "fence": (math.Pow(10, 0.6) - 1) / 9, "cdf": 1}, tol)
	if got := ts.Map()["fence"]; !near(got, 0.331230, 1e-6) {
		t.Errorf("fence = %v, want 0.331230", got)
	}

	cfg.Sensitivity = 0.8
	if p := newTest(t, cfg, 1).Score(data, &ts); p != 0 {
		t.Errorf("Eval with Sensitivity 0.8 = %v, want 0 (gate)", p)
	}
}

// Example B of the spec: exact diff, then the Monte Carlo path.
func TestGoldenExampleB(t *testing.T) {
	data := []float64{0.1, 2.05, 1.5, 2.5, 2.6, 2.55, 8}
	cfg := Config{ActiveSize: 1, NSeasons: 4, UpperBound: 5, LowerBound: NA,
		Methods: []string{"diff", "fence", "highrank", "lowrank", "magnitude"}}
	const want = (5*1 + 5*1 + 0.5*6.0/7 + 0.5*47.0/70) / 11
	if !near(want, 0.978571, 1e-6) {
		t.Fatalf("spec arithmetic: %v", want)
	}
	var ts TestScores
	a := newTest(t, cfg, 1)
	if p := a.Score(data, &ts); !near(p, want, tol) {
		t.Errorf("Eval = %.9f, want %.9f", p, want)
	}
	checkScores(t, &ts, map[string]float64{"magnitude": 1, "fence": 1, "rank": 6.0 / 7, "diff": 47.0 / 70}, tol)
	if p, _ := ts.Get(MethodHighRank); !near(p, 6.0/7, tol) {
		t.Errorf("highrank = %v, want 6/7", p)
	}
	if p, _ := ts.Get(MethodLowRank); p != 0 {
		t.Errorf("lowrank = %v, want 0", p)
	}

	// Monte Carlo: 500 permutations, seeded.
	a = newTest(t, cfg, 42)
	a.lim.diffExactN = 0
	p := a.Score(data, &ts)
	if !near(p, want, 0.002) {
		t.Errorf("Monte Carlo Eval = %.6f, want %.6f within 0.002", p, want)
	}
	if d, _ := ts.Get(MethodDiff); d == 47.0/70 || !near(d, 47.0/70, 0.05) {
		t.Errorf("Monte Carlo diff = %v, want near but not exactly 47/70 (is the Monte Carlo path taken?)", d)
	}
}

// Example C of the spec.
func TestGoldenExampleC(t *testing.T) {
	data := []float64{1, 2, 3, 4, 10, 12}
	if D := ksStat(data[:4], data[4:], make([]float64, 4), make([]float64, 2)); D != 4 {
		t.Errorf("D*n1 = %d, want 4 (D = 1)", D)
	}
	cfg := Config{ActiveSize: 2, NSeasons: 2, Methods: []string{"ks"}}
	var ts TestScores
	a := newTest(t, cfg, 1)
	if p := a.Score(data, &ts); !near(p, 14.0/15, tol) {
		t.Errorf("Eval = %v, want 14/15", p)
	}
	checkScores(t, &ts, map[string]float64{"ks": 14.0 / 15}, tol)
	if p := KS(data, 2, 4, 500, nil); !near(p, 14.0/15, tol) {
		t.Errorf("KS = %v, want 14/15", p)
	}
}

// The spec's "Small checks".
func TestGoldenSmallChecks(t *testing.T) {
	v := []float64{3, 1, 4, 2, 9}
	if p := HighRank(v, 1, 4); !near(p, 4.0/5, tol) {
		t.Errorf("highrank(%v) = %v, want 4/5", v, p)
	}
	if p := LowRank(v, 1, 4); p != 0 {
		t.Errorf("lowrank(%v) = %v, want 0", v, p)
	}
	for _, c := range []struct {
		v    []float64
		want float64
	}{
		{[]float64{5, 5, 5, 5, 5, 5}, 1},
		{[]float64{10, 12, 11, 13, 12, 14.5}, 1.0 / 3},
	} {
		if p := CDF(c.v, 1, 4); !near(p, c.want, tol) {
			t.Errorf("cdf(%v) = %v, want %v", c.v, p, c.want)
		}
	}
	if p := Fence([]float64{0.5}, 1, 10, 0); !near(p, 0.771476, 1e-6) || !near(p, (math.Pow(10, 0.9)-1)/9, tol) {
		t.Errorf("fence(0.5; U=10, L=0) = %v, want 0.771476", p)
	}
	c := Config{ActiveSize: 1, NSeasons: 3}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "NSeasons 3") {
		t.Errorf("Validate(a=1, NSeasons=3) = %v, want an error naming NSeasons 3", err)
	}
}
