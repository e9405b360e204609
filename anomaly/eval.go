package anomaly

import "math"

// Score runs the configured tests on series and combines them as the spec's
// Eval: with Delay, 0 until the series holds NSeasons*ActiveSize+ActiveSize
// points; each test capped to [0, 1] and skipped when NA; highrank and
// lowrank merged into one "rank" entry, their maximum; 0 when magnitude is
// below Sensitivity; otherwise the mean of the entries weighted 0.5, except
// magnitude and fence above 0.8, which weigh 5; NaN becomes 0.
//
// Magnitude runs first, and when it is below Sensitivity (or NaN) Score
// returns 0 at once without running the other, costlier tests: the gate
// makes the result 0 anyway. tests then holds only magnitude.
//
// tests, if not nil, is reset and then receives every computed result.
// Score does not allocate once its buffers have grown to the longest series.
func (a *Anomalyzer) Score(series []float64, tests *TestScores) float64 {
	if tests == nil {
		tests = &a.own
	}
	tests.Reset()
	c := &a.cfg
	act := c.ActiveSize
	if c.Delay && len(series) < a.ref+act {
		return 0
	}
	record := func(m Method, p float64) {
		if p = capP(p); p != NA {
			tests.Set(m, p)
		}
	}

	if a.has[MethodMagnitude] {
		p := capP(Magnitude(series, act, a.ref))
		if p != NA {
			tests.Set(MethodMagnitude, p)
			if !(p >= c.Sensitivity) {
				return 0
			}
		}
	}
	if a.has[MethodFence] {
		record(MethodFence, Fence(series, act, c.UpperBound, c.LowerBound))
	}
	if a.has[MethodCDF] {
		record(MethodCDF, CDF(series, act, a.ref))
	}
	if a.has[MethodHighRank] || a.has[MethodLowRank] {
		high, low := a.s.rankProbs(series, act, a.ref)
		if a.has[MethodHighRank] {
			record(MethodHighRank, high)
		}
		if a.has[MethodLowRank] {
			record(MethodLowRank, low)
		}
	}
	if a.has[MethodDiff] {
		record(MethodDiff, a.s.diff(series, act, a.ref, c.PermCount, a.rng, a.lim))
	}
	if a.has[MethodKS] {
		record(MethodKS, a.s.ks(series, act, a.ref, c.PermCount, a.rng, a.lim))
	}
	return combine(tests, c.Sensitivity)
}

// combine is Eval's weighting of the recorded entries.
func combine(t *TestScores, sensitivity float64) float64 {
	var sum, weights float64
	add := func(p float64, heavy bool) {
		w := 0.5
		if heavy && p > 0.8 {
			w = 5
		}
		sum += w * p
		weights += w
	}
	if p, ok := t.Get(MethodMagnitude); ok {
		if p < sensitivity {
			return 0
		}
		add(p, true)
	}
	if p, ok := t.Get(MethodFence); ok {
		add(p, true)
	}
	for _, m := range [...]Method{MethodCDF, MethodDiff, MethodKS} {
		if p, ok := t.Get(m); ok {
			add(p, false)
		}
	}
	if p, ok := t.Rank(); ok {
		add(p, false)
	}
	res := sum / weights // 0/0 = NaN when nothing was recorded
	if math.IsNaN(res) {
		return 0
	}
	return res
}
