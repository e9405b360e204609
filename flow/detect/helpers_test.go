package detect

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
)

const testInterval = 5 * time.Second

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// at is the time of interval i, plus off.
func at(i int, off time.Duration) int64 {
	return t0.Add(time.Duration(i)*testInterval + off).UnixNano()
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// traffic builds packets.
type traffic struct{ recs []capture.Record }

// send adds bytes from src to dst in interval i, in 1500-byte TCP
// segments of an established connection.
func (t *traffic) send(i int, src, dst string, bytes int) {
	for n := 0; bytes > 0; n++ {
		w := min(bytes, 1500)
		bytes -= w
		t.recs = append(t.recs, capture.Record{TS: at(i, time.Duration(n)*time.Microsecond), Src: ip(src), Dst: ip(dst),
			Proto: 6, SrcPort: 40000, DstPort: 443, TCPFlags: capture.FlagACK | capture.FlagPSH, WireLen: uint32(w)})
	}
}

// syn adds an unanswered TCP SYN.
func (t *traffic) syn(i int, src, dst string, sport, dport uint16) {
	t.recs = append(t.recs, capture.Record{TS: at(i, time.Duration(len(t.recs))), Src: ip(src), Dst: ip(dst),
		Proto: 6, SrcPort: sport, DstPort: dport, TCPFlags: capture.FlagSYN, WireLen: 60})
}

// synAck adds dst's answer to a SYN.
func (t *traffic) synAck(i int, src, dst string, sport, dport uint16) {
	t.recs = append(t.recs, capture.Record{TS: at(i, time.Duration(len(t.recs))), Src: ip(dst), Dst: ip(src),
		Proto: 6, SrcPort: dport, DstPort: sport, TCPFlags: capture.FlagSYN | capture.FlagACK, WireLen: 60})
}

// udp adds one datagram.
func (t *traffic) udp(i int, src, dst string, sport, dport uint16, size int) {
	t.recs = append(t.recs, capture.Record{TS: at(i, time.Duration(len(t.recs))), Src: ip(src), Dst: ip(dst),
		Proto: 17, SrcPort: sport, DstPort: dport, WireLen: uint32(size)})
}

// collector gathers emitted alerts.
type collector struct {
	mu     sync.Mutex
	alerts []*alert.Alert
}

func (c *collector) emit(as []*alert.Alert) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.alerts = append(c.alerts, as...)
}

// testConfig is the default configuration for 5 s intervals.
func testConfig(shards int) Config {
	return Config{Interval: testInterval, Shards: shards, Host: "test", Detectors: Surge | Ramp | VScan | HScan | FanOut | FanIn | BruteForce | Tunnel | Beacon}
}

// run feeds recs (in time order) through a flow aggregator with a stage
// and returns the stage's alerts.
func run(t testing.TB, cfg Config, recs []capture.Record, prepare func(*Stage)) ([]*alert.Alert, *Stage) {
	t.Helper()
	var col collector
	st, err := New(cfg, flow.DefaultLocalNets(), col.emit)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(st)
	}
	acfg := anomaly.Config{Methods: []string{"magnitude"}, ActiveSize: 1, NSeasons: 4, Sensitivity: 0.5}
	agg, err := flow.New(flow.Config{
		Interval: testInterval, SeriesCap: 10, Shards: cfg.Shards, IdleTimeout: 5 * time.Minute, MaxFlows: 1 << 18,
		Threshold: 1, MinBytes: 1 << 62, // the anomaly tests are not under test here
		NewDetector: func(rng *rand.Rand) anomaly.Detector {
			d, _ := anomaly.NewAnomalyzer(acfg, rng)
			return d
		},
		Baseline: func([]float64) float64 { return 0 },
		Observer: st,
	}, func([]*alert.Alert) {})
	if err != nil {
		t.Fatal(err)
	}
	for len(recs) > 0 {
		n := min(len(recs), 4096)
		agg.Records(recs[:n])
		recs = recs[n:]
	}
	agg.Close()
	return col.alerts, st
}

// only returns the alerts of one detector.
func only(as []*alert.Alert, det string) []*alert.Alert {
	var out []*alert.Alert
	for _, a := range as {
		if a.Detector == det && !a.Resolved {
			out = append(out, a)
		}
	}
	return out
}
