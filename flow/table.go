package flow

import (
	"encoding/binary"
	"math"
	"net/netip"
)

// key is a directional address pair, both in 16-byte form (IPv4 mapped),
// as four words: it holds no pointers, so a million-entry table costs the
// garbage collector nothing to scan, and compares in four instructions.
type key struct {
	src0, src1, dst0, dst1 uint64
}

func makeKey(src, dst netip.Addr) key {
	s, d := src.As16(), dst.As16()
	return key{
		src0: binary.BigEndian.Uint64(s[0:8]), src1: binary.BigEndian.Uint64(s[8:16]),
		dst0: binary.BigEndian.Uint64(d[0:8]), dst1: binary.BigEndian.Uint64(d[8:16]),
	}
}

func (k key) addrs() (src, dst netip.Addr) {
	return k.srcAddr(), key{src0: k.dst0, src1: k.dst1}.srcAddr()
}

func (k key) srcAddr() netip.Addr {
	if k.src0 == 0 && k.src1>>32 == 0xffff {
		// IPv4, the common case: no 16-byte detour.
		v := uint32(k.src1)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	var s [16]byte
	binary.BigEndian.PutUint64(s[0:8], k.src0)
	binary.BigEndian.PutUint64(s[8:16], k.src1)
	return netip.AddrFrom16(s).Unmap()
}

// reverse returns the key of the opposite direction.
func (k key) reverse() key {
	return key{src0: k.dst0, src1: k.dst1, dst0: k.src0, dst1: k.src1}
}

// String renders the key as "src->dst".
func (k key) String() string {
	s, d := k.addrs()
	return s.String() + "->" + d.String()
}

// hash mixes the key into 64 bits. It is fixed (not seeded), so a capture
// file maps flows to shards the same way on every run; the router computes
// it once per packet and both shard choice and table lookup use it.
func (k *key) hash() uint64 {
	const m = 0x9e3779b97f4a7c15
	h := (k.src0 ^ 0xcbf29ce484222325) * m
	h = (h ^ k.src1) * m
	h = (h ^ k.dst0) * m
	h = (h ^ k.dst1) * m
	return h ^ h>>32
}

// shardHash is the same for both directions of a pair, so a shard sees a
// SYN and the SYN-ACK or RST that answers it, and judges tries without
// asking another shard.
func (k *key) shardHash() uint64 {
	const m = 0x9e3779b97f4a7c15
	h := ((k.src0 ^ k.dst0) ^ 0xcbf29ce484222325) * m
	h = (h ^ k.src1 ^ k.dst1) * m
	return h ^ h>>29
}

const none = -1

// flowState is one tracked flow. Like key, it holds no pointers; its series
// lives in the table's shared slab.
type flowState struct {
	key        key
	counts           // in the open interval
	lastActive int64 // last interval with a packet
	lastClosed int64 // last interval appended to the series
	lastAlert  int64 // last interval that raised an alert; valid when alerted
	prev, next int32 // recency list, most recent at head
	head       uint16
	length     uint16
	bits       uint8 // flowInUse, flowAlerted, localSrc, localDst
	// ackProbes counts, in the open interval, the distinct destination
	// ports of bare ACK segments (no payload, no other flag), saturating:
	// an ACK or window scan probes with them. It sits here, not in
	// counts, where it would cost 8 bytes of padding per flow.
	ackProbes uint16
}

// table holds one shard's flows: a slab of states, an open-addressing index
// over the slab (linear probing on the router's hash, so no second hash is
// computed), a recency list for eviction and expiry, and the series slab.
type table struct {
	slots      []int32 // index: slab position + 1, or 0 for empty
	mask       uint64
	count      int
	flows      []flowState
	series     []seriesValue // seriesCap values per slab position, a ring per flow
	seriesCap  int
	free       []int32
	head, tail int32
	maxFlows   int
	// hashOf is the hash lookups are given, recomputed where the table
	// moves entries: storing it would cost 8 bytes per flow.
	hashOf func(*key) uint64
}

// preallocFlows bounds the flows whose memory a table reserves up front.
// Reserved memory costs address space, not RSS, until flows use it, and it
// spares the growing slabs' copies (and their garbage) at the worst time:
// during a flood of new flows.
const preallocFlows = 4 << 20

func newTable(maxFlows, seriesCap int) *table {
	t := &table{seriesCap: seriesCap, head: none, tail: none, maxFlows: maxFlows, hashOf: (*key).hash}
	n := min(maxFlows, preallocFlows)
	t.flows = make([]flowState, 0, n)
	t.series = make([]seriesValue, 0, n*seriesCap)
	// The index grows with the flows instead: a compact index stays in
	// cache, and a lookup is then one cache miss (the flow), not two.
	t.resize(64)
	return t
}

func (t *table) len() int { return t.count }

// resize allocates an index of n positions (a power of two). Empty is zero,
// so the fresh index needs no initialising writes and its untouched pages
// cost no memory.
func (t *table) resize(n int) {
	t.slots = make([]int32, n)
	t.mask = uint64(n - 1)
	for i := range t.flows {
		if f := &t.flows[i]; f.bits&flowInUse != 0 {
			p := t.hashOf(&f.key) & t.mask
			for t.slots[p] != 0 {
				p = (p + 1) & t.mask
			}
			t.slots[p] = int32(i) + 1
		}
	}
}

// find returns the index position holding k, or the empty position where
// it would go, and whether it was found.
func (t *table) find(k *key, h uint64) (uint64, bool) {
	p := h & t.mask
	for {
		s := t.slots[p] - 1
		if s == none {
			return p, false
		}
		if t.flows[s].key == *k {
			return p, true
		}
		p = (p + 1) & t.mask
	}
}

// lookup returns the slab position of k, creating the flow (and evicting the
// least recently active one when the table is full) when absent. When it
// evicts, it copies the evicted flow into *old (caller-owned, so eviction
// allocates nothing) and reports it.
func (t *table) lookup(k *key, h uint64, now int64, old *flowState) (slot int32, created, evicted bool) {
	p, ok := t.find(k, h)
	if ok {
		return t.slots[p] - 1, false, false
	}
	if t.count >= t.maxFlows && t.tail != none {
		*old = t.flows[t.tail]
		t.remove(t.tail)
		evicted = true
		p, _ = t.find(k, h) // removal may have shifted the probe sequence
	}
	if uint64(t.count+1)*2 > t.mask+1 {
		t.resize(int(t.mask+1) * 2)
		p, _ = t.find(k, h)
	}
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		slot = int32(len(t.flows))
		t.flows = append(t.flows, flowState{})
		t.series = append(t.series, make([]seriesValue, t.seriesCap)...)
	}
	t.flows[slot] = flowState{key: *k, lastActive: now, lastClosed: now - 1, prev: none, next: none, bits: flowInUse}
	t.slots[p] = slot + 1
	t.count++
	t.pushFront(slot)
	return slot, true, evicted
}

// remove deletes the flow at slab position slot, closing the gap in the
// probe sequence by shifting later entries back (no tombstones, so lookups
// never slow down as flows come and go).
func (t *table) remove(slot int32) {
	f := &t.flows[slot]
	i, _ := t.find(&f.key, t.hashOf(&f.key))
	j := i
	for {
		j = (j + 1) & t.mask
		s := t.slots[j] - 1
		if s == none {
			break
		}
		home := t.hashOf(&t.flows[s].key) & t.mask
		// The entry at j stays if its home lies cyclically in (i, j].
		if i <= j {
			if i < home && home <= j {
				continue
			}
		} else if i < home || home <= j {
			continue
		}
		t.slots[i] = s + 1
		i = j
	}
	t.slots[i] = 0
	t.count--
	t.unlink(slot)
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
		ring[(int(f.head)+int(f.length))%t.seriesCap] = encodeSeries(v)
		f.length++
		return
	}
	ring[f.head] = encodeSeries(v)
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
		dst = append(dst, ring[(int(f.head)+i)%t.seriesCap].float())
	}
	return dst
}

// seriesValue is one interval's bytes in a flow's series, in 4 bytes
// instead of 8: at a million flows and ten intervals of history that is
// 40 MB. Values under 2 GiB, all but the rarest, are exact; larger ones
// keep the float32 form with its last mantissa bit dropped, within 2.4e-7
// of the truth, far finer than any test or detector reads a series.
type seriesValue uint32

const seriesBig = 1 << 31

func encodeSeries(v uint64) seriesValue {
	if v < seriesBig {
		return seriesValue(v)
	}
	return seriesBig | seriesValue(math.Float32bits(float32(v))>>1)
}

func (x seriesValue) float() float64 {
	if x < seriesBig {
		return float64(x)
	}
	return float64(math.Float32frombits(uint32(x&^seriesBig) << 1))
}
