package anomaly

import (
	"math"
	"slices"
	"testing"
)

func TestRanks(t *testing.T) {
	nan := math.NaN()
	long := make([]float64, 40) // long enough for the sorting path
	for i := range long {
		long[i] = float64((i * 7) % 10)
	}
	longWant := make([]int, len(long))
	for i, x := range long {
		longWant[i] = 4 * int(x) // values 0..9, each 4 times
	}
	longNaN := slices.Clone(long)
	longNaN[3] = nan
	longNaNWant := make([]int, len(long))
	for i, x := range longNaN {
		switch {
		case math.IsNaN(x):
			longNaNWant[i] = -1
		case x > long[3]:
			longNaNWant[i] = 4*int(x) - 1
		default:
			longNaNWant[i] = 4 * int(x)
		}
	}
	for _, c := range []struct {
		name string
		in   []float64
		want []int
	}{
		{"spec", []float64{5, 3, 5, 1, 3}, []int{3, 1, 3, 0, 1}},
		{"empty", nil, []int{}},
		{"single", []float64{7}, []int{0}},
		{"all equal", []float64{2, 2, 2}, []int{0, 0, 0}},
		{"NaN ranks -1 and is below nothing", []float64{2, nan, 1, 3}, []int{1, -1, 0, 2}},
		{"negative and Inf", []float64{-1, math.Inf(1), math.Inf(-1), 0}, []int{1, 3, 0, 2}},
		{"long, sorted path", long, longWant},
		{"long with NaN", longNaN, longNaNWant},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ranks(nil, c.in, make([]float64, len(c.in)))
			if !slices.Equal(got, c.want) {
				t.Errorf("ranks(%v) = %v, want %v", c.in, got, c.want)
			}
			sum := 0
			for _, r := range c.want[max(len(c.want)-2, 0):] {
				sum += r
			}
			if len(c.in) >= 2 {
				if got := activeRankSum(c.in, 2); got != sum {
					t.Errorf("activeRankSum(%v, 2) = %d, want %d", c.in, got, sum)
				}
			}
		})
	}
}

func TestAbsRelDiffs(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		name string
		in   []float64
		want []float64
	}{
		{"divides by the new value", []float64{2, 4, 1}, []float64{0.5, 3}},
		{"zero new value is Inf", []float64{3, 0}, []float64{inf}},
		{"zero to zero is NaN", []float64{0, 0}, []float64{math.NaN()}},
		{"zero old value", []float64{0, 5}, []float64{1}},
		{"single point is [NA]", []float64{5}, []float64{NA}},
		{"empty is [NA]", nil, []float64{NA}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := absRelDiffs(nil, c.in)
			if len(got) != len(c.want) {
				t.Fatalf("absRelDiffs(%v) = %v, want %v", c.in, got, c.want)
			}
			for i := range got {
				if !near(got[i], c.want[i], 0) && got[i] != c.want[i] {
					t.Errorf("absRelDiffs(%v) = %v, want %v", c.in, got, c.want)
				}
			}
		})
	}
}

func TestWindow(t *testing.T) {
	for _, c := range []struct {
		n, ref, act      int
		wantAct, wantRef int
	}{
		{10, 4, 1, 1, 4}, // long series: full windows, old points ignored
		{5, 4, 1, 1, 4},
		{3, 4, 1, 1, 2}, // reference shrinks first
		{1, 4, 1, 1, 0},
		{0, 4, 1, 0, 0},
		{3, 8, 2, 2, 1},
		{1, 8, 2, 1, 0}, // then the active window
	} {
		act, ref := window(c.n, c.ref, c.act)
		if act != c.wantAct || ref != c.wantRef {
			t.Errorf("window(n=%d, ref=%d, act=%d) = (act %d, ref %d), want (%d, %d)",
				c.n, c.ref, c.act, act, ref, c.wantAct, c.wantRef)
		}
	}
}

func TestShortSeriesGiveNA(t *testing.T) {
	// a=1, r=4: magnitude needs one reference point; rank and ks need a
	// reference of a points; diff and cdf need a reference of a differences.
	for _, c := range []struct {
		name string
		f    func(v []float64) float64
		minN int
	}{
		{"magnitude", func(v []float64) float64 { return Magnitude(v, 1, 4) }, 2},
		{"highrank", func(v []float64) float64 { return HighRank(v, 1, 4) }, 2},
		{"lowrank", func(v []float64) float64 { return LowRank(v, 1, 4) }, 2},
		{"ks", func(v []float64) float64 { return KS(v, 1, 4, 100, nil) }, 2},
		{"diff", func(v []float64) float64 { return Diff(v, 1, 4, 100, nil) }, 3},
		{"cdf", func(v []float64) float64 { return CDF(v, 1, 4) }, 3},
		{"highrank a=3", func(v []float64) float64 { return HighRank(v, 3, 6) }, 6},
		{"cdf a=3", func(v []float64) float64 { return CDF(v, 3, 6) }, 7},
		{"magnitude a=0", func(v []float64) float64 { return Magnitude(v, 0, 4) }, 1 << 30},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5}
			for n := 0; n <= len(v); n++ {
				got := c.f(v[:n])
				if (got == NA) != (n < c.minN) {
					t.Errorf("n=%d: got %v, want NA exactly when n < %d", n, got, c.minN)
				}
			}
		})
	}
}

func TestMeanAndCaps(t *testing.T) {
	if m := mean(nil); !math.IsNaN(m) {
		t.Errorf("mean(empty) = %v, want NaN", m)
	}
	if m := mean([]float64{1, 2, 6}); m != 3 {
		t.Errorf("mean = %v, want 3", m)
	}
	for _, c := range []struct{ in, want float64 }{
		{-0.5, 0}, {0.25, 0.25}, {7, 1}, {math.Inf(1), 1}, {NA, NA}, {math.NaN(), math.NaN()},
	} {
		if got := capP(c.in); !near(got, c.want, 0) {
			t.Errorf("capP(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want float64 }{{0, 0}, {1, 1}, {0.5, (math.Sqrt(10) - 1) / 9}} {
		if got := weightExp(c.in); !near(got, c.want, 1e-15) {
			t.Errorf("weightExp(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestCombinations(t *testing.T) {
	for _, c := range []struct{ n, k int }{{5, 0}, {5, 1}, {5, 2}, {6, 3}, {7, 7}, {10, 4}} {
		idx := make([]int, c.k)
		firstCombination(idx)
		seen := map[string]bool{}
		for {
			if !slices.IsSorted(idx) || (c.k > 0 && (idx[0] < 0 || idx[c.k-1] >= c.n)) {
				t.Fatalf("C(%d,%d): bad combination %v", c.n, c.k, idx)
			}
			key := fmtInts(idx)
			if seen[key] {
				t.Fatalf("C(%d,%d): %v visited twice", c.n, c.k, idx)
			}
			seen[key] = true
			if !nextCombination(idx, c.n) {
				break
			}
		}
		if want := binomial(c.n, c.k); float64(len(seen)) != want {
			t.Errorf("C(%d,%d): visited %d combinations, want %v", c.n, c.k, len(seen), want)
		}
	}
	if got := binomial(30, 15); got != 155117520 {
		t.Errorf("binomial(30,15) = %v", got)
	}
}

func fmtInts(x []int) string {
	b := make([]byte, 0, 3*len(x))
	for _, v := range x {
		b = append(b, byte('0'+v), ',')
	}
	return string(b)
}
