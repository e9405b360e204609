package flow

import (
	"net/netip"
)

// key is a directional address pair in 16-byte form. It holds no pointers,
// so a million-entry table costs the garbage collector nothing to scan.
type key struct {
	src, dst [16]byte
}

func makeKey(src, dst netip.Addr) key {
	return key{src: src.As16(), dst: dst.As16()}
}

func (k key) addrs() (src, dst netip.Addr) {
	return netip.AddrFrom16(k.src).Unmap(), netip.AddrFrom16(k.dst).Unmap()
}

// String renders the key as "src->dst".
func (k key) String() string {
	s, d := k.addrs()
	return s.String() + "->" + d.String()
}

// shardOf spreads keys over shards. The hash is fixed (not seeded) so a
// capture file maps flows to shards the same way on every run.
func shardOf(k *key, shards uint64) int {
	var h uint64 = 0xcbf29ce484222325
	for _, b := range [2]*[16]byte{&k.src, &k.dst} {
		lo := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		hi := uint64(b[8]) | uint64(b[9])<<8 | uint64(b[10])<<16 | uint64(b[11])<<24 |
			uint64(b[12])<<32 | uint64(b[13])<<40 | uint64(b[14])<<48 | uint64(b[15])<<56
		h = (h ^ lo) * 0x9e3779b97f4a7c15
		h = (h ^ hi) * 0x9e3779b97f4a7c15
	}
	h ^= h >> 29
	return int(h % shards)
}

const none = -1

// flowState is one tracked flow. Like key, it holds no pointers; its series
// lives in the table's shared slab.
type flowState struct {
	key        key
	bytes      uint64 // in the open interval
	packets    uint64
	lastActive int64 // last interval with a packet
	lastClosed int64 // last interval appended to the series
	lastAlert  int64 // last interval that raised an alert; valid when alerted
	prev, next int32 // recency list, most recent at head
	head       uint16
	length     uint16
	alerted    bool // raised an alert not yet resolved
	inUse      bool
}

// table holds one shard's flows: a slab of states, an index by key, a
// recency list for eviction and expiry, and the series slab.
type table struct {
	index      map[key]int32
	flows      []flowState
	series     []uint64 // seriesCap values per slot, a ring per flow
	seriesCap  int
	free       []int32
	head, tail int32
	maxFlows   int
}

func newTable(maxFlows, seriesCap int) *table {
	return &table{
		index:     make(map[key]int32),
		seriesCap: seriesCap,
		head:      none,
		tail:      none,
		maxFlows:  maxFlows,
	}
}

func (t *table) len() int { return len(t.index) }

// lookup returns the slot of k, creating it (and evicting the least recently
// active flow when the table is full) when absent. evicted is the slot's
// previous occupant when one was evicted, or none.
func (t *table) lookup(k key, now int64) (slot int32, created bool, evicted *flowState) {
	if s, ok := t.index[k]; ok {
		return s, false, nil
	}
	var old flowState
	if len(t.index) >= t.maxFlows && t.tail != none {
		old = t.flows[t.tail]
		t.remove(t.tail)
		evicted = &old
	}
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		slot = int32(len(t.flows))
		t.flows = append(t.flows, flowState{})
		t.series = append(t.series, make([]uint64, t.seriesCap)...)
	}
	t.flows[slot] = flowState{key: k, lastActive: now, lastClosed: now - 1, prev: none, next: none, inUse: true}
	t.index[k] = slot
	t.pushFront(slot)
	return slot, true, evicted
}

func (t *table) remove(slot int32) {
	f := &t.flows[slot]
	t.unlink(slot)
	delete(t.index, f.key)
	*f = flowState{prev: none, next: none}
	t.free = append(t.free, slot)
}

func (t *table) unlink(slot int32) {
	f := &t.flows[slot]
	if f.prev != none {
		t.flows[f.prev].next = f.next
	} else {
		t.head = f.next
	}
	if f.next != none {
		t.flows[f.next].prev = f.prev
	} else {
		t.tail = f.prev
	}
	f.prev, f.next = none, none
}

func (t *table) pushFront(slot int32) {
	f := &t.flows[slot]
	f.prev, f.next = none, t.head
	if t.head != none {
		t.flows[t.head].prev = slot
	}
	t.head = slot
	if t.tail == none {
		t.tail = slot
	}
}

func (t *table) touch(slot int32) {
	if t.head == slot {
		return
	}
	t.unlink(slot)
	t.pushFront(slot)
}

// push appends v to the flow's series ring, dropping the oldest value when full.
func (t *table) push(slot int32, v uint64) {
	f := &t.flows[slot]
	ring := t.series[int(slot)*t.seriesCap : (int(slot)+1)*t.seriesCap]
	if int(f.length) < t.seriesCap {
		ring[(int(f.head)+int(f.length))%t.seriesCap] = v
		f.length++
		return
	}
	ring[f.head] = v
	f.head = uint16((int(f.head) + 1) % t.seriesCap)
}

// catchUp appends a zero for every interval the flow was idle between its
// last closed interval and upTo (exclusive); at most seriesCap of them matter.
func (t *table) catchUp(slot int32, upTo int64) {
	f := &t.flows[slot]
	gap := upTo - f.lastClosed - 1
	if gap <= 0 {
		return
	}
	if gap > int64(t.seriesCap) {
		gap = int64(t.seriesCap)
	}
	for range gap {
		t.push(slot, 0)
	}
	f.lastClosed = upTo - 1
}

// seriesInto copies the flow's series, oldest first, into dst.
func (t *table) seriesInto(slot int32, dst []float64) []float64 {
	f := &t.flows[slot]
	ring := t.series[int(slot)*t.seriesCap : (int(slot)+1)*t.seriesCap]
	dst = dst[:0]
	for i := 0; i < int(f.length); i++ {
		dst = append(dst, float64(ring[(int(f.head)+i)%t.seriesCap]))
	}
	return dst
}
