package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
)

// BenchmarkRecords measures the aggregation of packets into flows across
// shards, with intervals closing and the default tests scoring: the
// throughput the capture goroutine sees.
func BenchmarkRecords(b *testing.B) {
	for _, flows := range []int{1000, 50000} {
		b.Run(map[int]string{1000: "1k-flows", 50000: "50k-flows"}[flows], func(b *testing.B) {
			acfg := anomaly.Config{Methods: []string{"magnitude", "highrank", "lowrank", "diff"}, ActiveSize: 1, NSeasons: 4, Sensitivity: 0.5, Delay: true}
			agg, err := New(Config{
				Interval: 5 * time.Second, SeriesCap: 10, IdleTimeout: time.Minute, MaxFlows: 1 << 20, MinBytes: 1e6, Threshold: 0.6,
				NewDetector: func(rng *rand.Rand) anomaly.Detector {
					d, _ := anomaly.NewAnomalyzer(acfg, rng)
					return d
				},
				Baseline: func(s []float64) float64 { return anomaly.ReferenceMean(s, acfg) },
			}, func([]*alert.Alert) {})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			batch := make([]capture.Record, 1024)
			ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					f := rng.IntN(flows)
					ts += 20000 // 50k packets/s of packet time
					batch[i] = capture.Record{TS: ts, Src: netip.AddrFrom4([4]byte{10, 0, byte(f >> 8), byte(f)}),
						Dst: netip.AddrFrom4([4]byte{198, 51, 100, byte(f % 7)}), WireLen: 1000}
				}
				agg.Records(batch)
			}
			agg.Close()
			b.ReportMetric(float64(len(batch))*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}
