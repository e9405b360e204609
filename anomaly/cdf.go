package anomaly

import "math"

// CDF asks whether the newest absolute step is unusual: with G the absolute
// first differences |v[i+1]-v[i]|, an active window of the newest activeSize
// of them and a reference of up to refSize-1 before (refSize is the spec's r;
// one difference fewer than points), q = mean(active) - mean(reference) and
// p = ECDF_reference(q), it returns 2*|0.5 - p|: 0 when q sits at the
// reference's median, 1 at either extreme. Deterministic. NA when the
// reference holds fewer than activeSize differences.
func CDF(v []float64, activeSize, refSize int) float64 {
	if activeSize < 1 || len(v) < 2 {
		return NA // Diff of fewer than two points is [NA]: no reference.
	}
	m := len(v) - 1
	act, ref := window(m, refSize-1, activeSize)
	if ref < activeSize {
		return NA
	}
	lo := m - act - ref // first reference difference; difference i is v[i+1]-v[i]
	var sr, sa float64
	for i := lo; i < m-act; i++ {
		sr += math.Abs(v[i+1] - v[i])
	}
	for i := m - act; i < m; i++ {
		sa += math.Abs(v[i+1] - v[i])
	}
	q := sa/float64(act) - sr/float64(ref)
	c := 0
	for i := lo; i < m-act; i++ {
		if math.Abs(v[i+1]-v[i]) <= q {
			c++
		}
	}
	p := float64(c) / float64(ref)
	return 2 * math.Abs(0.5-p)
}
