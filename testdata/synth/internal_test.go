package synth

import (
	"math"
	"slices"
	"testing"
)

func TestExpMatchesMath(t *testing.T) {
	for x := -8.0; x <= 8; x += 0.001 {
		if got, want := exp(x), math.Exp(x); math.Abs(got-want) > 1e-13*want {
			t.Fatalf("exp(%v) = %v, math.Exp says %v", x, got, want)
		}
	}
}

func TestWaveIsASwing(t *testing.T) {
	lo, hi := 0.0, 0.0
	for u := -2.0; u < 2; u += 0.001 {
		w := wave(u)
		lo, hi = min(lo, w), max(hi, w)
		if d := math.Abs(w - math.Sin(2*math.Pi*u)); d > 0.06 {
			t.Fatalf("wave(%v) = %v, sin %v", u, w, math.Sin(2*math.Pi*u))
		}
	}
	if lo < -1 || hi > 1 || lo > -0.99 || hi < 0.99 {
		t.Errorf("wave spans [%v, %v], want [-1, 1]", lo, hi)
	}
}

// TestSortByTimeIsStable: the radix sort equals a stable sort by time, the
// one order that does not depend on the algorithm.
func TestSortByTimeIsStable(t *testing.T) {
	r := newRNG(1, 1)
	const base, span = 1_000_000_000, 5_000_000_000
	ev := make([]event, 100_000)
	for i := range ev {
		ev[i] = event{ts: base + int64(r.intn(span/1000))*1000, conv: int32(i)} // microseconds: many ties
	}
	want := slices.Clone(ev)
	slices.SortStableFunc(want, func(a, b event) int { return int(a.ts - b.ts) })
	got, _ := sortByTime(ev, nil, base, span)
	if !slices.Equal(got, want) {
		t.Error("radix sort differs from a stable sort by time")
	}
}

func TestAddressPlan(t *testing.T) {
	if a := host(22, false).String(); a != "10.0.1.23" {
		t.Errorf("host 22 is %s, want 10.0.1.23", a)
	}
	if a := host(22, true).String(); a != "fd00::1:17" {
		t.Errorf("host 22 (IPv6) is %s, want fd00::1:17", a)
	}
	if a := host(MaxHosts-1, false).String(); a != "10.0.255.254" {
		t.Errorf("the last host is %s, want 10.0.255.254", a)
	}
	seen := map[addr]int{}
	idx := []int{100_000, maxExternalV4 - 1}
	for j := range 3000 {
		idx = append(idx, j)
	}
	for _, j := range idx {
		a := external(j, false)
		if k, dup := seen[a]; dup || a.String() == "203.0.113.77" {
			t.Fatalf("external(%d) = %s: also external(%d), or the exfil receiver", j, a, k)
		}
		seen[a] = j
	}
	if a := external(maxExternalV4-1, false).String(); a != "172.31.255.254" {
		t.Errorf("the last external IPv4 address is %s, want 172.31.255.254", a)
	}
}
