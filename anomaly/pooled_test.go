package anomaly

import (
	"math/rand/v2"
	"testing"
)

// Counting the deviations at or below Base instead of observing them
// leaves the model exactly as observing every one in order does.
func TestObserveBelowMatchesObservingEach(t *testing.T) {
	cfg := PooledConfig{Risk: 1000, NInit: 500}
	all, err := NewPooled(cfg)
	if err != nil {
		t.Fatal(err)
	}
	counted, _ := NewPooled(cfg)
	rng := rand.New(rand.NewPCG(3, 4))
	for interval := range 40 {
		base, ok := counted.Base()
		below := 0
		for range 300 {
			d := rng.ExpFloat64() * 2
			all.Observe(d) //nolint:errcheck
			if ok && d <= base {
				below++
				continue
			}
			counted.Observe(d) //nolint:errcheck
		}
		counted.ObserveBelow(below)
		all.EndInterval()
		counted.EndInterval()
		a, _ := all.Threshold()
		c, _ := counted.Threshold()
		if a != c {
			t.Fatalf("interval %d: threshold %v counting, %v observing each", interval, c, a)
		}
	}
	if _, ok := all.Base(); !ok {
		t.Fatal("the model never calibrated")
	}
}
