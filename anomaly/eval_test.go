package anomaly

import (
	"math"
	"sync"
	"testing"
)

func TestCombine(t *testing.T) {
	nan := math.NaN()
	type e struct {
		m Method
		p float64
	}
	for _, c := range []struct {
		name    string
		entries []e
		sens    float64
		want    float64
	}{
		{"no entries", nil, 0.1, 0},
		{"NaN entry", []e{{MethodCDF, 1}, {MethodKS, nan}}, 0.1, 0},
		{"NaN magnitude", []e{{MethodMagnitude, nan}, {MethodCDF, 1}}, 0.1, 0},
		{"light weights", []e{{MethodCDF, 0.2}, {MethodKS, 0.6}, {MethodDiff, 1}}, 0.1, 0.6},
		{"magnitude gate", []e{{MethodMagnitude, 0.49}, {MethodCDF, 1}}, 0.5, 0},
		{"magnitude at sensitivity passes", []e{{MethodMagnitude, 0.5}, {MethodCDF, 1}}, 0.5, 0.75},
		{"magnitude 0.8 is light", []e{{MethodMagnitude, 0.8}, {MethodCDF, 0}}, 0.1, 0.4},
		{"magnitude above 0.8 weighs 5", []e{{MethodMagnitude, 0.9}, {MethodCDF, 0}}, 0.1, 4.5 / 5.5},
		{"fence above 0.8 weighs 5", []e{{MethodFence, 1}, {MethodKS, 0}}, 0.1, 5 / 5.5},
		{"fence 0.8 is light", []e{{MethodFence, 0.8}, {MethodKS, 0}}, 0.1, 0.4},
		{"rank merge takes the max", []e{{MethodHighRank, 0.2}, {MethodLowRank, 0.7}, {MethodCDF, 0.1}}, 0.1, 0.4},
		{"rank from highrank alone", []e{{MethodHighRank, 0.9}, {MethodCDF, 0.1}}, 0.1, 0.5},
		{"rank from lowrank alone", []e{{MethodLowRank, 0.9}}, 0.1, 0.9},
		{"gate without magnitude does nothing", []e{{MethodCDF, 0.05}}, 0.9, 0.05},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ts TestScores
			for _, x := range c.entries {
				ts.Set(x.m, x.p)
			}
			if got := combine(&ts, c.sens); !near(got, c.want, tol) {
				t.Errorf("combine = %v, want %v", got, c.want)
			}
		})
	}
}

func TestScoreNaNAndEmpty(t *testing.T) {
	all := []string{"magnitude", "diff", "highrank", "lowrank", "fence", "ks", "cdf"}
	a := newTest(t, Config{ActiveSize: 1, UpperBound: 10, Methods: all}, 1)
	nan := math.NaN()
	for _, v := range [][]float64{
		nil,
		{5},
		{1, 2, 3, 4, nan},
		{nan, nan, nan, nan, nan, nan},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, nan},   // NaN newest: magnitude NaN
		{1, 2, 3, 4, 5, 6, nan, 8, 9, 10, 100}, // NaN in the reference
	} {
		var ts TestScores
		if p := a.Score(v, &ts); p != 0 {
			t.Errorf("Score(%v) = %v (tests %v), want 0", v, p, ts.Map())
		}
	}
	// Without magnitude nothing gates, and a NaN fence still gives 0.
	a = newTest(t, Config{ActiveSize: 1, UpperBound: 10, Methods: []string{"fence", "cdf"}}, 1)
	if p := a.Score(nil, nil); p != 0 {
		t.Errorf("Score(empty) = %v, want 0", p)
	}
}

func TestScoreDelay(t *testing.T) {
	cfg := Config{ActiveSize: 1, NSeasons: 4, Methods: []string{"magnitude", "highrank"}, Delay: true}
	a := newTest(t, cfg, 1)
	spike := []float64{10, 10, 10, 10, 1000}
	var ts TestScores
	if p := a.Score(spike[1:], &ts); p != 0 || len(ts.Map()) != 0 {
		t.Errorf("Delay, 4 < r+a = 5 points: Score = %v, tests %v; want 0 and no tests", p, ts.Map())
	}
	if p := a.Score(spike, &ts); !near(p, (5*1+0.5*0.8)/5.5, tol) {
		t.Errorf("Delay, 5 points: Score = %v, want %v", p, (5*1+0.5*0.8)/5.5)
	}
	cfg.Delay = false
	if p := newTest(t, cfg, 1).Score(spike[2:], &ts); !near(p, (5*1+0.5*2.0/3)/5.5, tol) {
		t.Errorf("no Delay, 3 points: Score = %v, want %v", p, (5*1+0.5*2.0/3)/5.5)
	}
}

func TestScoreGateShortCircuits(t *testing.T) {
	cfg := Config{ActiveSize: 1, Sensitivity: 0.5, UpperBound: 1, LowerBound: NA,
		Methods: []string{"magnitude", "highrank", "lowrank", "diff", "fence", "cdf", "ks"}}
	a := newTest(t, cfg, 1)
	var ts TestScores
	ts.Set(MethodKS, 0.3) // stale value from an earlier flow must go
	steady := []float64{1000, 1010, 990, 1005, 995, 1000, 1010, 990, 1005, 1020}
	if p := a.Score(steady, &ts); p != 0 {
		t.Errorf("steady series scored %v, want 0", p)
	}
	got := ts.Map()
	if len(got) != 1 || !near(got["magnitude"], 18.75/1001.25, 1e-12) {
		t.Errorf("tests after the gate = %v, want only magnitude", got)
	}
	// Magnitude NA (a single point): no gate, the fence alone decides.
	if p := a.Score([]float64{1000}, &ts); p != 1 {
		t.Errorf("single point above a one-sided fence scored %v, want 1", p)
	}
	if _, ok := ts.Get(MethodMagnitude); ok {
		t.Errorf("magnitude set for a single point: %v", ts.Map())
	}
	if _, ok := ts.Get(MethodFence); !ok {
		t.Errorf("fence not run when magnitude is NA: %v", ts.Map())
	}
}

func TestFence(t *testing.T) {
	w := func(d float64) float64 { return (math.Pow(10, d) - 1) / 9 }
	for _, c := range []struct {
		name         string
		v            []float64
		a            int
		upper, lower float64
		want         float64
	}{
		{"one-sided, half way", []float64{0, 5}, 1, 10, NA, w(0.5)},
		{"one-sided, above upper caps at 1", []float64{30}, 1, 10, NA, 1},
		{"one-sided, negative caps at 0", []float64{-3}, 1, 10, NA, 0},
		{"one-sided, active mean", []float64{100, 2, 4}, 2, 10, NA, w(0.3)},
		{"two-sided, L=0 midpoint U/2", []float64{5}, 1, 10, 0, 0},
		{"two-sided, below the midpoint", []float64{1}, 1, 10, 0, w(0.8)},
		{"two-sided, above the midpoint", []float64{9}, 1, 10, 0, w(0.8)},
		{"two-sided, spec check", []float64{0.5}, 1, 10, 0, 0.771476},
		{"two-sided, outside", []float64{-20}, 1, 10, 0, 1},
		{"two-sided, shifted", []float64{25}, 1, 30, 10, w(0.5)},
		{"empty is NaN, not NA", nil, 1, 10, NA, math.NaN()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Fence(c.v, c.a, c.upper, c.lower); !near(got, c.want, 1e-6) {
				t.Errorf("Fence(%v, a=%d, U=%v, L=%v) = %v, want %v", c.v, c.a, c.upper, c.lower, got, c.want)
			}
		})
	}
}

func TestMagnitudeAndReferenceMean(t *testing.T) {
	for _, c := range []struct {
		name    string
		v       []float64
		a, r    int
		want    float64
		refMean float64
	}{
		{"spec A", []float64{2, 4, 4, 6, 4, 8}, 1, 4, 3.5 / 4.5, 4.5},
		{"zero to zero", []float64{0, 0, 0}, 1, 4, 0, 0},
		{"zero to something", []float64{0, 0, 7}, 1, 4, 1, 0},
		{"drop", []float64{10, 10, 5}, 1, 4, 0.5, 10},
		{"negative reference", []float64{-2, 2}, 1, 4, -2, -2},
		{"a=2 window", []float64{99, 1, 2, 3, 4, 10, 20}, 2, 4, 5, 2.5},
		{"too short", []float64{10}, 1, 4, NA, math.NaN()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Magnitude(c.v, c.a, c.r); !near(got, c.want, tol) {
				t.Errorf("Magnitude = %v, want %v", got, c.want)
			}
			cfg := Config{ActiveSize: c.a, NSeasons: c.r / c.a}
			if got := ReferenceMean(c.v, cfg); !near(got, c.refMean, tol) {
				t.Errorf("ReferenceMean = %v, want %v", got, c.refMean)
			}
		})
	}
	if got := ReferenceMean([]float64{1, 2, 3, 4, 5, 100}, Config{ActiveSize: 1}); got != 3.5 {
		t.Errorf("ReferenceMean with default NSeasons = %v, want 3.5", got)
	}
}

func TestTestScoresMap(t *testing.T) {
	var ts TestScores
	if m := ts.Map(); len(m) != 0 {
		t.Errorf("zero TestScores map = %v", m)
	}
	ts.Set(MethodMagnitude, 1)
	ts.Set(MethodHighRank, 0.25)
	ts.Set(MethodLowRank, 0.5)
	ts.Set(MethodKS, 0)
	ts.Set(Method(99), 1) // ignored
	m := ts.Map()
	want := map[string]float64{"magnitude": 1, "rank": 0.5, "ks": 0}
	if len(m) != len(want) {
		t.Errorf("Map = %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("Map = %v, want %v", m, want)
		}
	}
	ts.Reset()
	if _, ok := ts.Get(MethodMagnitude); ok || len(ts.Map()) != 0 {
		t.Errorf("Reset left %v", ts.Map())
	}
}

// Each goroutine owns its Anomalyzer; run under -race this shows they share
// no state, and that equal seeds give equal results.
func TestScoreConcurrentDetectors(t *testing.T) {
	cfg := Config{ActiveSize: 1, Sensitivity: 0.5, Methods: []string{"magnitude", "highrank", "lowrank", "diff", "ks"}}
	series := []float64{1200, 900, 1100, 1000, 950, 1050, 980, 1020, 1010, 90000, 1000, 80000}
	var want float64
	ref := newTest(t, cfg, 7)
	for range 20 {
		want = ref.Score(series, nil)
	}
	var wg sync.WaitGroup
	got := make([]float64, 4)
	for i := range got {
		a := newTest(t, cfg, 7)
		wg.Go(func() {
			for range 20 {
				got[i] = a.Score(series, nil)
			}
		})
	}
	wg.Wait()
	for i, p := range got {
		if p != want {
			t.Errorf("goroutine %d: %v, want %v", i, p, want)
		}
	}
}

func TestName(t *testing.T) {
	var d Detector = newTest(t, Config{ActiveSize: 1}, 1)
	if d.Name() != "anomalyzer" {
		t.Errorf("Name = %q", d.Name())
	}
}

func TestCDF(t *testing.T) {
	for _, c := range []struct {
		name string
		v    []float64
		a, r int
		want float64
	}{
		{"spec, constant", []float64{5, 5, 5, 5, 5, 5}, 1, 4, 1},
		{"spec", []float64{10, 12, 11, 13, 12, 14.5}, 1, 4, 1.0 / 3},
		{"reference value equal to q counts", []float64{10, 10, 13, 10, 15}, 1, 4, 1}, // G ref [0 3 3], q = 3
		{"q at the median", []float64{0, 1, 3, 12, 17}, 1, 4, 1.0 / 3},                // G ref [1 2 9], q = 1
		{"a=2", []float64{0, 1, 3, 6, 10, 15, 21}, 2, 4, 1.0 / 3},                     // G ref [2 3 4], q = 2.5
		{"window shrinks", []float64{1, 2, 4}, 1, 4, 1},                               // G ref [1], q = 1
		{"too short", []float64{1, 2}, 1, 4, NA},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := CDF(c.v, c.a, c.r); !near(got, c.want, tol) {
				t.Errorf("CDF(%v, a=%d) = %v, want %v", c.v, c.a, got, c.want)
			}
		})
	}
}
