package report

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wherefore/wherefore/flow"
)

// candidates is how many keys of each interval, per measure, the observer
// copies for the collector: enough for the tables (Top) and for admitting
// the interval's heaviest subjects to series tracking.
func candidates(top int) int { return max(top, admitPerInterval) }

// pairsPerShard is how many of its heaviest pairs each shard copies per
// interval, besides the pairs whose series are tracked.
const pairsPerShard = admitPerInterval

// maxShards is flow's limit on -shards.
const maxShards = 1024

// measures are one subject's counts in one interval.
type measures struct {
	Bytes  uint64
	Peers  uint64 // distinct destinations (source, host), or sources (destination)
	Tried  uint64 // distinct (destination, port) tries
	Failed uint64 // tries unanswered or refused
	SYNs   uint64
}

// backfill is how many earlier intervals' bytes a watched pair brings
// along: its first intervals after it began being watched may have been
// copied before the shard saw the new watch set.
const backfill = 8

// pairSample is a pair's interval, copied on its shard's goroutine.
type pairSample struct {
	key pairKey
	m   measures
	// back holds the bytes of the nback intervals before, newest last
	// (watched pairs only).
	back  [backfill]float64
	nback int
}

// addrSample is a source's, destination's or host's interval.
type addrSample struct {
	kind    subjectKind
	addr    [16]byte
	m       measures
	refused uint64
	ports   []uint16
	peers   []netip.Addr
}

// sampleAddr is a source's or destination's figures for one interval. The
// ports are copied: they point into the aggregate, which is reused.
func sampleAddr(kind subjectKind, addr netip.Addr, bytes, peers uint64, a *flow.Attempts, ports []uint16, peerList []netip.Addr) addrSample {
	return addrSample{kind: kind, addr: addr.As16(),
		m:       measures{Bytes: bytes, Peers: peers, Tried: a.Tried, Failed: a.Failed, SYNs: a.SYNs},
		refused: a.Refused, ports: slices.Clone(ports), peers: peerList}
}

// talkerSample is a pair picked for the talker tables, standing for
// weight bytes and packets packets of the interval.
type talkerSample struct {
	key             pairKey
	weight, packets uint64
}

// sampleBudget is the most pairs per shard and interval handed to the
// collector for the talker tables. Up to it every pair is counted exactly;
// beyond it the shard samples pairs by bytes, doubling the step as needed,
// so a busy interval costs the collector a fixed amount of work.
const sampleBudget = 1024

// observed is what one closed interval hands the collector goroutine.
type observed struct {
	idx     int64
	traffic flow.Traffic
	pairs   []pairSample
	// talkers are the sampled pairs, and step the largest sampling step
	// any shard used.
	talkers []talkerSample
	step    uint64
	addrs   []addrSample
	// ver is the oldest watch set a shard used for this interval: the
	// subjects published later may be missing from it.
	ver uint64
}

// shardPairs is the shards' copies of one interval.
type shardPairs struct {
	pairs   []pairSample
	talkers []talkerSample
	step    uint64
	ver     uint64
	set     bool
}

// shardBuf is a shard's scratch space, used only by that shard.
type shardBuf struct {
	top     []pairSample // min-heap on bytes
	watched []pairSample
	series  []float64
	// Byte sampling of pairs for the talker tables: credit accumulates
	// bytes; a pair that brings it to step or more is sampled with the
	// whole steps as its weight, so a pair of step bytes or more is
	// always sampled, weighed within one step of its bytes.
	step, credit uint64
	talkers      []talkerSample
}

// watchSet is the subjects whose series are tracked, published by the
// collector goroutine and read by the observer; replaced, never changed.
type watchSet struct {
	ver   uint64
	pairs map[pairKey]struct{}
	addrs map[subject]struct{}
}

// Observer is the collector's flow.Observer: it copies, per interval, the
// heaviest keys by bytes and by distinct counts and the tracked subjects,
// and hands the copy to the collector's goroutine. A live collector drops
// (and counts) an interval rather than wait for it.
type Observer struct {
	c      *Collector
	n      int
	shards [maxShards]*shardBuf
	watch  atomic.Pointer[watchSet]
	// pending holds the shards' copies per interval until its
	// ObserveInterval: a shard may close the next interval meanwhile.
	mu      sync.Mutex
	pending map[int64]*shardPairs

	// watchMu orders changes to the watched subjects, which come from the
	// collector's goroutine (tracking) and from Collector.Alerts (an
	// alerted subject is watched at once, before the next interval).
	watchMu  sync.Mutex
	watching map[subject]struct{}
	ver      uint64
}

// update adds and removes watched subjects, publishes the new set and
// returns its version.
func (o *Observer) update(add, remove []subject) uint64 {
	o.watchMu.Lock()
	defer o.watchMu.Unlock()
	for _, k := range add {
		o.watching[k] = struct{}{}
	}
	for _, k := range remove {
		delete(o.watching, k)
	}
	o.ver++
	w := &watchSet{ver: o.ver, pairs: make(map[pairKey]struct{}), addrs: make(map[subject]struct{})}
	for k := range o.watching {
		if k.kind == subjPair {
			var pk pairKey
			copy(pk[:16], k.a[:])
			copy(pk[16:], k.b[:])
			w.pairs[pk] = struct{}{}
		} else {
			w.addrs[k] = struct{}{}
		}
	}
	o.watch.Store(w)
	return o.ver
}

var _ flow.Observer = (*Observer)(nil)

// Observer returns the collector's flow.Observer (one per collector).
func (c *Collector) Observer() *Observer { return c.obs }

// ObservePairs implements flow.Observer.
func (o *Observer) ObservePairs(shard int, iv flow.Interval, v *flow.PairView) {
	if shard < 0 || shard >= maxShards {
		return
	}
	b := o.shards[shard]
	if b == nil {
		b = &shardBuf{top: make([]pairSample, 0, pairsPerShard), step: 1}
		o.shards[shard] = b
	}
	w := o.watch.Load()
	watching := w != nil && len(w.pairs) > 0
	for i := range v.Len() {
		if b.credit += v.Bytes(i); b.credit >= b.step {
			b.sample(v, i)
		}
		// Most pairs are neither watched nor among the heaviest: skip them
		// before building their PairStat.
		if !watching && len(b.top) == cap(b.top) && v.Bytes(i) <= b.top[0].m.Bytes {
			continue
		}
		var k pairKey
		s, d := v.Addrs16(i)
		copy(k[:16], s[:])
		copy(k[16:], d[:])
		var watched bool
		if watching {
			_, watched = w.pairs[k]
		}
		if !watched && len(b.top) == cap(b.top) && v.Bytes(i) <= b.top[0].m.Bytes {
			continue
		}
		p := v.Pair(i)
		ps := pairSample{key: k, m: measures{Bytes: p.Bytes, Peers: 1, Tried: p.Attempts.Tried, Failed: p.Attempts.Failed, SYNs: p.Attempts.SYNs}}
		if w != nil {
			if watched {
				ws := ps
				b.series = v.Series(i, b.series)
				if n := len(b.series) - 1; n > 0 {
					ws.nback = copy(ws.back[:], b.series[max(0, n-backfill):n])
				}
				b.watched = append(b.watched, ws)
			}
		}
		switch {
		case len(b.top) < cap(b.top):
			b.top = append(b.top, ps)
			heapUp(b.top, len(b.top)-1)
		case p.Bytes > b.top[0].m.Bytes:
			b.top[0] = ps
			heapDown(b.top, 0)
		}
	}
	var ver uint64
	if w != nil {
		ver = w.ver
	}
	o.mu.Lock()
	sp := o.pending[iv.Index]
	if sp == nil {
		sp = &shardPairs{}
		o.pending[iv.Index] = sp
	}
	sp.pairs = append(append(sp.pairs, b.top...), b.watched...)
	sp.talkers = append(sp.talkers, b.talkers...)
	sp.step = max(sp.step, b.step)
	if !sp.set || ver < sp.ver {
		sp.ver, sp.set = ver, true
	}
	o.mu.Unlock()
	b.top, b.watched, b.talkers = b.top[:0], b.watched[:0], b.talkers[:0]
}

// sample takes pair i for the talker tables with the whole steps of credit
// as its weight, and doubles the step when the interval has taken more
// than its budget.
func (b *shardBuf) sample(v *flow.PairView, i int) {
	n := b.credit / b.step
	weight := n * b.step
	b.credit -= weight
	ts := talkerSample{weight: weight, packets: v.Packets(i)}
	if bytes := v.Bytes(i); weight != bytes && bytes > 0 {
		// It stands for weight bytes of packets of its mean size.
		ts.packets = max(1, uint64(float64(ts.packets)*float64(weight)/float64(bytes)))
	}
	s, d := v.Addrs16(i)
	copy(ts.key[:16], s[:])
	copy(ts.key[16:], d[:])
	b.talkers = append(b.talkers, ts)
	if len(b.talkers) >= sampleBudget && len(b.talkers)%(sampleBudget/2) == 0 {
		b.step *= 2
	}
}

func heapUp(h []pairSample, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[i].m.Bytes >= h[p].m.Bytes {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func heapDown(h []pairSample, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].m.Bytes < h[l].m.Bytes {
			m = r
		}
		if h[m].m.Bytes >= h[i].m.Bytes {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// ObserveInterval implements flow.Observer.
func (o *Observer) ObserveInterval(iv flow.Interval, agg *flow.Aggregates) {
	ob := &observed{idx: iv.Index, traffic: agg.Traffic, step: 1}
	w := o.watch.Load()
	if w != nil {
		ob.ver = w.ver
	}
	o.mu.Lock()
	if sp := o.pending[iv.Index]; sp != nil {
		ob.pairs, ob.ver = sp.pairs, min(ob.ver, sp.ver)
		ob.talkers, ob.step = sp.talkers, max(sp.step, 1)
	}
	for idx := range o.pending {
		if idx <= iv.Index {
			delete(o.pending, idx)
		}
	}
	o.mu.Unlock()
	watched := func(k subject) bool {
		if w == nil {
			return false
		}
		_, ok := w.addrs[k]
		return ok
	}
	n := o.n
	// Sources: the heaviest by bytes, distinct destinations, tries and
	// failed tries, and the tracked ones.
	pick := pickTop(len(agg.Sources), n, nil,
		func(i int) uint64 { return agg.Sources[i].Bytes },
		func(i int) uint64 { return agg.Sources[i].Dsts },
		func(i int) uint64 { return agg.Sources[i].Attempts.Tried },
		func(i int) uint64 { return agg.Sources[i].Attempts.Failed })
	for i := range agg.Sources {
		if watched(subject{kind: subjSrc, a: agg.Sources[i].Addr.As16()}) {
			pick = append(pick, i)
		}
	}
	for _, i := range compact(pick) {
		s := &agg.Sources[i]
		ob.addrs = append(ob.addrs, sampleAddr(subjSrc, s.Addr, s.Bytes, s.Dsts, &s.Attempts, s.SamplePorts(), s.SamplePeers(nil)))
	}
	pick = pickTop(len(agg.Dests), n, pick[:0],
		func(i int) uint64 { return agg.Dests[i].Bytes },
		func(i int) uint64 { return agg.Dests[i].Srcs },
		func(i int) uint64 { return agg.Dests[i].Attempts.Tried })
	for i := range agg.Dests {
		if watched(subject{kind: subjDst, a: agg.Dests[i].Addr.As16()}) {
			pick = append(pick, i)
		}
	}
	for _, i := range compact(pick) {
		d := &agg.Dests[i]
		ob.addrs = append(ob.addrs, sampleAddr(subjDst, d.Addr, d.Bytes, d.Srcs, &d.Attempts, d.SamplePorts(), d.SamplePeers(nil)))
	}
	if w != nil && len(w.addrs) > 0 {
		for i := range agg.Hosts {
			h := &agg.Hosts[i]
			if watched(subject{kind: subjHost, a: h.Addr.As16()}) {
				ob.addrs = append(ob.addrs, addrSample{kind: subjHost, addr: h.Addr.As16(),
					m: measures{Bytes: h.BytesOut, Peers: h.PeersOut}})
			}
		}
	}
	if o.c.cfg.Lossy {
		if !o.c.trySend(msg{observed: ob}) {
			o.c.droppedIntervals.Add(1)
		}
		return
	}
	o.c.send(msg{observed: ob})
}

// pickTop appends to dst the indices of the n largest values of each
// measure (values of 0 left out).
func pickTop(length, n int, dst []int, by ...func(i int) uint64) []int {
	best := make([]int, 0, n)
	for _, val := range by {
		best = best[:0]
		for i := range length {
			v := val(i)
			if v == 0 || (len(best) == n && v <= val(best[n-1])) {
				continue
			}
			j := len(best)
			if j < n {
				best = append(best, i)
			} else {
				j = n - 1
			}
			for ; j > 0 && val(best[j-1]) < v; j-- {
				best[j] = best[j-1]
			}
			best[j] = i
		}
		dst = append(dst, best...)
	}
	return dst
}

func compact(idx []int) []int {
	slices.Sort(idx)
	return slices.Compact(idx)
}
