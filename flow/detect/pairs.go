package detect

import (
	"math"
	"net/netip"
	"slices"

	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/flow"
)

// pairState is what the stage learns about one pair, in its shard's side
// table at the pair's flow slot.
type pairState struct {
	vol anomaly.Baseline // bytes per active interval
	// fails and syns are decayed sums over the window of the pair's failed
	// tries (vertical scan) and connection openings (brute force).
	fails, syns float32
	last        int64 // interval the pair was last seen active
}

// Bits of pairCand.what: why a pair is looked at again in ObserveInterval.
const (
	candSurge uint8 = 1 << iota
	candNew
	candRamp
	candVScan
	candBrute
	candCeiling
)

// pairCand is a pair that may alert: its interval and what the shard
// measured, judged in ObserveInterval once the pooled threshold is known.
// Few pairs are candidates: a deviation above the lowest threshold the
// pooled model may learn, a count past its floor.
type pairCand struct {
	p     flow.PairStat
	own   anomaly.Baseline // before this interval's update
	ramp  anomaly.Result
	fails float64
	syns  float64
	what  uint8
}

// minMeanPacket is the mean packet size in bytes under which a pair's
// volume is not judged: TCP acknowledgements are 54 to 90 bytes on the wire.
const minMeanPacket = 120

// srcExtra is what a source's pairs tell beyond flow's sums: new
// destinations it tried (fan-out) and DNS bytes of the queries it sent
// (a DNS server's answers are not a tunnel).
type srcExtra struct {
	newDsts    uint32
	dnsQueries uint64
}

func (e *srcExtra) add(o srcExtra) {
	e.newDsts += o.newDsts
	e.dnsQueries += o.dnsQueries
}

// scored is one deviation to feed a pooled model, with the key it belongs
// to, so models are fed in the same order whatever the shard count.
type scored struct {
	k1, k2 uint64
	d      float64
}

func addrWords(a netip.Addr) (uint64, uint64) {
	b := a.As16()
	var hi, lo uint64
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return hi, lo
}

// pairOrder is a deterministic order key of a pair: its addresses mixed
// (ties are broken by the deviation itself, so equal keys cannot reorder
// a sort's result).
func pairOrder(src, dst netip.Addr) (uint64, uint64) {
	sh, sl := addrWords(src)
	dh, dl := addrWords(dst)
	return sh ^ (sl * 0x9e3779b97f4a7c15), dh ^ (dl*0xbf58476d1ce4e5b9 + sh)
}

func sortScored(s []scored) {
	slices.SortFunc(s, func(a, b scored) int {
		switch {
		case a.k1 != b.k1:
			return cmpU(a.k1, b.k1)
		case a.k2 != b.k2:
			return cmpU(a.k2, b.k2)
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return 0
	})
}

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// shardSide is one shard's side table and its findings. Only that
// shard's goroutine touches pairs and series. The findings are double
// buffered by close count: a shard may close interval n+1 while
// ObserveInterval still reads interval n's findings, but flow hands the
// shard no third close before that ObserveInterval returned (its
// aggregates come back only then).
type shardSide struct {
	pairs  []pairState
	series []float64
	closes uint64
	found  [2]findings
}

// findings are what one shard saw in one interval.
type findings struct {
	cands []pairCand
	devs  []scored
	// bySrc sums per source what only its pairs tell, at most maxNew
	// sources; newDropped counts the ones left out.
	bySrc      map[netip.Addr]srcExtra
	maxNew     int
	newDropped uint64
	// below counts the deviations at or below the pooled pair model's
	// base, left out of devs.
	below int
	// beacons are the pairs' events for the beacon detector; beaconOver
	// counts those left out, past what the beacon table could follow.
	beacons    []beaconEvent
	beaconOver uint64
}

// state returns slot's state, growing the side table as the flow table's
// slots are first used.
func (sd *shardSide) state(slot int32) *pairState {
	if int(slot) >= len(sd.pairs) {
		if int(slot) < cap(sd.pairs) {
			// Reserved room is zero and costs no memory until used.
			sd.pairs = sd.pairs[:cap(sd.pairs)]
			return &sd.pairs[slot]
		}
		n := max(int(slot)+1, 2*len(sd.pairs), 64)
		sd.pairs = slices.Grow(sd.pairs, n-len(sd.pairs))[:n]
	}
	return &sd.pairs[slot]
}

// maxReservedPairs bounds the pair states a shard reserves up front, as
// the flow table bounds the flows it reserves.
const maxReservedPairs = 4 << 20

// reserve makes room for the states of slots [0, n) at once: reserved
// memory costs address space, not resident memory, until pairs use it, and
// it spares the copies (and the garbage) of a doubling table during a
// flood of new pairs.
func (sd *shardSide) reserve(n int) {
	n = min(n, maxReservedPairs)
	if cap(sd.pairs) < n {
		// make, not slices.Grow: fresh memory is already zero, and
		// clearing it again would make the whole reservation resident.
		sd.pairs = append(make([]pairState, 0, n), sd.pairs...)
	}
}

// decay returns x decayed over the intervals since last by the window's
// factor, so a sum stands for about the last window of intervals.
func decay(x float32, last, now int64, keep float64) float32 {
	if x == 0 || now <= last {
		return x
	}
	return float32(float64(x) * math.Pow(keep, float64(now-last)))
}

// observePairs measures one shard's pairs: deviations for the pooled
// model, candidates for ObserveInterval, baselines updated.
// pairSource is a shard's pairs of an interval: flow.PairView.
type pairSource interface {
	Len() int
	Pair(i int) flow.PairStat
	Series(i int, dst []float64) []float64
}

func (s *Stage) observePairs(sd *shardSide, iv flow.Interval, view pairSource) {
	cfg := s.shardCfg.Load()
	fd := &sd.found[sd.closes&1]
	sd.closes++
	fd.cands, fd.devs, fd.beacons, fd.beaconOver = fd.cands[:0], fd.devs[:0], fd.beacons[:0], 0
	clear(fd.bySrc)
	fd.newDropped, fd.below = 0, 0
	minDev := s.pooledCfg.MinDeviation
	base := math.Float64frombits(s.pairBase.Load()) // NaN: keep every deviation
	for i := range view.Len() {
		pair := view.Pair(i)
		p := &pair
		st := sd.state(p.Slot)
		if cfg.on(Beacon) {
			s.noteBeacon(cfg, fd, p, st.last, iv)
		}
		if p.New {
			*st = pairState{last: iv.Index}
		}
		// One port retried interval after interval is a dead service, not
		// a scan: only intervals that tried several ports count.
		var fails float32
		if p.Ports > 1 {
			fails = float32(p.Attempts.Failed)
		}
		st.fails = decay(st.fails, st.last, iv.Index, s.keep) + fails
		st.syns = decay(st.syns, st.last, iv.Index, s.keep) + float32(p.Attempts.SYNs)
		st.last = iv.Index
		x := float64(p.Bytes)
		var what uint8
		d, known := st.vol.Deviation(x, &s.volB)
		if known {
			// At or below the pooled model's base a deviation only adds
			// to its count: kept and ordered are only those above.
			if !(d <= base) {
				k1, k2 := pairOrder(p.Src, p.Dst)
				fd.devs = append(fd.devs, scored{k1, k2, d})
			} else {
				fd.below++
			}
		}
		// A stream of small packets is the acknowledging side of a
		// transfer (its data side is judged), or a flood that the count
		// detectors and the packet ceiling judge: not a volume surge.
		bulk := p.Bytes >= minMeanPacket*p.Packets
		if cfg.on(Surge) && bulk {
			if known && d > minDev && x > cfg.PairMinBytes {
				what |= candSurge
			}
			if !known && x > cfg.NewDestMinBytes {
				what |= candNew
			}
		}
		var extra srcExtra
		if cfg.on(FanOut) && p.New && p.Attempts.Tried > 0 && p.SrcLocal {
			extra.newDsts = 1
		}
		if cfg.on(Tunnel) && p.DNSBytes > 0 && slices.Contains(p.SamplePorts(), 53) {
			extra.dnsQueries = p.DNSBytes
		}
		if extra != (srcExtra{}) {
			if e, ok := fd.bySrc[p.Src]; ok || len(fd.bySrc) < fd.maxNew {
				e.add(extra)
				fd.bySrc[p.Src] = e
			} else {
				fd.newDropped++
			}
		}
		if cfg.on(VScan) && fails > 0 && float64(st.fails) > cfg.VScanFloor {
			what |= candVScan
		}
		// Brute force is many connections to one service; a scan tries many.
		if cfg.on(BruteForce) && p.Attempts.SYNs > 0 && p.Ports <= 2 && float64(st.syns) > cfg.BruteForceFloor && bruteService(cfg, p) {
			what |= candBrute
		}
		if (cfg.CeilingBytes > 0 && p.Bytes >= cfg.CeilingBytes) || (cfg.CeilingPackets > 0 && p.Packets >= cfg.CeilingPackets) {
			what |= candCeiling
		}
		var ramp anomaly.Result
		if cfg.on(Ramp) && bulk && x > cfg.Ramp.MinValue && !p.New {
			sd.series = view.Series(i, sd.series)
			anomaly.Ramp(sd.series, &cfg.Ramp, &ramp)
			// A flow that was idle when the rise began is starting, not
			// ramping up.
			if ramp.Hit && ramp.Expected >= 1 && steady(sd.series, cfg.Ramp.Intervals) {
				what |= candRamp
			}
		}
		if what != 0 {
			fd.cands = append(fd.cands, pairCand{p: *p, own: st.vol, ramp: ramp,
				fails: float64(st.fails), syns: float64(st.syns), what: what})
		}
		st.vol.Update(x, &s.volB)
	}
}

// maxRampStep is the largest growth of one interval in a ramp: a flow
// that creeps up and then leaps is a burst, judged as a surge.
const maxRampStep = 4

// steady reports whether the last k rises of series each grew at most
// maxRampStep times.
func steady(series []float64, k int) bool {
	w := series[len(series)-k-1:]
	for i := 1; i < len(w); i++ {
		if w[i] > maxRampStep*w[i-1] {
			return false
		}
	}
	return true
}

// bruteService reports whether the pair tried one of the brute-force ports.
func bruteService(cfg *Config, p *flow.PairStat) bool {
	for _, port := range p.SamplePorts() {
		if slices.Contains(cfg.BruteForcePorts, port) {
			return true
		}
	}
	return false
}
