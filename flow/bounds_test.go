package flow

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/wherefore/wherefore/capture"
)

// countingObserver reads what it is given without keeping or allocating
// anything.
type countingObserver struct {
	pairs, sources, dropped atomic.Uint64
	maxSources              atomic.Uint64
}

func (o *countingObserver) ObservePairs(_ int, _ Interval, v *PairView) {
	o.pairs.Add(uint64(v.Len()))
}

func (o *countingObserver) ObserveInterval(_ Interval, a *Aggregates) {
	o.sources.Add(uint64(len(a.Sources)))
	o.dropped.Add(a.SourcesDropped)
	if n := uint64(len(a.Sources)); n > o.maxSources.Load() {
		o.maxSources.Store(n)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A flood of a million spoofed sources against one host cannot grow memory
// past what the caps allow: pairs are evicted, sources past -max_sources
// are dropped and counted, and the heap stays within a bound computed from
// the caps alone, far below what a million tracked sources would take.
func TestSpoofedFloodStaysWithinCaps(t *testing.T) {
	if testing.Short() {
		t.Skip("a million packets")
	}
	const (
		maxFlows    = 20000
		maxKeys     = 2000
		maxPortSets = 16
		shards      = 2
		seriesCap   = 10
		packets     = 1_000_000
	)
	obs := &countingObserver{}
	before := heapInUse()
	h := newHarness(t, func(c *Config) {
		c.Shards, c.MaxFlows, c.SeriesCap, c.MinBytes = shards, maxFlows, seriesCap, 1<<40
		c.MaxSources, c.MaxDests, c.MaxHosts, c.MaxPortSets = maxKeys, maxKeys, maxKeys, maxPortSets
		c.Observer = obs
	})
	batch := make([]capture.Record, 1000)
	for i := 0; i < packets; i += len(batch) {
		for j := range batch {
			n := uint32(i + j)
			batch[j] = capture.Record{
				TS:  t0.Add(time.Duration(n) * 25 * time.Microsecond).UnixNano(), // 25 s: five intervals
				Src: netip.AddrFrom4([4]byte{byte(n>>24) | 64, byte(n >> 16), byte(n >> 8), byte(n)}),
				Dst: netip.MustParseAddr("10.0.0.5"), Proto: 6, SrcPort: uint16(n), DstPort: 80,
				TCPFlags: capture.FlagSYN, WireLen: 60,
			}
		}
		h.agg.Records(batch)
	}
	h.agg.Close()
	after := heapInUse()
	st := h.agg.Stats()

	// The bound, from the caps: each flow's state, series and share of the
	// index (at most four int32 positions, half empty at worst) and free
	// list; every key at most three times (the open and the collected set
	// of each shard, and the merged set) with its map entry; the port
	// sets; the shards' batches; and 4 MiB for everything else.
	perFlow := uint64(unsafe.Sizeof(flowState{})) + seriesCap*uint64(unsafe.Sizeof(seriesValue(0))) + 4*4 + 4
	perKey := uint64(unsafe.Sizeof(SourceStat{})+unsafe.Sizeof(DestStat{})+unsafe.Sizeof(HostStat{})) + 3*64
	bound := maxFlows*perFlow + 3*maxKeys*perKey + maxPortSets*uint64(unsafe.Sizeof(portBitmap{})) +
		shards*batchesPerShd*batchSize*uint64(unsafe.Sizeof(entry{})) + 4<<20
	grown := int64(after) - int64(before)
	t.Logf("heap grew %d bytes for %d packets from distinct sources; bound %d; stats %+v", grown, packets, bound, st)
	if grown > int64(bound) {
		t.Errorf("heap grew %d bytes, more than the %d the caps allow", grown, bound)
	}
	if st.Evicted < packets-maxFlows || st.Flows > maxFlows {
		t.Errorf("evicted %d, tracking %d; want the table held at %d flows", st.Evicted, st.Flows, maxFlows)
	}
	if st.SourcesDropped < packets-5*maxKeys || obs.maxSources.Load() > maxKeys || obs.dropped.Load() != st.SourcesDropped {
		t.Errorf("sources dropped %d (observer saw %d), at most %d per interval; want each interval held at %d",
			st.SourcesDropped, obs.dropped.Load(), obs.maxSources.Load(), maxKeys)
	}
	runtime.KeepAlive(h)
}

// The packet path allocates nothing, even while it creates and evicts
// pairs, spills scans into port sets and folds evicted pairs into full
// accumulators.
func TestPacketPathDoesNotAllocate(t *testing.T) {
	obs := &countingObserver{}
	h := newHarness(t, func(c *Config) {
		c.Shards, c.MaxFlows, c.MinBytes = 2, 512, 1<<40
		c.MaxSources, c.MaxDests, c.MaxHosts, c.MaxPortSets = 64, 64, 64, 4
		c.Observer = obs
	})
	defer h.agg.Close()
	batch := make([]capture.Record, 1024)
	var n uint32
	fill := func(at time.Duration) {
		for j := range batch {
			n++
			r := capture.Record{TS: t0.Add(at).UnixNano(), Src: netip.AddrFrom4([4]byte{10, 0, byte(n >> 8 & 7), byte(n)}),
				Dst: netip.AddrFrom4([4]byte{198, 51, byte(n >> 12 & 3), byte(n >> 3)}), WireLen: 100 + n%1400}
			switch n % 4 {
			case 0:
				r.Proto, r.TCPFlags, r.SrcPort, r.DstPort = 6, capture.FlagSYN, 40000, uint16(n)
			case 1:
				r.Proto, r.TCPFlags, r.SrcPort, r.DstPort = 6, capture.FlagSYN|capture.FlagACK, 443, 40000
			case 2:
				r.Proto, r.SrcPort, r.DstPort = 17, 5353, 53
			case 3:
				r.Proto, r.ICMPType = 1, 3
			}
			batch[j] = r
		}
	}
	for range 64 { // warm up: accumulators, port sets and batches reach their caps
		fill(time.Second)
		h.agg.Records(batch)
	}
	if allocs := testing.AllocsPerRun(200, func() {
		fill(time.Second)
		h.agg.Records(batch)
	}); allocs != 0 {
		t.Errorf("%.1f allocations per batch of %d packets; want 0", allocs, len(batch))
	}
	// Closing an interval allocates a few things per interval (the
	// collector's bookkeeping), never per pair or per key.
	at := 5 * time.Second
	if allocs := testing.AllocsPerRun(50, func() {
		fill(at)
		at += 5 * time.Second
		h.agg.Records(batch)
	}); allocs > 8 {
		t.Errorf("%.1f allocations per closed interval of %d packets; want a handful", allocs, len(batch))
	}
	h.agg.Close() // every batch handed over is accounted and observed
	if obs.pairs.Load() == 0 || obs.sources.Load() == 0 {
		t.Error("the observer saw nothing")
	}
}
