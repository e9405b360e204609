package anomaly

// scratch holds the buffers the permutation tests reuse between calls, so
// that scoring does not allocate once they have grown to the longest series.
type scratch struct {
	work   []float64 // the series being permuted
	d      []float64 // |RelDiff| of the current order (diff)
	tmp    []float64 // sorting space for ranks of long series
	sr, sa []float64 // sorted reference and active windows (ks)
	cnt    []float64 // subset counts by rank sum (highrank, lowrank)
	rk     []int     // ranks of the series (highrank, lowrank)
	heap   []int     // Heap's algorithm state (diff, exact)
	ia     []int     // active-window indices (ks, exact)
	ir     []int     // reference-window picks among rest (ks, exact)
	rest   []int     // indices not in the active window (ks, exact)
}

// grow returns (*b)[:n], reallocating only when the capacity is too small.
func grow[T any](b *[]T, n int) []T {
	if cap(*b) < n {
		*b = make([]T, n)
	}
	*b = (*b)[:n]
	return *b
}

// limits decide when a test enumerates every permutation instead of sampling.
// They are fields, not constants, so tests can force either path.
type limits struct {
	diffExactN int     // diff enumerates all n! orders for series of up to this many points
	ksExactMax float64 // ks enumerates window fillings when there are at most this many
}

// defaultLimits: 7! = 5040 orders (8! would cost half a millisecond per
// score); 20000 ks window fillings.
func defaultLimits() limits { return limits{diffExactN: 7, ksExactMax: 20000} }
