package synth

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// rng draws everything the generator needs from one PCG stream. It uses only
// the integer output of PCG (whose sequence math/rand/v2 specifies) and
// correctly rounded float operations, so a seed yields the same capture on
// every platform and Go release: no library distributions, no fused
// multiply-adds (explicit float64 conversions forbid fusion).
type rng struct{ pcg rand.PCG }

func newRNG(seed, stream uint64) *rng {
	r := &rng{}
	r.pcg.Seed(seed, stream)
	return r
}

func (r *rng) u64() uint64 { return r.pcg.Uint64() }

// intn returns a value in [0, n). Multiply-shift without rejection: the bias
// (n/2^64) is irrelevant here and the draw always consumes one value, which
// keeps streams aligned.
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// int63n is intn for int64 ranges (timestamps).
func (r *rng) int63n(n int64) int64 {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int64(hi)
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// float returns a value in [0, 1).
func (r *rng) float() float64 { return float64(r.u64()>>11) * 0x1p-53 }

func (r *rng) chance(p float64) bool { return r.float() < p }

// normal approximates a standard normal variate by the Irwin-Hall sum of 12
// uniforms: bounded to +-6, which suits traffic noise better than real tails.
func (r *rng) normal() float64 {
	s := 0.0
	for range 12 {
		s += r.float()
	}
	return s - 6
}

// lognormal returns exp(sigma*z) for a standard normal z.
func (r *rng) lognormal(sigma float64) float64 {
	return exp(float64(sigma * r.normal()))
}

const ln2 = 0.6931471805599453

// exp is e^x for moderate x, by range reduction and a Taylor polynomial,
// written with basic operations only (see rng) so it is reproducible
// bit for bit, unlike math.Exp, which has assembly variants.
func exp(x float64) float64 {
	k := math.Floor(x/ln2 + 0.5)
	rr := x - float64(k*ln2)
	p := 1.0
	for i := 16; i >= 1; i-- {
		p = 1 + float64(rr*p)/float64(i)
	}
	return math.Ldexp(p, int(k))
}

// wave is a smooth periodic function of period 1 with range [-1, 1], shaped
// like sin(2*pi*u) (two parabolic arcs) and built from basic operations.
func wave(u float64) float64 {
	u -= math.Floor(u)
	if u < 0.5 {
		v := 2 * u
		return 4 * float64(v*(1-v))
	}
	v := 2*u - 1
	return -4 * float64(v*(1-v))
}
