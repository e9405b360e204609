package flow

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
)

const (
	batchSize = 512 // entries per shard batch
	// batchesPerShd is the batches in flight per shard; it bounds memory
	// (about 3.5 MiB per shard) and lag, and lets the capture go on while
	// a shard closes an interval: a close of 50 000 pairs takes about as
	// long as 60 000 packets take to read.
	batchesPerShd = 128
)

// Aggregator routes capture records to shards by flow key, drives interval
// boundaries from packet time, and hands each interval's alerts, sorted by
// key, to emit. It implements capture.Sink: Records and Idle are called from
// the capture goroutine only.
type Aggregator struct {
	cfg     Config
	clock   Clock
	shards  []*shard
	pending [][]entry
	results chan result
	emit    func([]*alert.Alert)
	wg      sync.WaitGroup
	collect sync.WaitGroup
	closed  bool
	// reload holds settings from Reconfigure until the capture goroutine
	// applies them.
	reload   atomic.Pointer[Settings]
	filtered atomic.Uint64
	late     atomic.Uint64
	outliers atomic.Uint64
	// held are packets past a leap in time, waiting for confirmation;
	// maxLeap is the largest jump, in intervals, taken without it.
	held    []capture.Record
	maxLeap int64
	// first and last are the open interval's packet time span, when spanned.
	first, last int64
	spanned     bool
	closes      atomic.Uint64
	// merged sums the shards' aggregates of the interval being collected;
	// the dropped counters are what merging had to leave out.
	merged      *aggregates
	view        Aggregates
	srcDropped  atomic.Uint64
	dstDropped  atomic.Uint64
	hostDropped atomic.Uint64
}

// New starts the shard goroutines and the collector; Close stops them.
// emit receives the alerts of each closed interval (possibly none is not
// reported), in key order, on the collector goroutine.
func New(cfg Config, emit func([]*alert.Alert)) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Aggregator{
		cfg:     cfg,
		clock:   NewClock(cfg.Interval),
		maxLeap: max(2, int64(time.Hour/cfg.Interval)),
		held:    make([]capture.Record, 0, confirmLeap),
		results: make(chan result, cfg.Shards*4),
		emit:    emit,
	}
	a.pending = make([][]entry, cfg.Shards)
	if cfg.Observer != nil {
		a.merged = newAggregates(cfg.MaxSources, cfg.MaxDests, cfg.MaxHosts)
	}
	for i := range cfg.Shards {
		s := newShard(i, a.cfg, a.results, batchesPerShd, batchSize)
		a.shards = append(a.shards, s)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			s.run()
		}()
	}
	a.collect.Add(1)
	go func() {
		defer a.collect.Done()
		a.collectResults()
	}()
	return a, nil
}

// Records accounts a batch of packets.
//
// A packet whose timestamp leaps far ahead of the open interval (over an
// hour, or two intervals) is held back until a few more confirm the new
// time: a single corrupt timestamp in a capture file would otherwise move
// the clock years ahead and leave every later packet "late". If time comes
// back instead, the held packets count in the open interval as outliers.
func (a *Aggregator) Records(batch []capture.Record) {
	var filtered uint64
	for i := range batch {
		r := &batch[i]
		if !a.cfg.Filter.Keep(r.Src, r.Dst) {
			filtered++
			continue
		}
		idx := a.clock.Index(r.TS)
		if a.clock.Started() && idx > a.clock.Current()+a.maxLeap {
			if len(a.held) < confirmLeap {
				a.held = append(a.held, *r)
				continue
			}
			a.releaseHeld(true) // enough packets agree: time did move on
		} else if len(a.held) > 0 {
			a.releaseHeld(false)
		}
		a.route(r, idx, true)
	}
	if filtered != 0 {
		a.filtered.Add(filtered)
	}
}

// confirmLeap is how many packets past a leap in time make it believable.
const confirmLeap = 8

// releaseHeld routes the packets held at a leap in time: at their own time
// when the leap is confirmed, in the open interval when it was not.
func (a *Aggregator) releaseHeld(confirmed bool) {
	for i := range a.held {
		r := &a.held[i]
		if confirmed {
			a.route(r, a.clock.Index(r.TS), true)
		} else {
			a.outliers.Add(1)
			a.route(r, a.clock.Current(), false) // its time is not believed
		}
	}
	a.held = a.held[:0]
}

// route moves the clock to the packet's interval when it is newer and hands
// the packet to its flow's shard; timed says its time counts in the
// interval's span.
func (a *Aggregator) route(r *capture.Record, idx int64, timed bool) {
	switch cur := a.clock.Current(); {
	case !a.clock.Started():
		a.open(idx)
	case idx > cur:
		a.advance(idx)
	case idx < cur:
		// A packet older than the open interval (reordered capture,
		// merged files) counts towards the open one.
		a.late.Add(1)
	}
	if timed {
		if !a.spanned {
			a.first, a.last, a.spanned = r.TS, r.TS, true
		}
		a.first, a.last = min(a.first, r.TS), max(a.last, r.TS)
	}
	k := makeKey(r.Src, r.Dst)
	sh := int((k.shardHash() >> 32) % uint64(len(a.shards)))
	b := a.pending[sh]
	if b == nil {
		b = <-a.shards[sh].free
	}
	b = append(b, entry{k: k, hash: k.hash(), wire: r.WireLen, sport: r.SrcPort, dport: r.DstPort,
		proto: r.Proto, flags: r.TCPFlags, icmpType: r.ICMPType})
	if len(b) == cap(b) {
		a.shards[sh].in <- message{entries: b}
		b = nil
	}
	a.pending[sh] = b
}

// Idle advances the clock from the wall clock when a live capture is quiet,
// so intervals still close and quiet flows still resolve and expire.
func (a *Aggregator) Idle(now time.Time) {
	a.applyReload()
	if !a.clock.Started() {
		return
	}
	if idx := a.clock.Index(now.UnixNano()); idx > a.clock.Current() {
		a.advance(idx)
	}
}

func (a *Aggregator) open(idx int64) {
	a.clock.Open(idx)
	for _, s := range a.shards {
		s.in <- message{nextIdx: idx}
	}
}

func (a *Aggregator) flushPending() {
	for i, b := range a.pending {
		if b != nil {
			a.shards[i].in <- message{entries: b}
			a.pending[i] = nil
		}
	}
}

// advance closes the open interval and opens next. Intervals in between had
// no packets at all; flows account for them lazily as zeros.
func (a *Aggregator) advance(next int64) {
	a.applyReload()
	a.flushPending()
	for _, s := range a.shards {
		s.in <- message{close: true, closeIdx: a.clock.Current(), nextIdx: next, first: a.first, last: a.last}
	}
	a.first, a.last, a.spanned = 0, 0, false
	a.closes.Add(1)
	a.clock.Open(next)
}

// Close closes the interval in flight (the last, partial interval of a
// capture file is scored like any other), waits for the shards and the
// collector, and returns once every alert has been handed to emit.
func (a *Aggregator) Close() {
	if a.closed {
		return
	}
	a.closed = true
	if len(a.held) > 0 {
		// Never confirmed: the capture ended on implausible timestamps.
		a.releaseHeld(false)
	}
	if a.clock.Started() {
		a.advance(a.clock.Current() + 1)
	}
	for _, s := range a.shards {
		close(s.in)
	}
	a.wg.Wait()
	close(a.results)
	a.collect.Wait()
}

// collectResults gathers each interval's results from every shard and emits
// them sorted by key, firing before resolved, so output is the same on
// every run whatever the goroutine scheduling.
func (a *Aggregator) collectResults() {
	type gathering struct {
		n      int
		alerts []*alert.Alert
		aggs   []*aggregates // by shard
	}
	open := make(map[int64]*gathering)
	for r := range a.results {
		g := open[r.idx]
		if g == nil {
			g = &gathering{}
			open[r.idx] = g
		}
		g.n++
		g.alerts = append(g.alerts, r.alerts...)
		if r.aggs != nil {
			if g.aggs == nil {
				g.aggs = make([]*aggregates, len(a.shards))
			}
			g.aggs[r.shard] = r.aggs
		}
		if g.n < len(a.shards) {
			continue
		}
		delete(open, r.idx)
		if g.aggs != nil {
			a.observe(r.idx, g.aggs)
		}
		if len(g.alerts) == 0 {
			continue
		}
		slices.SortFunc(g.alerts, func(x, y *alert.Alert) int {
			if x.Resolved != y.Resolved {
				if x.Resolved {
					return 1
				}
				return -1
			}
			return cmp.Compare(x.Key, y.Key)
		})
		a.emit(g.alerts)
	}
}

// observe merges the shards' aggregates of interval idx in shard order,
// hands them to the Observer, and gives each shard its set back.
func (a *Aggregator) observe(idx int64, shards []*aggregates) {
	m := a.merged
	m.reset()
	for _, g := range shards {
		m.merge(g)
	}
	a.srcDropped.Add(m.src.dropped)
	a.dstDropped.Add(m.dst.dropped)
	a.hostDropped.Add(m.host.dropped)
	slices.SortFunc(m.src.vals, func(x, y SourceStat) int { return x.Addr.Compare(y.Addr) })
	slices.SortFunc(m.dst.vals, func(x, y DestStat) int { return x.Addr.Compare(y.Addr) })
	slices.SortFunc(m.host.vals, func(x, y HostStat) int { return x.Addr.Compare(y.Addr) })
	agg := &a.view
	*agg = Aggregates{Traffic: m.traffic, Sources: m.src.vals, Dests: m.dst.vals, Hosts: m.host.vals}
	for _, g := range shards {
		agg.SourcesDropped += g.src.dropped
		agg.DestsDropped += g.dst.dropped
		agg.HostsDropped += g.host.dropped
	}
	agg.SourcesDropped += m.src.dropped
	agg.DestsDropped += m.dst.dropped
	agg.HostsDropped += m.host.dropped
	a.cfg.Observer.ObserveInterval(a.clock.Interval(idx), agg)
	*agg = Aggregates{}
	for i, g := range shards {
		g.reset()
		a.shards[i].aggFree <- g
	}
}

// Stats is a snapshot of the aggregator's counters.
type Stats struct {
	Flows           int64  // flows tracked now
	Created         uint64 // flows ever created
	Expired         uint64 // removed after the idle timeout
	Evicted         uint64 // removed because the table was full
	Evaluated       uint64 // flow-intervals scored
	Alerts          uint64 // alerts raised
	Resolved        uint64 // back-to-normal notices
	IntervalsClosed uint64
	Filtered        uint64 // packets dropped by the CIDR filter
	Late            uint64 // packets older than the open interval
	TimeOutliers    uint64 // packets whose timestamp leapt ahead, unconfirmed
	EvalTime        time.Duration
	// Keys of an interval left out of the aggregates because their
	// accumulator was full (-max_sources, -max_dests, -max_hosts), and
	// pairs whose tried ports past four were counted per packet because
	// no port set was left (-max_port_sets).
	SourcesDropped uint64
	DestsDropped   uint64
	HostsDropped   uint64
	PortSetsFull   uint64
}

// Stats returns the current counters; safe from any goroutine.
func (a *Aggregator) Stats() Stats {
	st := Stats{
		IntervalsClosed: a.closes.Load(),
		Filtered:        a.filtered.Load(),
		Late:            a.late.Load(),
		TimeOutliers:    a.outliers.Load(),
		SourcesDropped:  a.srcDropped.Load(),
		DestsDropped:    a.dstDropped.Load(),
		HostsDropped:    a.hostDropped.Load(),
	}
	for _, s := range a.shards {
		c := &s.counters
		st.Flows += c.flows.Load()
		st.Created += c.created.Load()
		st.Expired += c.expired.Load()
		st.Evicted += c.evicted.Load()
		st.Evaluated += c.evaluated.Load()
		st.Alerts += c.alerts.Load()
		st.Resolved += c.resolved.Load()
		st.EvalTime += time.Duration(c.evalNanos.Load())
		st.SourcesDropped += c.srcDropped.Load()
		st.DestsDropped += c.dstDropped.Load()
		st.HostsDropped += c.hostDropped.Load()
		st.PortSetsFull += c.portSetFull.Load()
	}
	return st
}

// Settings are what a reload may change without losing flow state.
type Settings struct {
	MinBytes     uint64
	Threshold    float64
	ResolveAfter int
	Filter       *Filter
	NewDetector  func(rng *rand.Rand) anomaly.Detector
	Baseline     func(series []float64) float64
	Host         string
	Seed         uint64
}

// Reconfigure validates s and has it take effect from the next interval
// boundary (or quiet moment of a live capture); every flow keeps its series.
// It may be called from any goroutine.
func (a *Aggregator) Reconfigure(s Settings) error {
	c := a.cfg // only for validation; the copy's other fields are not used
	c.MinBytes, c.Threshold, c.ResolveAfter, c.Filter, c.NewDetector, c.Baseline, c.Host, c.Seed =
		s.MinBytes, s.Threshold, s.ResolveAfter, s.Filter, s.NewDetector, s.Baseline, s.Host, s.Seed
	if err := c.Validate(); err != nil {
		return err
	}
	a.reload.Store(&s)
	return nil
}

// applyPending runs on the capture goroutine: the router takes the new
// filter, and every shard its settings, in order with the packets.
func (a *Aggregator) applyReload() {
	s := a.reload.Swap(nil)
	if s == nil {
		return
	}
	a.cfg.MinBytes, a.cfg.Threshold, a.cfg.ResolveAfter, a.cfg.Filter, a.cfg.NewDetector, a.cfg.Baseline, a.cfg.Host, a.cfg.Seed =
		s.MinBytes, s.Threshold, s.ResolveAfter, s.Filter, s.NewDetector, s.Baseline, s.Host, s.Seed
	a.flushPending()
	for _, sh := range a.shards {
		c := a.cfg
		sh.in <- message{reconfigure: &c}
	}
}
