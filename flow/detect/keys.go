package detect

import (
	"net/netip"
	"slices"

	"github.com/wherefore/wherefore/anomaly"
)

// srcState is what the stage learns about one source address.
type srcState struct {
	up    anomaly.Baseline // bytes sent per active interval
	dns   anomaly.Baseline // DNS bytes sent
	icmp  anomaly.Baseline // ICMP bytes sent
	hscan anomaly.Baseline // windowed failed destinations
	fan   anomaly.Baseline // windowed new destinations
	// failedDsts and newDsts are decayed sums over the window.
	failedDsts, newDsts float64
	last                int64
	// since is the interval the source was first seen in this run (once
	// seen is set): restored baselines do not count as seeing it.
	since int64
	seen  bool
	// habits are the periodic check-ins the beacon detector learned the
	// source has (see beacon.go), nh how many were learned.
	habits [maxHabits]beaconHabit
	nh     uint8
}

// dstState is what the stage learns about one destination address.
type dstState struct {
	fanin  anomaly.Baseline // windowed failed tries towards it
	failed float64          // decayed sum over the window
	last   int64
}

// keyed is a bounded map of per-address state. When full, the least
// recently seen quarter is forgotten (counted in evicted), so a flood of
// spoofed addresses costs at most max entries.
type keyed[T any] struct {
	idx     map[netip.Addr]int32
	vals    []T
	addrs   []netip.Addr
	last    []int64
	free    []int32
	max     int
	evicted uint64
}

func newKeyed[T any](maxKeys int) *keyed[T] {
	return &keyed[T]{idx: make(map[netip.Addr]int32), max: maxKeys}
}

// get returns a's state, creating it (zero) when new.
func (k *keyed[T]) get(a netip.Addr, now int64) *T {
	if i, ok := k.idx[a]; ok {
		k.last[i] = now
		return &k.vals[i]
	}
	if len(k.idx) >= k.max {
		k.evictOldest()
	}
	var i int32
	var zero T
	if n := len(k.free); n > 0 {
		i = k.free[n-1]
		k.free = k.free[:n-1]
		k.vals[i], k.addrs[i], k.last[i] = zero, a, now
	} else {
		i = int32(len(k.vals))
		k.vals = append(k.vals, zero)
		k.addrs = append(k.addrs, a)
		k.last = append(k.last, now)
	}
	k.idx[a] = i
	return &k.vals[i]
}

// lookup returns a's state without creating or touching it.
func (k *keyed[T]) lookup(a netip.Addr) (*T, bool) {
	if i, ok := k.idx[a]; ok {
		return &k.vals[i], true
	}
	return nil, false
}

// evictOldest forgets the least recently seen quarter of the keys.
func (k *keyed[T]) evictOldest() {
	order := make([]int64, 0, len(k.idx))
	for _, i := range k.idx {
		order = append(order, k.last[i])
	}
	slices.Sort(order)
	cut := order[len(order)/4]
	for a, i := range k.idx {
		if k.last[i] <= cut {
			delete(k.idx, a)
			k.free = append(k.free, i)
			k.evicted++
		}
	}
}

// len returns the number of keys held.
func (k *keyed[T]) len() int { return len(k.idx) }

// each calls f for every key in address order.
func (k *keyed[T]) each(f func(a netip.Addr, v *T, last int64)) {
	addrs := make([]netip.Addr, 0, len(k.idx))
	for a := range k.idx {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		i := k.idx[a]
		f(a, &k.vals[i], k.last[i])
	}
}
