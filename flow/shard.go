package flow

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
)

// entry is one packet as a shard sees it.
type entry struct {
	k        key
	hash     uint64
	wire     uint32
	sport    uint16
	dport    uint16
	proto    uint8
	flags    uint8
	icmpType uint8
}

// message is what the router sends a shard: a batch of entries, or the
// order to close interval closeIdx and open nextIdx.
type message struct {
	entries  []entry
	close    bool
	closeIdx int64
	nextIdx  int64
	// first and last are the closed interval's packet time span.
	first, last int64
	// reconfigure, when set, replaces the shard's settings and detector.
	reconfigure *Config
}

// result is a shard's answer to a close: its hits, in no particular order.
type result struct {
	idx    int64
	alerts []*alert.Alert
	shard  int
	// aggs are the shard's sums of the interval when an Observer is set;
	// the collector hands them back through the shard's aggFree.
	aggs *aggregates
}

// shardCounters are published by the shard and read by anyone.
type shardCounters struct {
	flows     atomic.Int64
	created   atomic.Uint64
	expired   atomic.Uint64
	evicted   atomic.Uint64
	evaluated atomic.Uint64
	alerts    atomic.Uint64
	resolved  atomic.Uint64
	evalNanos atomic.Uint64
	// Keys dropped because an accumulator or the port sets were full.
	srcDropped  atomic.Uint64
	dstDropped  atomic.Uint64
	hostDropped atomic.Uint64
	portSetFull atomic.Uint64
}

// shard owns one table. Only its goroutine touches the table.
type shard struct {
	// cfg is the shard's own copy: a reload replaces it between batches,
	// so the shard reads it without locks.
	cfg     Config
	tab     *table
	det     anomaly.Detector
	pcg     *rand.PCG
	scores  anomaly.TestScores
	scratch []float64
	cur     int64
	active  []int32
	alerted []int32
	// pendingResolved holds alerted flows that left the table since the
	// last close; their "back to normal" goes out with the next close.
	pendingResolved []flowState
	in              chan message
	free            chan []entry
	out             chan<- result
	counters        shardCounters

	id    int
	local []wordPrefix
	ports portSets
	// aggs sums the open interval's keys beyond the pair (nil without an
	// Observer); a second set waits in aggFree, or is with the collector.
	aggs    *aggregates
	aggFree chan *aggregates
	// pairSlots are the pairs of the interval being closed, for the view,
	// and pairRevs their reverse pairs' slots (none when not judged).
	pairSlots []int32
	pairRevs  []int32
	view      PairView
	evicted   flowState // the flow lookup evicted last
}

func newShard(id int, cfg Config, out chan<- result, batches, batchSize int) *shard {
	pcg := rand.NewPCG(cfg.Seed, 0)
	s := &shard{
		cfg:     cfg,
		tab:     newTable((cfg.MaxFlows+cfg.Shards-1)/cfg.Shards, cfg.SeriesCap),
		det:     cfg.NewDetector(rand.New(pcg)),
		pcg:     pcg,
		scratch: make([]float64, 0, cfg.SeriesCap),
		in:      make(chan message, batches+2),
		free:    make(chan []entry, batches),
		out:     out,
		id:      id,
		local:   makeWordPrefixes(cfg.LocalNets),
		ports:   portSets{max: cfg.perShard(cfg.MaxPortSets)},
	}
	for range batches {
		s.free <- make([]entry, 0, batchSize)
	}
	// The interval's pair lists hold at most every flow once: reserving
	// them costs address space, not resident memory, and spares a flood
	// of new pairs the copies and garbage of growing them.
	n := min(s.tab.maxFlows, preallocFlows)
	s.active = make([]int32, 0, n)
	if cfg.Observer != nil {
		s.pairSlots, s.pairRevs = make([]int32, 0, n), make([]int32, 0, n)
		ms, md, mh := cfg.perShard(cfg.MaxSources), cfg.perShard(cfg.MaxDests), cfg.perShard(cfg.MaxHosts)
		s.aggs = newAggregates(ms, md, mh)
		s.aggFree = make(chan *aggregates, 1)
		s.aggFree <- newAggregates(ms, md, mh)
	}
	return s
}

func (s *shard) run() {
	for m := range s.in {
		if m.reconfigure != nil {
			s.cfg = *m.reconfigure
			s.det = s.cfg.NewDetector(rand.New(s.pcg))
			continue
		}
		if m.entries != nil {
			s.account(m.entries)
			s.free <- m.entries[:0]
		}
		if m.close {
			alerts := s.closeInterval(m.closeIdx)
			if s.aggs != nil {
				s.aggs.traffic.First, s.aggs.traffic.Last = m.first, m.last
			}
			s.cur = m.nextIdx
			s.out <- result{idx: m.closeIdx, alerts: alerts, shard: s.id, aggs: s.aggs}
			if s.aggs != nil {
				// Waits only when the collector is a whole interval behind.
				s.aggs = <-s.aggFree
			}
		} else if m.entries == nil {
			s.cur = m.nextIdx // the first interval opens
		}
	}
}

func (s *shard) account(entries []entry) {
	t := s.tab
	var created, evicted uint64
	for i := range entries {
		e := &entries[i]
		slot, isNew, didEvict := t.lookup(&e.k, e.hash, s.cur, &s.evicted)
		if didEvict {
			evicted++
			s.dropped(&s.evicted)
		}
		f := &t.flows[slot]
		f.bytes += uint64(e.wire)
		if f.packets != math.MaxUint32 {
			f.packets++
		}
		s.measure(f, e)
		if isNew {
			if localIn(s.local, e.k.src0, e.k.src1) {
				f.bits |= localSrc
			}
			if localIn(s.local, e.k.dst0, e.k.dst1) {
				f.bits |= localDst
			}
			created++
			s.active = append(s.active, slot)
		} else if f.lastActive != s.cur {
			f.lastActive = s.cur
			s.active = append(s.active, slot)
			t.touch(slot)
		}
	}
	if created != 0 {
		s.counters.created.Add(created)
	}
	if evicted != 0 {
		s.counters.evicted.Add(evicted)
	}
}

// dropped is called for a flow leaving the table (evicted or expired): a
// flow that alerted is reported back to normal, since it is no longer
// watched.
func (s *shard) dropped(f *flowState) {
	if s.aggs != nil && f.packets > 0 && f.marks&markFolded == 0 && f.lastActive == s.cur {
		// Its interval still counts towards its source and destination.
		s.foldPair(f)
	}
	if f.bits&flowAlerted != 0 && s.cfg.ResolveAfter > 0 {
		s.pendingResolved = append(s.pendingResolved, *f)
	}
}

// closeInterval appends the interval's bytes to every flow active in it,
// scores the ones that moved enough, resolves and expires flows, and returns
// the alerts.
func (s *shard) closeInterval(idx int64) []*alert.Alert {
	var alerts []*alert.Alert
	t := s.tab
	start := time.Now()
	var evaluated uint64
	// One pass folds and closes each pair: a flow costs a cache miss per
	// pass at a million pairs. Folding only reads counts, which reset in a
	// later pass, so every pair is folded before any is reset: a pair's
	// tries are judged by what its reverse pair sent back.
	s.pairSlots, s.pairRevs = s.pairSlots[:0], s.pairRevs[:0]
	for _, slot := range s.active {
		f := &t.flows[slot]
		if f.bits&flowInUse == 0 || f.lastActive != idx || f.lastClosed >= idx {
			continue // evicted, reused, or already closed
		}
		if s.aggs != nil && f.marks&markFolded == 0 {
			s.pairSlots = append(s.pairSlots, slot)
			s.pairRevs = append(s.pairRevs, s.foldPair(f))
		}
		t.catchUp(slot, idx)
		t.push(slot, f.bytes)
		f.lastClosed = idx
	}
	if s.aggs != nil {
		// The view reads the pairs' counts, so it comes before they reset.
		s.view = PairView{slots: s.pairSlots, revs: s.pairRevs, s: s}
		s.cfg.Observer.ObservePairs(s.id, s.interval(idx), &s.view)
		s.view = PairView{}
		c := &s.counters
		c.srcDropped.Add(s.aggs.src.dropped)
		c.dstDropped.Add(s.aggs.dst.dropped)
		c.hostDropped.Add(s.aggs.host.dropped)
	}
	for _, slot := range s.active {
		f := &t.flows[slot]
		if f.bits&flowInUse == 0 || f.lastActive != idx || f.packets == 0 {
			continue // evicted, or a reused slot already scored
		}
		if f.bytes >= s.cfg.MinBytes && f.bytes > 0 {
			evaluated++
			series := t.seriesInto(slot, s.scratch)
			s.scores.Reset()
			s.pcg.Seed(s.cfg.Seed^f.key.hash(), uint64(idx))
			p := s.det.Score(series, &s.scores)
			if p >= s.cfg.Threshold && !math.IsNaN(p) {
				alerts = append(alerts, s.build(f, idx, series, p, false))
				if f.bits&flowAlerted == 0 {
					f.bits |= flowAlerted
					if s.cfg.ResolveAfter > 0 {
						s.alerted = append(s.alerted, slot)
					}
				}
				f.lastAlert = idx
			}
		}
		f.counts, f.ackProbes = counts{}, 0
	}
	s.active = s.active[:0]
	if s.ports.full != 0 {
		s.counters.portSetFull.Add(s.ports.full)
		s.ports.full = 0
	}
	s.ports.reset()

	if s.cfg.ResolveAfter > 0 {
		keep := s.alerted[:0]
		for _, slot := range s.alerted {
			f := &t.flows[slot]
			if f.bits&(flowInUse|flowAlerted) != flowInUse|flowAlerted {
				continue
			}
			if idx-f.lastAlert >= int64(s.cfg.ResolveAfter) {
				t.catchUp(slot, idx+1)
				series := t.seriesInto(slot, s.scratch)
				var bytes uint64
				if f.lastActive == idx {
					bytes = uint64(series[len(series)-1])
				}
				a := s.build(f, idx, series, 0, true)
				a.Bytes = bytes
				alerts = append(alerts, a)
				f.bits &^= flowAlerted
				continue
			}
			keep = append(keep, slot)
		}
		s.alerted = keep
	}

	// Expire flows idle past the timeout, least recently active first.
	cutoff := idx + 1 - s.cfg.idleIntervals()
	var expired uint64
	for t.tail != none && t.flows[t.tail].lastActive < cutoff {
		s.dropped(&t.flows[t.tail])
		t.remove(t.tail)
		expired++
	}
	for i := range s.pendingResolved {
		f := &s.pendingResolved[i]
		a := s.build(f, idx, nil, 0, true)
		alerts = append(alerts, a)
	}
	s.pendingResolved = s.pendingResolved[:0]

	c := &s.counters
	c.flows.Store(int64(t.len()))
	c.expired.Add(expired)
	c.evaluated.Add(evaluated)
	c.evalNanos.Add(uint64(time.Since(start)))
	for _, a := range alerts {
		if a.Resolved {
			c.resolved.Add(1)
		} else {
			c.alerts.Add(1)
		}
	}
	return alerts
}

func (s *shard) build(f *flowState, idx int64, series []float64, p float64, resolved bool) *alert.Alert {
	iv := s.cfg.Interval
	start := time.Unix(0, idx*int64(iv)).UTC()
	src, dst := f.key.addrs()
	a := &alert.Alert{
		Time:            start.Add(iv),
		IntervalStart:   start,
		IntervalSeconds: iv.Seconds(),
		Key:             src.String() + "->" + dst.String(),
		Src:             src.String(),
		Dst:             dst.String(),
		Bytes:           f.bytes,
		Packets:         uint64(f.packets),
		Series:          append([]float64(nil), series...),
		Probability:     p,
		Detector:        s.det.Name(),
		Host:            s.cfg.Host,
		Resolved:        resolved,
	}
	if !resolved {
		a.Tests = s.scores.Map()
		a.Baseline = s.cfg.Baseline(series)
	}
	if a.Series == nil {
		a.Series = []float64{}
	}
	return a
}

// foldPair measures a pair's interval, judging its tries by the reverse
// pair's replies, and adds it to the shard's aggregates. It returns the
// reverse pair's slot (none when not judged by one), so the pair view
// need not look it up again.
func (s *shard) foldPair(f *flowState) int32 {
	rev := s.reverseOf(f)
	s.aggs.fold(f, s.flowAt(rev))
	f.marks |= markFolded
	return rev
}

// flowAt returns the flow at slot, or nil for none.
func (s *shard) flowAt(slot int32) *flowState {
	if slot == none {
		return nil
	}
	return &s.tab.flows[slot]
}

// reverseOf returns the slot of the pair in the opposite direction when it
// sent in the open interval and f tried or answered something (else there
// is nothing to judge), or none.
func (s *shard) reverseOf(f *flowState) int32 {
	if f.tcpTries == 0 && f.udpTries == 0 && f.ackProbes < 2 && f.marks&markEcho == 0 && !f.answers() {
		return none
	}
	rk := f.key.reverse()
	if p, ok := s.tab.find(&rk, rk.hash()); ok {
		slot := s.tab.slots[p] - 1
		if r := &s.tab.flows[slot]; r.lastActive == s.cur && r.packets > 0 {
			return slot
		}
	}
	return none
}

func (s *shard) interval(idx int64) Interval {
	iv := s.cfg.Interval
	return Interval{Index: idx, Start: time.Unix(0, idx*int64(iv)).UTC(), Length: iv}
}
