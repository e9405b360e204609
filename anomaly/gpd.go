package anomaly

import "math"

// gpd is a generalised Pareto distribution fitted to the excesses over a
// threshold: P(Y > y) = (1 + gamma y/sigma)^(-1/gamma), or exp(-y/sigma)
// when gamma is 0.
type gpd struct {
	gamma, sigma float64
}

// quantile returns the value z with P(X > z) = q under the peaks-over-
// threshold model: t is the threshold, n the number of observations and nt
// the number of excesses over t among them.
func (g gpd) quantile(t, q float64, n, nt int) float64 {
	r := q * float64(n) / float64(nt)
	if g.gamma == 0 {
		return t - g.sigma*math.Log(r)
	}
	return t + g.sigma/g.gamma*(math.Pow(r, -g.gamma)-1)
}

// tail returns P(X > z) under the peaks-over-threshold model, the inverse
// of quantile; below t the model says nothing and tail returns nt/n.
func (g gpd) tail(z, t float64, n, nt int) float64 {
	p := float64(nt) / float64(n)
	if z <= t {
		return p
	}
	y := z - t
	if g.gamma == 0 {
		return p * math.Exp(-y/g.sigma)
	}
	b := 1 + g.gamma*y/g.sigma
	if b <= 0 { // beyond the end of a light tail
		return 0
	}
	return p * math.Pow(b, -1/g.gamma)
}

// logLik is the GPD log-likelihood of the excesses ys; it is -Inf when some
// excess lies outside the support or sigma is not positive.
func (g gpd) logLik(ys []float64) float64 {
	if !(g.sigma > 0) || math.IsInf(g.sigma, 0) || math.IsNaN(g.gamma) {
		return math.Inf(-1)
	}
	n := float64(len(ys))
	if g.gamma == 0 {
		s := 0.0
		for _, y := range ys {
			s += y
		}
		return -n*math.Log(g.sigma) - s/g.sigma
	}
	s := 0.0
	for _, y := range ys {
		b := 1 + g.gamma*y/g.sigma
		if b <= 0 {
			return math.Inf(-1)
		}
		s += math.Log(b)
	}
	return -n*math.Log(g.sigma) - (1+1/g.gamma)*s
}

// excessStats are the moments and extremes of the excesses Grimshaw and the
// method of moments need.
type excessStats struct {
	n          int
	sum, sumSq float64
	minY, maxY float64
}

// fitGPD fits a GPD to the excesses ys (all strictly positive) with the
// method of moments, with Grimshaw's maximum-likelihood roots and with
// gamma = 0, and keeps the candidate of highest log-likelihood. It does not
// allocate.
func fitGPD(ys []float64, st excessStats) gpd {
	mean := st.sum / float64(st.n)
	best := gpd{gamma: 0, sigma: mean}
	bestLL := best.logLik(ys)
	try := func(g gpd) {
		if ll := g.logLik(ys); ll > bestLL {
			best, bestLL = g, ll
		}
	}

	// Method of moments.
	if st.n > 1 {
		v := st.sumSq/float64(st.n) - mean*mean
		if v > 0 {
			r := mean * mean / v
			try(gpd{gamma: (1 - r) / 2, sigma: mean * (1 + r) / 2})
		}
	}

	// Grimshaw: the roots of w(x) = u(x) v(x) - 1 on both sides of 0. The
	// x-axis scales as 1/Y, so the margins do too.
	if st.n < 2 || st.maxY <= st.minY {
		return best
	}
	const eps = 1e-8
	w := func(x float64) float64 { return grimshawW(ys, x) }
	root := func(x float64) {
		if x == 0 {
			return
		}
		gamma := grimshawV(ys, x) - 1
		if gamma == 0 {
			return
		}
		try(gpd{gamma: gamma, sigma: gamma / x})
	}
	// Left: (-1/Ymax, 0). w is singular at -1/Ymax, so stop just short.
	lo, hi := -(1-eps)/st.maxY, -eps/mean
	if lo < hi {
		scanRoots(w, lo, hi, false, root)
	}
	// Right: (0, 2 (mean - Ymin)/Ymin^2).
	lo, hi = eps/mean, 2*(mean-st.minY)/(st.minY*st.minY)
	if lo < hi {
		scanRoots(w, lo, hi, true, root)
	}
	return best
}

// grimshawW is u(x) v(x) - 1 with u(x) = mean of 1/(1 + x y) and v(x) =
// 1 + mean of ln(1 + x y).
func grimshawW(ys []float64, x float64) float64 {
	var su, sv float64
	for _, y := range ys {
		s := 1 + x*y
		su += 1 / s
		sv += math.Log(s)
	}
	n := float64(len(ys))
	return (su/n)*(1+sv/n) - 1
}

// grimshawV is v(x) = 1 + mean of ln(1 + x y).
func grimshawV(ys []float64, x float64) float64 {
	var sv float64
	for _, y := range ys {
		sv += math.Log(1 + x*y)
	}
	return 1 + sv/float64(len(ys))
}

// rootGrid is the number of sub-intervals scanRoots splits an interval into,
// so that a pair of roots inside one interval is still bracketed.
const rootGrid = 8

// scanRoots splits (lo, hi) into rootGrid pieces (geometrically when geo is
// set, for intervals spanning many orders of magnitude), and hands found to
// every root Brent's method finds in a piece whose ends differ in sign.
func scanRoots(f func(float64) float64, lo, hi float64, geo bool, found func(float64)) {
	at := func(i int) float64 {
		if i == 0 {
			return lo
		}
		if i == rootGrid {
			return hi
		}
		u := float64(i) / rootGrid
		if geo {
			return lo * math.Pow(hi/lo, u)
		}
		return lo + (hi-lo)*u
	}
	a := lo
	fa := f(a)
	for i := 1; i <= rootGrid; i++ {
		b := at(i)
		fb := f(b)
		switch {
		case fa == 0:
			found(a)
		case fa*fb < 0:
			if x, ok := brent(f, a, b, fa, fb); ok {
				found(x)
			}
		}
		a, fa = b, fb
	}
	if fa == 0 {
		found(a)
	}
}

// brent finds a root of f in [a, b], where fa = f(a) and fb = f(b) differ in
// sign, by Brent's method (inverse quadratic interpolation and secant steps,
// guarded by bisection), to a relative tolerance near machine precision.
func brent(f func(float64) float64, a, b, fa, fb float64) (float64, bool) {
	if fa*fb > 0 || math.IsNaN(fa) || math.IsNaN(fb) {
		return 0, false
	}
	if math.Abs(fa) < math.Abs(fb) {
		a, b, fa, fb = b, a, fb, fa
	}
	c, fc := a, fa
	d := b - a
	mflag := true
	for range 200 {
		if fb == 0 {
			return b, true
		}
		tol := 1e-300 + 1e-12*math.Abs(b)
		if math.Abs(b-a) <= tol {
			return b, true
		}
		var s float64
		if fa != fc && fb != fc {
			s = a*fb*fc/((fa-fb)*(fa-fc)) + b*fa*fc/((fb-fa)*(fb-fc)) + c*fa*fb/((fc-fa)*(fc-fb))
		} else {
			s = b - fb*(b-a)/(fb-fa)
		}
		m := (3*a + b) / 4
		if !((s > m && s < b) || (s < m && s > b)) ||
			(mflag && math.Abs(s-b) >= math.Abs(b-c)/2) ||
			(!mflag && math.Abs(s-b) >= math.Abs(c-d)/2) ||
			(mflag && math.Abs(b-c) < tol) ||
			(!mflag && math.Abs(c-d) < tol) {
			s = (a + b) / 2
			mflag = true
		} else {
			mflag = false
		}
		fs := f(s)
		d, c, fc = c, b, fb
		if fa*fs < 0 {
			b, fb = s, fs
		} else {
			a, fa = s, fs
		}
		if math.Abs(fa) < math.Abs(fb) {
			a, b, fa, fb = b, a, fb, fa
		}
	}
	return b, true
}
