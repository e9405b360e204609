package anomaly

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzScore feeds arbitrary values (NaN, Inf, negative, huge) through every
// test: Score must not panic and must return a probability in [0, 1], and
// every recorded test must be in [0, 1] or NaN.
func FuzzScore(f *testing.F) {
	enc := func(v ...float64) []byte {
		b := make([]byte, 0, 8*len(v))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	f.Add(uint8(1), uint8(0x7f), enc(2, 4, 4, 6, 4, 8))
	f.Add(uint8(2), uint8(0x7f), enc(1, 2, 3, 4, 10, 12, 0, 0))
	f.Add(uint8(1), uint8(0x3f), enc(0, 0, 0, 0, 0, math.Inf(1), math.NaN(), -1, 1e300))
	f.Add(uint8(3), uint8(0x41), enc(5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5))
	all := []string{"magnitude", "diff", "highrank", "lowrank", "fence", "ks", "cdf"}
	f.Fuzz(func(t *testing.T, act, mask uint8, data []byte) {
		v := make([]float64, 0, 12)
		for i := 0; i+8 <= len(data) && len(v) < cap(v); i += 8 {
			v = append(v, math.Float64frombits(binary.LittleEndian.Uint64(data[i:])))
		}
		a := int(act%3) + 1
		var methods []string
		for i, m := range all {
			if mask&(1<<i) != 0 {
				methods = append(methods, m)
			}
		}
		cfg := Config{ActiveSize: a, NSeasons: (4 + a - 1) / a, UpperBound: 100, Methods: methods, PermCount: 50}
		if mask&0x80 != 0 {
			cfg.LowerBound = NA
		}
		det := newTest(t, cfg, 1)
		var ts TestScores
		p := det.Score(v, &ts)
		if !(p >= 0 && p <= 1) {
			t.Fatalf("Score(%v) = %v, tests %v", v, p, ts.Map())
		}
		for m := range Method(numMethods) {
			if q, ok := ts.Get(m); ok && !(q >= 0 && q <= 1) && !math.IsNaN(q) {
				t.Fatalf("Score(%v): %v = %v", v, m, q)
			}
		}
	})
}
