package anomaly

import (
	"math/rand/v2"
	"slices"
)

// KS is a two-sample Kolmogorov-Smirnov permutation test of the newest
// activeSize points (n2 of them) against the up to refSize points before them
// (n1; refSize is the spec's r). The statistic D is the largest gap between
// the two empirical distribution functions over a grid of n1+n2 points from
// the smallest to the largest value of both windows; the result is the share
// of reorderings of v whose statistic is smaller than D. It is exact, by
// enumerating every way a reordering can fill the two windows, when there are
// at most 20000 such ways (C(n, n2) * C(n-n2, n1)); otherwise it is estimated
// from permCount shuffles drawn from rng (permCount <= 0 means 500; a nil rng
// is seeded randomly). NA when n1 < activeSize or n1 is not a multiple of n2.
func KS(v []float64, activeSize, refSize, permCount int, rng *rand.Rand) float64 {
	permCount, rng = permDefaults(permCount, rng)
	var s scratch
	return s.ks(v, activeSize, refSize, permCount, rng, defaultLimits())
}

func (s *scratch) ks(v []float64, a, r, perms int, rng *rand.Rand, lim limits) float64 {
	n := len(v)
	if a < 1 {
		return NA
	}
	n2, n1 := window(n, r, a)
	if n1 < a || n1%n2 != 0 {
		return NA
	}
	sr, sa := grow(&s.sr, n1), grow(&s.sa, n2)
	D := ksStat(v[n-n2-n1:n-n2], v[n-n2:], sr, sa)

	if binomial(n, n2)*binomial(n-n2, n1) <= lim.ksExactMax {
		return s.ksExact(v, n1, n2, D)
	}
	work := grow(&s.work, n)
	copy(work, v)
	below := 0
	for range perms {
		// Only the windows' contents matter, so only they are drawn.
		shuffleTail(work, n1+n2, rng)
		if ksStat(work[n-n2-n1:n-n2], work[n-n2:], sr, sa) < D {
			below++
		}
	}
	return float64(below) / float64(perms)
}

// ksExact enumerates every (active n2-subset, reference n1-subset of the
// rest) of v's points: each is equally likely under a uniform shuffle, and
// together they determine the statistic.
func (s *scratch) ksExact(v []float64, n1, n2, D int) float64 {
	n := len(v)
	ia := grow(&s.ia, n2)
	ir := grow(&s.ir, n1)
	rest := grow(&s.rest, n-n2)
	sr, sa := s.sr[:n1], s.sa[:n2]
	below, total := 0, 0
	firstCombination(ia)
	for {
		k, r := 0, 0
		for i := range n {
			if k < n2 && ia[k] == i {
				sa[k] = v[i]
				k++
			} else {
				rest[r] = i
				r++
			}
		}
		slices.Sort(sa)
		firstCombination(ir)
		for {
			for t, j := range ir {
				sr[t] = v[rest[j]]
			}
			slices.Sort(sr)
			if ksSweep(sr, sa) < D {
				below++
			}
			total++
			if !nextCombination(ir, len(rest)) {
				break
			}
		}
		if !nextCombination(ia, n) {
			break
		}
	}
	return float64(below) / float64(total)
}

// ksStat sorts copies of the windows into sr and sa and returns ksSweep.
func ksStat(ref, act, sr, sa []float64) int {
	copy(sr, ref)
	copy(sa, act)
	slices.Sort(sr)
	slices.Sort(sa)
	return ksSweep(sr, sa)
}

// ksSweep returns the KS statistic of sorted windows sr (n1 values) and sa
// (n2 values, n1 a multiple of n2) scaled by n1: max over the grid of
// |F_act(g) - F_ref(g)| * n1. Scaled, it is an integer, so permutations are
// compared exactly rather than up to rounding. The grid has n1+n2 points,
// built as the spec says by repeatedly adding (hi-lo)/(n1+n2-1) to lo; the
// rounding of that sum decides whether the last point reaches hi.
func ksSweep(sr, sa []float64) int {
	n1, n2 := len(sr), len(sa)
	k := n1 / n2 // F_act(g)*n1 = (count in sa)*k
	lo := min(sr[0], sa[0])
	hi := max(sr[n1-1], sa[n2-1])
	step := (hi - lo) / float64(n1+n2-1)
	g := lo
	i, j, best := 0, 0, 0
	for t := range n1 + n2 {
		if t > 0 {
			g += step
		}
		for i < n1 && sr[i] <= g {
			i++
		}
		for j < n2 && sa[j] <= g {
			j++
		}
		best = max(best, abs(j*k-i))
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
