package flow

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
)

func benchConfig(maxFlows int) Config {
	acfg := anomaly.Config{Methods: []string{"magnitude", "highrank", "lowrank", "diff"}, ActiveSize: 1, NSeasons: 4, Sensitivity: 0.5, Delay: true}
	return Config{
		Interval: 5 * time.Second, SeriesCap: 10, IdleTimeout: time.Minute, MaxFlows: maxFlows, MinBytes: 1e6, Threshold: 0.6,
		NewDetector: func(rng *rand.Rand) anomaly.Detector {
			d, _ := anomaly.NewAnomalyzer(acfg, rng)
			return d
		},
		Baseline: func(s []float64) float64 { return anomaly.ReferenceMean(s, acfg) },
	}
}

// BenchmarkRecords measures the aggregation of packets into flows across
// shards, with intervals closing and the default tests scoring: the
// throughput the capture goroutine sees. The packets are TCP, mostly
// established traffic with some connection openings. The -observed cases
// also sum every interval per source, destination and local host for an
// Observer, as detection beyond the pair does.
func BenchmarkRecords(b *testing.B) {
	for _, bc := range []struct {
		name     string
		flows    int
		observed bool
	}{
		{"1k-flows", 1000, false},
		{"50k-flows", 50000, false},
		{"1k-flows-observed", 1000, true},
		{"50k-flows-observed", 50000, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := benchConfig(1 << 20)
			if bc.observed {
				cfg.Observer = &countingObserver{}
			}
			agg, err := New(cfg, func([]*alert.Alert) {})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			batch := make([]capture.Record, 1024)
			ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					f := rng.IntN(bc.flows)
					ts += 20000 // 50k packets/s of packet time
					flags := capture.FlagACK
					if rng.IntN(16) == 0 {
						flags = capture.FlagSYN
					}
					batch[i] = capture.Record{TS: ts, Src: netip.AddrFrom4([4]byte{10, 0, byte(f >> 8), byte(f)}),
						Dst: netip.AddrFrom4([4]byte{198, 51, 100, byte(f % 7)}), WireLen: 1000,
						Proto: 6, SrcPort: uint16(40000 + f%1000), DstPort: 443, TCPFlags: flags}
				}
				agg.Records(batch)
			}
			agg.Close()
			b.ReportMetric(float64(len(batch))*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}

// BenchmarkMemoryPerFlow measures what one tracked flow costs at the
// default -max_flows (1M) and -anom_gv_cap (10), with every flow holding a
// full series: a flood of 1.5M distinct sources fills the table and keeps
// evicting. It reports the Go heap and the resident set (where /proc
// tells it) per tracked flow, with and without the aggregates an Observer
// is handed.
func BenchmarkMemoryPerFlow(b *testing.B) {
	const maxFlows, sources = 1_000_000, 1_500_000
	for _, observed := range []bool{false, true} {
		b.Run(map[bool]string{false: "pairs", true: "pairs+aggregates"}[observed], func(b *testing.B) {
			memoryPerFlow(b, maxFlows, sources, observed)
		})
	}
}

func memoryPerFlow(b *testing.B, maxFlows, sources int, observed bool) {
	for b.Loop() {
		heap0 := heapInUse()
		debug.FreeOSMemory()
		rss0 := residentBytes()
		cfg := benchConfig(maxFlows)
		if observed {
			cfg.Observer = &countingObserver{}
		}
		agg, err := New(cfg, func([]*alert.Alert) {})
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]capture.Record, 1000)
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		for i := 0; i < sources; i += len(batch) {
			for j := range batch {
				n := uint32(i + j)
				// Ten intervals' packet time, so every series fills up.
				batch[j] = capture.Record{TS: ts + int64(n)*int64(50*time.Second)/int64(sources),
					Src: netip.AddrFrom4([4]byte{byte(n>>24) | 64, byte(n >> 16), byte(n >> 8), byte(n)}),
					Dst: netip.MustParseAddr("10.0.0.5"), Proto: 6, SrcPort: uint16(n), DstPort: 80,
					TCPFlags: capture.FlagSYN, WireLen: 60}
			}
			agg.Records(batch)
		}
		agg.Idle(time.Unix(0, ts+int64(51*time.Second))) // close the last interval
		tracked := agg.Stats().Flows
		heap1 := heapInUse()
		rssNow := residentBytes()
		// Return freed pages as the runtime's background scavenger would
		// over the next minutes, so the resident set is the steady one.
		debug.FreeOSMemory()
		rss1 := residentBytes()
		b.ReportMetric(float64(heap1-heap0)/float64(tracked), "heap-B/flow")
		if rss0 > 0 && rss1 > rss0 {
			// rss-B/flow is the steady figure; rss-now-B/flow includes
			// pages freed during the flood and not yet given back.
			b.ReportMetric(float64(rss1-rss0)/float64(tracked), "rss-B/flow")
			b.ReportMetric(float64(rssNow-rss0)/float64(tracked), "rss-now-B/flow")
		}
		agg.Close()
	}
}

// residentBytes returns the process's resident set from /proc, or 0 where
// there is none.
func residentBytes() uint64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(data)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}
