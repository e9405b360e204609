package anomaly

import "math"

// HighRank is the probability that the newest activeSize points rank lower
// in a random reordering of the series than they do now: the share of the
// permutations of v whose last activeSize ranks (0-based minimum ranks over
// all of v) sum to less than the observed sum S. Ties are not significant.
// It is computed exactly (see rankProbs). NA when fewer than activeSize points
// precede the active window (refSize, the spec's r, caps that window).
func HighRank(v []float64, activeSize, refSize int) float64 {
	var s scratch
	high, _ := s.rankProbs(v, activeSize, refSize)
	return high
}

// LowRank is HighRank's mirror: the share of permutations whose active rank
// sum is greater than the observed one.
func LowRank(v []float64, activeSize, refSize int) float64 {
	var s scratch
	_, low := s.rankProbs(v, activeSize, refSize)
	return low
}

// rankProbs computes highrank and lowrank together, exactly. The active rank
// sum of a random permutation is the sum of a uniformly random a-subset of
// the ranks, so the probabilities are counts of a-subsets by sum over
// C(n, a). For a = 1 that count is a single pass; otherwise a knapsack-style
// dynamic programme counts subsets by size and sum in O(n * a * S) time.
func (s *scratch) rankProbs(v []float64, a, r int) (high, low float64) {
	n := len(v)
	if a < 1 {
		return NA, NA
	}
	if _, ref := window(n, r, a); ref < a {
		return NA, NA
	}
	if a == 1 {
		return rankProbsOne(v)
	}

	rk := ranks(grow(&s.rk, n), v, grow(&s.tmp, n))
	// Shift ranks by one so that NaN's -1 becomes a valid index.
	S := 0
	for _, x := range rk[n-a:] {
		S += x + 1
	}
	// cnt[k*w+t]: number of k-subsets of the ranks seen so far with sum t.
	// Sums above S only matter as "greater", which the total gives, so the
	// table stops at S.
	w := S + 1
	cnt := grow(&s.cnt, (a+1)*w)
	clear(cnt)
	cnt[0] = 1
	for i, x := range rk {
		x++
		for k := min(i+1, a); k >= 1; k-- {
			row, prev := cnt[k*w:(k+1)*w], cnt[(k-1)*w:k*w]
			for t := w - 1; t >= x; t-- {
				row[t] += prev[t-x]
			}
		}
	}
	var less float64
	for _, c := range cnt[a*w : a*w+S] {
		less += c
	}
	equal := cnt[a*w+S]
	total := binomial(n, a)
	return less / total, max(total-less-equal, 0) / total
}

// rankProbsOne is rankProbs for a single active point: with x the newest
// value, highrank = #{v_j < x}/n and lowrank = #{v_j > x}/n, where NaN, whose
// rank is -1, counts as below every number.
func rankProbsOne(v []float64) (high, low float64) {
	x := v[len(v)-1]
	var less, greater int
	if math.IsNaN(x) {
		for _, y := range v {
			if !math.IsNaN(y) {
				greater++
			}
		}
	} else {
		for _, y := range v {
			if y < x || math.IsNaN(y) {
				less++
			} else if y > x {
				greater++
			}
		}
	}
	n := float64(len(v))
	return float64(less) / n, float64(greater) / n
}
