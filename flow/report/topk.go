package report

import "slices"

// topK keeps the heaviest keys of a stream in bounded memory with the
// space-saving algorithm (Metwally, Agrawal, El Abbadi 2005): it counts at
// most cap keys; a new key, when full, takes the place of the lightest one
// and inherits its count as a possible overestimate (Err). Every key whose
// true weight exceeds total/cap is guaranteed to be present, and a reported
// Bytes is never below the truth nor above it by more than Err.
type topK[K comparable] struct {
	cap   int
	cmp   func(a, b K) int // orders ties, so reports are the same every run
	index map[K]int32
	heap  []counter[K] // min-heap on bytes
}

type counter[K comparable] struct {
	key     K
	bytes   uint64
	packets uint64
	err     uint64 // the count inherited from an evicted key
}

func newTopK[K comparable](capacity int, cmp func(a, b K) int) *topK[K] {
	return &topK[K]{cap: capacity, cmp: cmp, index: make(map[K]int32, capacity), heap: make([]counter[K], 0, capacity)}
}

// add counts bytes and packets for k.
func (t *topK[K]) add(k K, bytes, packets uint64) {
	if i, ok := t.index[k]; ok {
		c := &t.heap[i]
		c.bytes += bytes
		c.packets += packets
		t.down(int(i))
		return
	}
	if len(t.heap) < t.cap {
		t.heap = append(t.heap, counter[K]{key: k, bytes: bytes, packets: packets})
		i := len(t.heap) - 1
		t.index[k] = int32(i)
		t.up(i)
		return
	}
	// Replace the lightest key: the newcomer may have been seen before,
	// up to the evicted count, so that count becomes its error bound.
	c := &t.heap[0]
	delete(t.index, c.key)
	c.key = k
	c.err = c.bytes
	c.bytes += bytes
	c.packets = packets
	t.index[k] = 0
	t.down(0)
}

func (t *topK[K]) less(i, j int) bool { return t.heap[i].bytes < t.heap[j].bytes }

func (t *topK[K]) swap(i, j int) {
	h := t.heap
	h[i], h[j] = h[j], h[i]
	t.index[h[i].key] = int32(i)
	t.index[h[j].key] = int32(j)
}

func (t *topK[K]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *topK[K]) down(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, i) {
			return
		}
		t.swap(i, m)
		i = m
	}
}

// top returns up to n counters, heaviest first.
func (t *topK[K]) top(n int) []counter[K] {
	out := make([]counter[K], len(t.heap))
	copy(out, t.heap)
	sortCounters(out, t.cmp)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// reset forgets every key (a live page's window rolling over).
func (t *topK[K]) reset() {
	clear(t.index)
	t.heap = t.heap[:0]
}

// sortCounters orders counters heaviest first, ties by key.
func sortCounters[K comparable](cs []counter[K], cmp func(a, b K) int) {
	slices.SortFunc(cs, func(a, b counter[K]) int {
		switch {
		case a.bytes > b.bytes:
			return -1
		case a.bytes < b.bytes:
			return 1
		}
		return cmp(a.key, b.key)
	})
}

// merged sums the counters of two generations of the same stream (a live
// page's previous and current window), heaviest first.
func merged[K comparable](a, b *topK[K], n int) []counter[K] {
	all := make(map[K]counter[K], len(a.heap)+len(b.heap))
	for _, t := range []*topK[K]{a, b} {
		for _, c := range t.heap {
			m := all[c.key]
			m.key = c.key
			m.bytes += c.bytes
			m.packets += c.packets
			m.err += c.err
			all[c.key] = m
		}
	}
	out := make([]counter[K], 0, len(all))
	for _, c := range all {
		out = append(out, c)
	}
	sortCounters(out, a.cmp)
	if len(out) > n {
		out = out[:n]
	}
	return out
}
