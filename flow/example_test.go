package flow_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
)

// scanReport prints each source that tried many (destination, port) pairs
// and had most of its tries fail: the shape of a scan. It copies what it
// prints, because the views are only valid during the call.
type scanReport struct{}

func (scanReport) ObservePairs(int, flow.Interval, *flow.PairView) {}

func (scanReport) ObserveInterval(iv flow.Interval, agg *flow.Aggregates) {
	for i := range agg.Sources {
		s := &agg.Sources[i]
		if s.Attempts.Tried >= 15 && s.Attempts.Failed*2 > s.Attempts.Tried {
			fmt.Printf("%s %s tried %d ports on %d hosts, %d failed (%d refused); ports %v\n",
				iv.Start.Format(time.TimeOnly), s.Addr, s.Attempts.Tried, s.DstsTried,
				s.Attempts.Failed, s.Attempts.Refused, s.SamplePorts())
		}
	}
	for _, h := range agg.Hosts {
		fmt.Printf("%s local %s out %d B in %d B\n", iv.Start.Format(time.TimeOnly), h.Addr, h.BytesOut, h.BytesIn)
	}
}

// An Observer sees every closed interval's sums per source, destination
// and local host. Here a host probes 20 ports of a server, which refuses
// 5 of them and ignores the rest.
func ExampleObserver() {
	acfg := anomaly.Config{Methods: []string{"magnitude"}, ActiveSize: 1, NSeasons: 4, Sensitivity: 0.5}
	agg, err := flow.New(flow.Config{
		Interval: 5 * time.Second, SeriesCap: 10, IdleTimeout: time.Minute, MaxFlows: 1000,
		Threshold: 1, MinBytes: 1 << 30, // no per-pair volume scoring here
		NewDetector: func(rng *rand.Rand) anomaly.Detector {
			d, _ := anomaly.NewAnomalyzer(acfg, rng)
			return d
		},
		Baseline: func([]float64) float64 { return 0 },
		Observer: scanReport{},
	}, func([]*alert.Alert) {})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).UnixNano()
	scanner, server := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("10.0.0.5")
	var batch []capture.Record
	for port := range uint16(20) {
		batch = append(batch, capture.Record{TS: start, Src: scanner, Dst: server, Proto: 6,
			SrcPort: 40000, DstPort: 20 + port, TCPFlags: capture.FlagSYN, WireLen: 60})
		if port < 5 {
			batch = append(batch, capture.Record{TS: start, Src: server, Dst: scanner, Proto: 6,
				SrcPort: 20 + port, DstPort: 40000, TCPFlags: capture.FlagRST | capture.FlagACK, WireLen: 54})
		}
	}
	agg.Records(batch)
	agg.Close() // closes the last interval
	// Output:
	// 10:00:00 198.51.100.7 tried 20 ports on 1 hosts, 20 failed (5 refused); ports [20 21 22 23]
	// 10:00:00 local 10.0.0.5 out 270 B in 1200 B
}
