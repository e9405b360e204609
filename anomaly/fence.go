package anomaly

import "math"

// Fence scores how far the mean of the newest activeSize points lies towards
// or past the configured bounds, on the exponential weightExp scale so that
// it stays small near the middle. With lower == NA the fence is one-sided:
// d = mean/upper. Otherwise it is two-sided around the midpoint of
// [lower, upper]: d = |mean - mid| / ((upper-lower)/2). It never returns NA;
// an empty series gives NaN, which makes Eval return 0.
func Fence(v []float64, activeSize int, upper, lower float64) float64 {
	act := max(min(activeSize, len(v)), 0)
	x := mean(v[len(v)-act:])
	var d float64
	if lower == NA {
		d = x / upper
	} else {
		h := (upper - lower) / 2
		mid := lower + h
		d = math.Abs(x-mid) / h
	}
	return weightExp(capP(d))
}
