package detect

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/flow"
)

// Scopes of the pooled models: each learns the tail of its keys' deviations.
const (
	scopePair  = "pair"  // pair volume
	scopeHost  = "host"  // a source's upload volume
	scopeCount = "count" // scan, fan-out and fan-in counts
	scopeProto = "proto" // DNS and ICMP volume
)

// Stage is the detection stage: a flow.Observer that emits alerts. Create
// it with New and set it as flow.Config.Observer.
type Stage struct {
	cfg       Config
	pooledCfg anomaly.PooledConfig
	volB      anomaly.BaselineConfig
	countB    anomaly.BaselineConfig
	keep      float64 // per-interval decay of the windowed sums
	local     []netip.Prefix
	emit      func([]*alert.Alert)

	sides []*shardSide
	// The rest is touched only by ObserveInterval's goroutine.
	closes uint64
	pooled map[string]*anomaly.Pooled
	srcs   *keyed[srcState]
	dsts   *keyed[dstState]
	cands  []*pairCand
	devs   []scored
	bySrc  map[netip.Addr]srcExtra
	alerts []*alert.Alert
	// volumeHit are the sources whose pairs alerted on volume this
	// interval: their host's surge says nothing more.
	volumeHit map[netip.Addr]bool
	open      map[string]*openAlert
	counted   map[string]countedAlert
	res       anomaly.Result
	beacon    beaconSide

	stats struct {
		alerts, resolved, srcEvicted, dstEvicted, newDropped atomic.Uint64
		beaconDropped, beaconPairs                           atomic.Uint64
		byDetector                                           [len(detectorNames)]atomic.Uint64
	}
	reload atomic.Pointer[Config]
	// shardCfg are the settings the shards read, each once per interval.
	shardCfg atomic.Pointer[Config]
	// pairBase is the pooled pair model's base (Pooled.Base) as float64
	// bits, NaN until it calibrates: shards keep only the deviations
	// above it, a few in a hundred.
	pairBase atomic.Uint64
}

// countedAlert is when a count detector last alerted on a key, and at
// what count.
type countedAlert struct {
	idx   int64
	value float64
}

// openAlert remembers a key that alerted, to report it back to normal.
type openAlert struct {
	last int64
	a    *alert.Alert
}

// New validates cfg and returns a stage that hands each interval's alerts,
// sorted by key, to emit (on the goroutine that calls ObserveInterval).
// localNets decide which sources are local hosts (uploads, fan-out); give
// the flow aggregator's (flow.Config.LocalNets), whose decision per pair
// (PairStat.SrcLocal, DstLocal) the pair detectors read.
func New(cfg Config, localNets []netip.Prefix, emit func([]*alert.Alert)) (*Stage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Stage{
		emit:      emit,
		local:     localNets,
		pooled:    make(map[string]*anomaly.Pooled),
		bySrc:     make(map[netip.Addr]srcExtra),
		volumeHit: make(map[netip.Addr]bool),
		open:      make(map[string]*openAlert),
		counted:   make(map[string]countedAlert),
	}
	s.apply(&cfg)
	shardCfg := cfg
	s.shardCfg.Store(&shardCfg)
	s.beacon = beaconSide{table: newBeaconTable(cfg.BeaconMaxPairs), open: make(map[beaconKey]int64)}
	s.srcs = newKeyed[srcState](cfg.MaxSources)
	s.dsts = newKeyed[dstState](cfg.MaxDests)
	for _, scope := range []string{scopePair, scopeHost, scopeCount, scopeProto} {
		p, err := anomaly.NewPooled(s.scopeConfig(scope))
		if err != nil {
			return nil, err
		}
		s.pooled[scope] = p
	}
	s.sides = make([]*shardSide, cfg.Shards)
	for i := range s.sides {
		sd := &shardSide{}
		for j := range sd.found {
			sd.found[j].bySrc = make(map[netip.Addr]srcExtra)
			sd.found[j].maxNew = max(1, cfg.MaxSources/cfg.Shards)
		}
		s.sides[i] = sd
	}
	s.publishPairBase()
	return s, nil
}

// scopeConfig is the pooled model's configuration for a scope. Scopes of
// addresses have far fewer keys than pairs: they calibrate on fewer
// deviations, so they learn within the first tens of minutes too.
func (s *Stage) scopeConfig(scope string) anomaly.PooledConfig {
	c := s.pooledCfg
	if scope != scopePair {
		c.NInit = smallScopeNInit
	}
	return c
}

// smallScopeNInit is how many deviations an address scope calibrates on.
const smallScopeNInit = 500

// apply installs validated settings.
func (s *Stage) apply(cfg *Config) {
	s.cfg = *cfg
	s.pooledCfg = cfg.pooledConfig()
	s.pooledCfg.Validate() //nolint:errcheck // Validate checked it
	s.volB, s.countB = cfg.volumeBaseline(), cfg.countBaseline()
	s.keep = 1 - 1/cfg.windowIntervals()
}

// Reconfigure validates cfg and has it take effect from the next interval;
// learned state is kept. Shards, caps and the risk cannot change (the
// pooled models were calibrated for it), so they are taken from the
// current settings. It may be called from any goroutine.
func (s *Stage) Reconfigure(cfg Config) error {
	cur := s.shardCfg.Load()
	cfg.Interval, cfg.Shards, cfg.MaxSources, cfg.MaxDests = cur.Interval, cur.Shards, cur.MaxSources, cur.MaxDests
	cfg.RiskKeyHours, cfg.Window, cfg.BeaconMaxPairs = cur.RiskKeyHours, cur.Window, cur.BeaconMaxPairs
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.shardCfg.Store(&cfg)
	s.reload.Store(&cfg)
	return nil
}

// ObservePairs implements flow.Observer: it measures one shard's pairs.
func (s *Stage) ObservePairs(shard int, iv flow.Interval, pairs *flow.PairView) {
	sd := s.sides[shard]
	sd.reserve(pairs.Slots())
	s.observePairs(sd, iv, pairs)
}

// ObserveInterval implements flow.Observer: it judges the interval's
// pairs, sources and destinations and emits the alerts.
func (s *Stage) ObserveInterval(iv flow.Interval, agg *flow.Aggregates) {
	buf := s.closes & 1
	s.closes++
	s.alerts = s.alerts[:0]
	clear(s.volumeHit)
	s.judgePairs(iv, buf)
	s.judgeSources(iv, agg, buf)
	s.judgeDests(iv, agg)
	s.judgeBeacons(iv, buf)
	s.resolve(iv)
	s.forgetCounted(iv)
	if len(s.alerts) > 0 {
		slices.SortStableFunc(s.alerts, func(x, y *alert.Alert) int {
			if x.Resolved != y.Resolved {
				if x.Resolved {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(x.Key, y.Key), cmp.Compare(x.Detector, y.Detector))
		})
		out := slices.Clone(s.alerts)
		s.emit(out)
	}
	for _, p := range s.pooled {
		p.EndInterval()
	}
	s.publishPairBase()
	// A reload takes effect here between intervals; the shards take it
	// from shardCfg when they next measure.
	if c := s.reload.Swap(nil); c != nil {
		s.cfg = *c
	}
}

func (s *Stage) isLocal(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// publishPairBase tells the shards the pooled pair model's base.
func (s *Stage) publishPairBase() {
	b, ok := s.pooled[scopePair].Base()
	if !ok {
		b = math.NaN()
	}
	s.pairBase.Store(math.Float64bits(b))
}

// judgePairs feeds the shards' deviations to the pair model in key order
// and judges the candidates with the threshold learned so far.
func (s *Stage) judgePairs(iv flow.Interval, buf uint64) {
	s.devs, s.cands = s.devs[:0], s.cands[:0]
	clear(s.bySrc)
	for _, sd := range s.sides {
		fd := &sd.found[buf]
		s.devs = append(s.devs, fd.devs...)
		for i := range fd.cands {
			s.cands = append(s.cands, &fd.cands[i])
		}
		for a, e := range fd.bySrc {
			t := s.bySrc[a]
			t.add(e)
			s.bySrc[a] = t
		}
		if fd.newDropped > 0 {
			s.stats.newDropped.Add(fd.newDropped)
		}
	}
	sortScored(s.devs)
	pm := s.pooled[scopePair]
	for _, d := range s.devs {
		pm.Observe(d.d) //nolint:errcheck // deviations are finite
	}
	for _, sd := range s.sides {
		pm.ObserveBelow(sd.found[buf].below)
	}
	thr, _ := pm.Threshold()
	slices.SortFunc(s.cands, func(x, y *pairCand) int {
		return cmp.Or(x.p.Src.Compare(y.p.Src), x.p.Dst.Compare(y.p.Dst))
	})
	cfg := &s.cfg
	for _, c := range s.cands {
		if c.what&(candSurge|candNew) != 0 {
			var parent anomaly.Baseline
			if st, ok := s.srcs.lookup(c.p.Src); ok {
				parent = st.up
			}
			minv := cfg.PairMinBytes
			if c.what&candNew != 0 {
				minv = cfg.NewDestMinBytes
			}
			sc := anomaly.SurgeConfig{MinValue: minv}
			anomaly.Surge(float64(c.p.Bytes), c.own, parent, thr, &s.volB, &sc, &s.res)
			if s.res.Hit {
				s.volumeHit[c.p.Src] = true
				s.pairAlert(iv, c, Surge, &s.res)
			}
		}
		if c.what&candRamp != 0 && c.ramp.Hit {
			s.pairAlert(iv, c, Ramp, &c.ramp)
		}
		if c.what&candVScan != 0 {
			cc := anomaly.CountConfig{Kind: anomaly.KindVScan, Floor: cfg.VScanFloor}
			anomaly.Count(c.fails, anomaly.Baseline{}, thr, &s.countB, &cc, &s.res)
			if s.res.Hit {
				s.pairAlert(iv, c, VScan, &s.res)
			}
		}
		if c.what&candBrute != 0 {
			cc := anomaly.CountConfig{Kind: anomaly.KindBruteForce, Floor: cfg.BruteForceFloor}
			anomaly.Count(c.syns, anomaly.Baseline{}, thr, &s.countB, &cc, &s.res)
			if s.res.Hit {
				s.pairAlert(iv, c, BruteForce, &s.res)
			}
		}
		if c.what&candCeiling != 0 {
			s.ceilingPair(iv, c)
		}
	}
}

// judgeSources updates and judges every source: host upload surge,
// tunnels, horizontal scan and fan-out.
func (s *Stage) judgeSources(iv flow.Interval, agg *flow.Aggregates, buf uint64) {
	cfg := &s.cfg
	host, count, proto := s.pooled[scopeHost], s.pooled[scopeCount], s.pooled[scopeProto]
	// Feed the models first, in address order, then judge with the
	// thresholds learned before this interval.
	for i := range agg.Sources {
		src := &agg.Sources[i]
		st := s.srcs.get(src.Addr, iv.Index)
		if !st.seen {
			st.seen, st.since = true, iv.Index
		}
		// One host retried is a dead service, not a scan.
		var failedDsts float64
		if src.DstsFailed > 1 {
			failedDsts = float64(src.DstsFailed)
		}
		st.failedDsts = float64(decay(float32(st.failedDsts), st.last, iv.Index, s.keep)) + failedDsts
		st.newDsts = float64(decay(float32(st.newDsts), st.last, iv.Index, s.keep)) + float64(s.bySrc[src.Addr].newDsts)
		st.last = iv.Index
		if d, ok := st.up.Deviation(float64(src.Bytes), &s.volB); ok {
			host.Observe(d) //nolint:errcheck
		}
		dnsq := float64(s.bySrc[src.Addr].dnsQueries)
		if d, ok := st.dns.Deviation(dnsq, &s.volB); ok && dnsq > 0 {
			proto.Observe(d) //nolint:errcheck
		}
		if d, ok := st.hscan.Deviation(st.failedDsts, &s.countB); ok && st.failedDsts > 0 {
			count.Observe(d) //nolint:errcheck
		}
	}
	hostThr, _ := host.Threshold()
	countThr, _ := count.Threshold()
	protoThr, _ := proto.Threshold()
	for i := range agg.Sources {
		src := &agg.Sources[i]
		st, ok := s.srcs.lookup(src.Addr)
		if !ok {
			continue // forgotten already: more sources this interval than -detect_max_keys
		}
		local := s.isLocal(src.Addr)
		if cfg.on(Surge) && local && !s.volumeHit[src.Addr] && float64(src.Bytes) > cfg.HostMinBytes {
			sc := anomaly.SurgeConfig{MinValue: cfg.HostMinBytes}
			anomaly.Surge(float64(src.Bytes), st.up, anomaly.Baseline{}, hostThr, &s.volB, &sc, &s.res)
			if s.res.Hit {
				s.srcAlert(iv, src, Surge, &s.res, alert.ScopeHost)
			}
		}
		if cfg.on(Tunnel) {
			sc := anomaly.SurgeConfig{MinValue: cfg.TunnelMinBytes, ColdCeiling: 4 * cfg.TunnelMinBytes}
			if st.up.Active == 0 {
				// A host first seen now has no protocol history
				// because it has no history at all: judge by volume.
				sc.ColdCeiling = 25 * cfg.TunnelMinBytes
			}
			if dnsq := float64(s.bySrc[src.Addr].dnsQueries); dnsq > cfg.TunnelMinBytes {
				anomaly.Tunnel(dnsq, st.dns, protoThr, &s.volB, &sc, &s.res)
				if s.res.Hit {
					s.res.SetSub("dns", 1)
					s.srcAlert(iv, src, Tunnel, &s.res, alert.ScopeSrc)
				}
			}
			if float64(src.ICMPBytes) > cfg.TunnelMinBytes {
				anomaly.Tunnel(float64(src.ICMPBytes), st.icmp, protoThr, &s.volB, &sc, &s.res)
				if s.res.Hit {
					s.res.SetSub("icmp", 1)
					s.srcAlert(iv, src, Tunnel, &s.res, alert.ScopeSrc)
				}
			}
		}
		if cfg.on(HScan) && src.DstsFailed > 1 && st.failedDsts > cfg.HScanFloor {
			cc := anomaly.CountConfig{Kind: anomaly.KindHScan, Floor: cfg.HScanFloor}
			anomaly.Count(st.failedDsts, st.hscan, countThr, &s.countB, &cc, &s.res)
			if s.res.Hit {
				s.srcAlert(iv, src, HScan, &s.res, alert.ScopeSrc)
			}
		}
		if cfg.on(FanOut) && local && s.bySrc[src.Addr].newDsts > 0 && st.newDsts > cfg.FanOutFloor {
			cc := anomaly.CountConfig{Kind: anomaly.KindFanOut, Floor: cfg.FanOutFloor}
			anomaly.Count(st.newDsts, st.fan, countThr, &s.countB, &cc, &s.res)
			if s.res.Hit {
				s.srcAlert(iv, src, FanOut, &s.res, alert.ScopeSrc)
			}
		}
		if cfg.CeilingBytes > 0 || cfg.CeilingPackets > 0 {
			if local && ((cfg.CeilingBytes > 0 && src.Bytes >= cfg.CeilingBytes) || (cfg.CeilingPackets > 0 && src.Packets >= cfg.CeilingPackets)) {
				s.ceilingSrc(iv, src)
			}
		}
		st.up.Update(float64(src.Bytes), &s.volB)
		st.dns.Update(float64(s.bySrc[src.Addr].dnsQueries), &s.volB)
		st.icmp.Update(float64(src.ICMPBytes), &s.volB)
		if st.failedDsts > 0 {
			st.hscan.Update(st.failedDsts, &s.countB)
		}
		if st.newDsts > 0 {
			st.fan.Update(st.newDsts, &s.countB)
		}
	}
	s.stats.srcEvicted.Store(s.srcs.evicted)
}

// judgeDests updates and judges every destination for fan-in: many
// sources whose tries towards it failed (a SYN flood, spoofed or not), or
// that sent it answers to requests it never made (reflection).
func (s *Stage) judgeDests(iv flow.Interval, agg *flow.Aggregates) {
	cfg := &s.cfg
	count := s.pooled[scopeCount]
	countThr, _ := count.Threshold()
	for i := range agg.Dests {
		dst := &agg.Dests[i]
		// Many sources whose tries failed: a scanner's failures come from
		// one source, a busy server's tries are answered. Sources that
		// answer requests it never made count too: a reflection attack
		// sends the victim answers, not tries.
		failed := min(dst.SrcsTrying, dst.Attempts.Failed) + dst.SrcsUnsolicited
		if failed == 0 {
			if st, ok := s.dsts.lookup(dst.Addr); ok {
				st.failed = float64(decay(float32(st.failed), st.last, iv.Index, s.keep))
				st.last = iv.Index
			}
			continue
		}
		st := s.dsts.get(dst.Addr, iv.Index)
		st.failed = float64(decay(float32(st.failed), st.last, iv.Index, s.keep)) + float64(failed)
		st.last = iv.Index
		if d, ok := st.fanin.Deviation(st.failed, &s.countB); ok {
			count.Observe(d) //nolint:errcheck
		}
		if cfg.on(FanIn) && st.failed > cfg.FanInFloor {
			cc := anomaly.CountConfig{Kind: anomaly.KindFanIn, Floor: cfg.FanInFloor}
			anomaly.Count(st.failed, st.fanin, countThr, &s.countB, &cc, &s.res)
			if s.res.Hit {
				s.dstAlert(iv, dst, &s.res)
			}
		}
		st.fanin.Update(st.failed, &s.countB)
	}
	s.stats.dstEvicted.Store(s.dsts.evicted)
}

// resolve reports keys back to normal after ResolveAfter quiet intervals.
func (s *Stage) resolve(iv flow.Interval) {
	if s.cfg.ResolveAfter <= 0 {
		clear(s.open)
		return
	}
	for key, o := range s.open {
		if iv.Index-o.last < int64(s.cfg.ResolveAfter) {
			continue
		}
		a := *o.a
		a.Time, a.IntervalStart = iv.Start.Add(iv.Length), iv.Start
		a.Resolved = true
		a.Bytes, a.Packets, a.Probability = 0, 0, 0
		a.Reason = a.Key + " is back to normal"
		s.alerts = append(s.alerts, &a)
		s.stats.resolved.Add(1)
		delete(s.open, key)
	}
}

// repeat reports whether a count or ramp detector's alert would repeat
// one raised for the same key within the window, its value not yet
// doubled: a scan is one incident, not one per interval while its count
// decays, and a ramp is reported again as it doubles.
func (s *Stage) repeat(iv flow.Interval, a *alert.Alert, value float64) bool {
	k := a.Detector + " " + a.Key
	if last, ok := s.counted[k]; ok && float64(iv.Index-last.idx) < s.cfg.windowIntervals() && value < 2*last.value {
		return true
	}
	s.counted[k] = countedAlert{iv.Index, value}
	return false
}

// forgetCounted drops count alerts older than the window.
func (s *Stage) forgetCounted(iv flow.Interval) {
	for k, c := range s.counted {
		if float64(iv.Index-c.idx) >= s.cfg.windowIntervals() {
			delete(s.counted, k)
		}
	}
}

// add records a firing alert.
func (s *Stage) add(iv flow.Interval, a *alert.Alert) {
	switch a.Detector {
	case "vscan", "hscan", "fanout", "fanin", "bruteforce", "ramp":
		if s.repeat(iv, a, a.Series[1]) {
			return
		}
	}
	s.alerts = append(s.alerts, a)
	s.stats.alerts.Add(1)
	for i, n := range detectorNames {
		if n.name == a.Detector {
			s.stats.byDetector[i].Add(1)
		}
	}
	if s.cfg.ResolveAfter > 0 {
		k := a.Detector + " " + a.Key
		if o, ok := s.open[k]; ok {
			o.last = iv.Index
		} else {
			s.open[k] = &openAlert{last: iv.Index, a: a}
		}
	}
}

// Stats are the stage's counters.
type Stats struct {
	Alerts, Resolved uint64
	// Addresses whose learned state was forgotten because the caps were
	// reached, and local sources whose new pairs went uncounted.
	SourcesEvicted, DestsEvicted, FanOutDropped uint64
	// BeaconPairs are the pairs the beacon detector follows now;
	// BeaconDropped the new pairs it could not follow, its table full.
	BeaconPairs, BeaconDropped uint64
}

// AlertsBy returns the alerts each detector raised, by its name; safe
// from any goroutine.
func (s *Stage) AlertsBy() map[string]uint64 {
	m := make(map[string]uint64, len(detectorNames))
	for i, n := range detectorNames {
		m[n.name] = s.stats.byDetector[i].Load()
	}
	return m
}

// Stats returns the counters; safe from any goroutine.
func (s *Stage) Stats() Stats {
	return Stats{
		Alerts: s.stats.alerts.Load(), Resolved: s.stats.resolved.Load(),
		SourcesEvicted: s.stats.srcEvicted.Load(), DestsEvicted: s.stats.dstEvicted.Load(),
		FanOutDropped: s.stats.newDropped.Load(),
		BeaconPairs:   s.stats.beaconPairs.Load(), BeaconDropped: s.stats.beaconDropped.Load(),
	}
}

// severity maps a hit's score and size to the alert's probability: the
// score (above 0.5 for every hit) rises with surprise; a hit ten times
// past its threshold adds 0.1, a hundred times 0.2, capped at 0.3.
func severity(r *anomaly.Result) float64 {
	p := r.Score
	if r.Threshold > 0 && r.Value > r.Threshold {
		p += min(0.3, 0.1*math.Log10(r.Value/r.Threshold))
	}
	return min(1, p)
}
