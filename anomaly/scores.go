package anomaly

// TestScores holds the capped result of each test of one Score call. It is a
// fixed-size value the caller owns and reuses, so recording per-test results
// costs no allocation; Map turns it into a map only when an alert is built.
// The zero value is empty and ready to use.
type TestScores struct {
	p   [numMethods]float64
	set [numMethods]bool
}

// Reset forgets every result.
func (t *TestScores) Reset() { *t = TestScores{} }

// Set records p as the result of test m. Unknown methods are ignored.
func (t *TestScores) Set(m Method, p float64) {
	if m < numMethods {
		t.p[m], t.set[m] = p, true
	}
}

// Get returns the result of test m and whether it was computed; a test that
// was not configured, not reached, or not applicable (NA) is not set.
func (t *TestScores) Get(m Method) (p float64, ok bool) {
	if m >= numMethods || !t.set[m] {
		return 0, false
	}
	return t.p[m], true
}

// Rank returns the single "rank" entry Eval uses in place of highrank and
// lowrank: the larger of the two when both are set, else whichever is set.
func (t *TestScores) Rank() (p float64, ok bool) {
	hi, hok := t.Get(MethodHighRank)
	lo, lok := t.Get(MethodLowRank)
	switch {
	case hok && lok:
		return max(hi, lo), true
	case hok:
		return hi, true
	case lok:
		return lo, true
	}
	return 0, false
}

// Map returns the set results keyed by method name, with highrank and
// lowrank merged into "rank" as Eval merges them. It allocates; call it only
// to build an alert.
func (t *TestScores) Map() map[string]float64 {
	m := make(map[string]float64, numMethods)
	for i := range Method(numMethods) {
		if i == MethodHighRank || i == MethodLowRank {
			continue
		}
		if p, ok := t.Get(i); ok {
			m[i.String()] = p
		}
	}
	if p, ok := t.Rank(); ok {
		m["rank"] = p
	}
	return m
}
