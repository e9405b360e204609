package flow

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// The open-addressing index must agree with a plain map through any mix of
// inserts, evictions and removals (backward-shift deletion is easy to get
// subtly wrong), even when many keys share one home position.
func TestTableAgreesWithMap(t *testing.T) {
	for _, collide := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(3, 4))
		tab := newTable(500, 4)
		model := map[key]int32{}
		hashOf := func(k *key) uint64 {
			if collide {
				return k.hash() & 0xff00000000000007 // few distinct home positions
			}
			return k.hash()
		}
		tab.hashOf = hashOf
		for step := range 200000 {
			k := key{src0: uint64(rng.IntN(800)), dst1: 7}
			h := hashOf(&k)
			if rng.IntN(3) == 0 {
				if slot, ok := model[k]; ok {
					tab.remove(slot)
					delete(model, k)
				}
				continue
			}
			var evicted flowState
			slot, created, didEvict := tab.lookup(&k, h, int64(step), &evicted)
			if didEvict {
				if _, ok := model[evicted.key]; !ok {
					t.Fatalf("step %d: evicted a key the model does not have", step)
				}
				delete(model, evicted.key)
			}
			want, had := model[k]
			if had == created || (had && want != slot) {
				t.Fatalf("step %d: lookup gave slot %d created %v; model has %d (%v)", step, slot, created, want, had)
			}
			model[k] = slot
			if tab.len() != len(model) || len(model) > 500 {
				t.Fatalf("step %d: table has %d flows, model %d", step, tab.len(), len(model))
			}
		}
		for k, slot := range model {
			p, ok := tab.find(&k, hashOf(&k))
			if !ok || tab.slots[p]-1 != slot {
				t.Fatalf("collide=%v: key %v lost", collide, k)
			}
		}
	}
}

// A series value is exact under 2 GiB and within 2.4e-7 above, up to the
// largest byte count, and never decreases as the bytes grow.
func TestSeriesValueRoundTrip(t *testing.T) {
	prev := -1.0
	for _, v := range []uint64{0, 1, 1500, 1<<31 - 1, 1 << 31, 1<<31 + 1, 3_000_000_123, 1 << 40, 123_456_789_012_345, math.MaxUint64} {
		got := encodeSeries(v).float()
		if v < 1<<31 && got != float64(v) {
			t.Errorf("%d: got %v, want it exact", v, got)
		}
		if rel := math.Abs(got-float64(v)) / math.Max(float64(v), 1); rel > 2.4e-7 {
			t.Errorf("%d: got %v, %.2g off", v, got, rel)
		}
		if got < prev {
			t.Errorf("%d: got %v, below the smaller value's %v", v, got, prev)
		}
		prev = got
	}
}

// A flow's state is the table's memory per flow: a field that pads it
// past 120 bytes costs 8 MB per million flows.
func TestFlowStateSize(t *testing.T) {
	if n := unsafe.Sizeof(flowState{}); n > 120 {
		t.Fatalf("flowState is %d bytes, want at most 120", n)
	}
}
