package anomaly

import (
	"math"
	"math/rand/v2"
	"slices"
)

// window returns the sizes of the active and reference windows of a series of
// n points, W(v, refSize, actSize, ·) in the spec: the newest act points and
// the ref points before them. Both shrink while the series is short; the
// caller compares ref with its own minimum and returns NA below it.
// The reference window is v[n-act-ref : n-act], the active one v[n-act:].
func window(n, refSize, actSize int) (act, ref int) {
	act = min(actSize, n)
	ref = min(refSize, n-act)
	return act, ref
}

// mean is the arithmetic mean; NaN for an empty slice, as the spec requires.
func mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// absRelDiffs writes |x[i+1]-x[i]| / |x[i+1]| into dst: the size of each
// change relative to the NEW value. A zero new value gives +Inf, or NaN when
// both are zero. For fewer than two points it writes the single value NA,
// as the spec's RelDiff does.
func absRelDiffs(dst, x []float64) []float64 {
	if len(x) < 2 {
		return append(dst[:0], NA)
	}
	dst = dst[:0]
	for i := 1; i < len(x); i++ {
		dst = append(dst, absRelDiff(x[i-1], x[i]))
	}
	return dst
}

// absRelDiff is one element of absRelDiffs.
func absRelDiff(prev, cur float64) float64 { return math.Abs((cur - prev) / cur) }

// ranks writes the 0-based minimum rank of every x[i] into dst:
// #{j : x[j] < x[i]}, so ties share the lowest rank; NaN ranks -1.
// tmp is scratch for long inputs, where sorting beats counting pairs.
func ranks(dst []int, x, tmp []float64) []int {
	dst = dst[:0]
	if len(x) <= 32 {
		for _, xi := range x {
			dst = append(dst, rankOf(x, xi))
		}
		return dst
	}
	tmp = append(tmp[:0], x...)
	slices.Sort(tmp) // NaNs sort first
	nan := 0
	for nan < len(tmp) && math.IsNaN(tmp[nan]) {
		nan++
	}
	sorted := tmp[nan:]
	for _, xi := range x {
		if math.IsNaN(xi) {
			dst = append(dst, -1)
			continue
		}
		i, _ := slices.BinarySearch(sorted, xi) // first index with sorted[i] >= xi
		dst = append(dst, i)
	}
	return dst
}

// rankOf is the minimum rank of xi among x: #{j : x[j] < xi}, -1 for NaN.
func rankOf(x []float64, xi float64) int {
	if math.IsNaN(xi) {
		return -1
	}
	r := 0
	for _, xj := range x {
		if xj < xi {
			r++
		}
	}
	return r
}

// activeRankSum is the sum of the ranks, among all of x, of its last act values.
// The rank tests only need these, so the other ranks are never computed.
func activeRankSum(x []float64, act int) int {
	s := 0
	for _, xi := range x[len(x)-act:] {
		s += rankOf(x, xi)
	}
	return s
}

// capP clamps a test value to [0, 1]. NaN and NA pass through so that Eval
// can still tell "not applicable" and "broken" apart.
func capP(x float64) float64 {
	if math.IsNaN(x) || x == NA {
		return x
	}
	return max(min(x, 1), 0)
}

// weightExp maps [0, 1] onto itself exponentially, (10^x - 1)/9, so the fence
// stays small until the value is well past the midpoint.
func weightExp(x float64) float64 {
	return (math.Pow(10, x) - 1) / 9
}

// shuffle puts x into a uniformly random order (Fisher-Yates). It avoids
// rand.Rand.Shuffle's swap callback to keep the hot loop simple.
func shuffle(x []float64, rng *rand.Rand) {
	for i := len(x) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		x[i], x[j] = x[j], x[i]
	}
}

// shuffleTail puts a uniformly random sample of k of x's values, in random
// order, into its last k slots: the first k steps of Fisher-Yates. The ks
// test only looks at its windows, and their contents are distributed exactly
// as after a full shuffle.
func shuffleTail(x []float64, k int, rng *rand.Rand) {
	for i := len(x) - 1; i >= len(x)-k && i > 0; i-- {
		j := rng.IntN(i + 1)
		x[i], x[j] = x[j], x[i]
	}
}

// binomial is C(n, k) as a float64: exact while it fits in 53 bits, which
// covers every size where it decides between exact and Monte Carlo paths.
func binomial(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	k = min(k, n-k)
	c := 1.0
	for i := 0; i < k; i++ {
		c = c * float64(n-i) / float64(i+1)
	}
	return c
}

// nextCombination advances idx, k strictly increasing indices into [0, n),
// to the next k-subset in lexicographic order; false after the last one.
func nextCombination(idx []int, n int) bool {
	k := len(idx)
	i := k - 1
	for i >= 0 && idx[i] == n-k+i {
		i--
	}
	if i < 0 {
		return false
	}
	idx[i]++
	for j := i + 1; j < k; j++ {
		idx[j] = idx[j-1] + 1
	}
	return true
}

// firstCombination sets idx to 0, 1, ..., k-1.
func firstCombination(idx []int) {
	for i := range idx {
		idx[i] = i
	}
}

// permDefaults applies the defaults of the standalone permutation tests:
// DefaultPermCount shuffles, and a randomly seeded source when none is given.
func permDefaults(permCount int, rng *rand.Rand) (int, *rand.Rand) {
	if permCount <= 0 {
		permCount = DefaultPermCount
	}
	if rng == nil {
		rng = randomRand()
	}
	return permCount, rng
}
