package anomaly

import "math/rand/v2"

// Diff asks whether the newest changes are unusually large for this series.
// With D the ranks of |RelDiff(v)| (each change relative to its new value)
// and S the sum of the newest activeSize of them, it returns the probability
// that a random reordering of v gives a smaller sum: exactly, by enumerating
// all n! orders, for series of up to 7 points; otherwise estimated from
// permCount shuffles drawn from rng (permCount <= 0 means 500; a nil rng is
// seeded randomly). NA when fewer than activeSize differences precede the
// active ones (refSize is the spec's r; the reference holds up to r-1).
func Diff(v []float64, activeSize, refSize, permCount int, rng *rand.Rand) float64 {
	permCount, rng = permDefaults(permCount, rng)
	var s scratch
	return s.diff(v, activeSize, refSize, permCount, rng, defaultLimits())
}

func (s *scratch) diff(v []float64, a, r, perms int, rng *rand.Rand, lim limits) float64 {
	n := len(v)
	if a < 1 || n < 2 {
		return NA // RelDiff of fewer than two points is [NA]: no reference.
	}
	act, ref := window(n-1, r-1, a)
	if ref < a {
		return NA
	}
	d := absRelDiffs(grow(&s.d, n-1), v)
	S := activeRankSum(d, act)
	work := grow(&s.work, n)
	copy(work, v)

	if n <= lim.diffExactN {
		below, total := s.diffExact(work, d, act, S)
		return float64(below) / float64(total)
	}
	below := 0
	for range perms {
		// Shuffling the previous order again still gives a uniform order.
		shuffle(work, rng)
		absRelDiffs(d, work)
		if activeRankSum(d, act) < S {
			below++
		}
	}
	return float64(below) / float64(perms)
}

// diffExact visits all n! orders of work with Heap's algorithm, which swaps
// one pair per step, so only the (at most four) differences next to the two
// swapped points are recomputed. d must hold |RelDiff(work)| on entry.
// Equal values are distinct points here, as they are for a shuffle.
func (s *scratch) diffExact(work, d []float64, act, S int) (below, total int) {
	n := len(work)
	c := grow(&s.heap, n)
	clear(c)
	if activeRankSum(d, act) < S {
		below++
	}
	total = 1
	for i := 1; i < n; {
		if c[i] < i {
			j := 0
			if i%2 == 1 {
				j = c[i]
			}
			work[i], work[j] = work[j], work[i]
			refreshDiffs(d, work, j)
			refreshDiffs(d, work, i)
			if activeRankSum(d, act) < S {
				below++
			}
			total++
			c[i]++
			i = 1
		} else {
			c[i] = 0
			i++
		}
	}
	return below, total
}

// refreshDiffs recomputes the two differences that involve point p.
func refreshDiffs(d, x []float64, p int) {
	if p > 0 {
		d[p-1] = absRelDiff(x[p-1], x[p])
	}
	if p < len(d) {
		d[p] = absRelDiff(x[p], x[p+1])
	}
}
