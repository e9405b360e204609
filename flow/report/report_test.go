package report

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }

// zipfStream makes packets whose pairs follow a Zipf law over nPairs, so a
// few pairs are heavy and many are light, and returns the exact bytes per
// pair.
func zipfStream(seed uint64, packets, nPairs int, start time.Time, step time.Duration) ([]capture.Record, map[string]uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	z := rand.NewZipf(rng, 1.2, 1, uint64(nPairs-1))
	recs := make([]capture.Record, packets)
	exact := make(map[string]uint64)
	remote := netip.MustParseAddr("203.0.113.9")
	for i := range recs {
		p := int(z.Uint64())
		r := capture.Record{TS: start.Add(time.Duration(i) * step).UnixNano(), Src: addr(p), Dst: remote, WireLen: uint32(60 + rng.IntN(1400))}
		recs[i] = r
		exact[r.Src.String()+"->"+r.Dst.String()] += uint64(r.WireLen)
	}
	return recs, exact
}

func feed(t *testing.T, c *Collector, recs []capture.Record) {
	t.Helper()
	feedAlerts(t, c, recs, nil)
}

func TestTopTalkersAreTheHeaviestWithinTheirErrorBound(t *testing.T) {
	c, err := New(Config{Interval: 5 * time.Second, Top: 10})
	if err != nil {
		t.Fatal(err)
	}
	// 2500 packets per interval: fewer pairs than the sampling budget,
	// so every pair of every interval is counted.
	recs, exact := zipfStream(7, 200_000, 50_000, t0, 2*time.Millisecond)
	feed(t, c, recs)
	c.Close()
	s := c.Snapshot()
	if s.SampleStep != 1 {
		t.Fatalf("sampling step %d, want every pair counted", s.SampleStep)
	}
	if len(s.Pairs) != 10 {
		t.Fatalf("%d pairs, want 10", len(s.Pairs))
	}
	var total uint64
	for _, b := range exact {
		total += b
	}
	if s.Bytes != total || s.Packets != uint64(len(recs)) {
		t.Fatalf("totals %d bytes %d packets, want %d %d", s.Bytes, s.Packets, total, len(recs))
	}
	// The true top ten, by exact count.
	type kv struct {
		k string
		b uint64
	}
	var all []kv
	for k, b := range exact {
		all = append(all, kv{k, b})
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[j].b > all[i].b {
				all[i], all[j] = all[j], all[i]
			}
		}
		if i == 10 {
			break
		}
	}
	shown := map[string]Talker{}
	for _, p := range s.Pairs {
		shown[p.Subject] = p
		truth := exact[p.Subject]
		if p.Bytes < truth || p.Bytes-p.Error > truth {
			t.Errorf("%s: reported %d (± %d), true %d", p.Subject, p.Bytes, p.Error, truth)
		}
	}
	// The true top ten are the ten shown, the heaviest five within 2%.
	for i, want := range all[:10] {
		got, ok := shown[want.k]
		if !ok || (i < 5 && float64(got.Error) > 0.02*float64(got.Bytes)) {
			t.Errorf("heavy pair %s (%d bytes) shown as %+v", want.k, want.b, got)
		}
	}
	if len(s.Destinations) != 1 || s.Destinations[0].Bytes != total || s.Destinations[0].Error != 0 {
		t.Errorf("destinations %+v, want the one remote with every byte", s.Destinations)
	}
}

func TestBusyCaptureIsSampledAndStillFindsTheHeaviest(t *testing.T) {
	c, err := New(Config{Interval: time.Minute, Top: 10})
	if err != nil {
		t.Fatal(err)
	}
	// 500 000 packets in one interval over tens of thousands of pairs, more
	// than the budget of each of the three shards.
	recs, exact := zipfStream(9, 500_000, 50_000, t0, 100*time.Microsecond)
	feed(t, c, recs)
	c.Close()
	s := c.Snapshot()
	if s.SampleStep < 8 {
		t.Fatalf("sampling step %d: the collector counted too many pairs", s.SampleStep)
	}
	var total uint64
	for _, b := range exact {
		total += b
	}
	if s.Bytes != total {
		t.Fatalf("total %d, want the exact %d (totals are never sampled)", s.Bytes, total)
	}
	for _, p := range s.Pairs[:3] {
		truth := float64(exact[p.Subject])
		if d := float64(p.Bytes) - truth; d > 0.05*truth || d < -0.05*truth {
			t.Errorf("%s: estimated %d, true %.0f", p.Subject, p.Bytes, truth)
		}
	}
	if s.Pairs[0].Subject != addr(0).String()+"->203.0.113.9" {
		t.Errorf("heaviest pair %s", s.Pairs[0].Subject)
	}
}

func TestTimelineStaysWithinItsPointsAndKeepsEveryByte(t *testing.T) {
	c, err := New(Config{Interval: time.Second, Points: 16})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 intervals, one packet of 100 bytes each, from a local host out.
	recs := make([]capture.Record, 1000)
	for i := range recs {
		recs[i] = capture.Record{TS: t0.Add(time.Duration(i) * time.Second).UnixNano(), Src: addr(1),
			Dst: netip.MustParseAddr("198.51.100.1"), WireLen: 100}
	}
	feed(t, c, recs)
	c.Alerts([]*alert.Alert{{Key: "x", IntervalStart: t0.Add(500 * time.Second), Probability: 0.9}})
	c.Close()
	s := c.Snapshot()
	if len(s.Timeline) > 16 || len(s.Timeline) < 8 {
		t.Fatalf("%d points, want at most 16 and no fewer than half", len(s.Timeline))
	}
	var bytes, intervals uint64
	alerts := 0
	for _, p := range s.Timeline {
		bytes += p.Bytes
		intervals += uint64(p.Intervals)
		alerts += p.Alerts
		if p.Out != p.Bytes || p.In != 0 {
			t.Fatalf("point %+v: all traffic is local to remote", p)
		}
	}
	if bytes != 100_000 || intervals != 1000 || alerts != 1 {
		t.Fatalf("timeline sums %d bytes over %d intervals with %d alerts; want 100000, 1000, 1", bytes, intervals, alerts)
	}
	if !s.Timeline[0].Start.Equal(t0) {
		t.Fatalf("first point at %v, want %v", s.Timeline[0].Start, t0)
	}
}

func TestLivePageKeepsOnlyItsWindow(t *testing.T) {
	// Not lossy: the test feeds ten minutes at once, faster than the
	// collector hands chunks back.
	c, err := New(Config{Interval: time.Second, Points: 60, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Ten minutes: an early heavy talker, then steady light traffic.
	var recs []capture.Record
	for i := range 600 {
		src, n := addr(2), uint32(100)
		if i < 120 {
			src, n = addr(1), 10_000
		}
		recs = append(recs, capture.Record{TS: t0.Add(time.Duration(i) * time.Second).UnixNano(), Src: src,
			Dst: netip.MustParseAddr("198.51.100.1"), WireLen: n})
	}
	feed(t, c, recs)
	s := c.Snapshot() // while running, through the goroutine
	c.Close()
	if !s.Live || len(s.Timeline) != 60 {
		t.Fatalf("live %v, %d points; want the last 60 one-second points", s.Live, len(s.Timeline))
	}
	if want := t0.Add(540 * time.Second); !s.Timeline[0].Start.Equal(want) {
		t.Fatalf("window starts %v, want %v", s.Timeline[0].Start, want)
	}
	if len(s.Sources) != 1 || s.Sources[0].Subject != addr(2).String() {
		t.Fatalf("sources %+v: the early heavy talker is more than two windows old", s.Sources)
	}
}

func TestRenderDrawsOneChartPerAlertWithItsThreshold(t *testing.T) {
	c, err := New(Config{Interval: 5 * time.Second, Alerts: 2})
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := zipfStream(3, 5000, 100, t0, 10*time.Millisecond)
	feed(t, c, recs)
	mk := func(key string, p float64, at int, threshold float64) *alert.Alert {
		start := t0.Add(time.Duration(at) * 5 * time.Second)
		return &alert.Alert{Key: key, Src: "10.0.0.1", Dst: "203.0.113.9", IntervalStart: start, Time: start.Add(5 * time.Second),
			IntervalSeconds: 5, Series: []float64{100, 120, 90, 5000}, Probability: p, Baseline: 103,
			Tests: map[string]float64{"magnitude": 1}, Threshold: threshold, Reason: "moved " + key}
	}
	c.Alerts([]*alert.Alert{mk("a->b", 0.7, 3, 0), mk("c->d", 0.99, 4, 2000)})
	c.Alerts([]*alert.Alert{mk("e->f", 0.95, 5, 0), {Key: "a->b", Resolved: true}})
	c.Evidence(&alert.Alert{Key: "c->d", Time: t0.Add(25 * time.Second), Archive: []string{"/var/lib/wherefore/archive/c-d.pcap"}})
	c.Close()
	s := c.Snapshot()
	if s.Total != 3 || s.Resolved != 1 || len(s.Alerts) != 2 {
		t.Fatalf("total %d resolved %d kept %d; want 3, 1 and the two most probable", s.Total, s.Resolved, len(s.Alerts))
	}
	var buf bytes.Buffer
	if err := Render(&buf, s, Run{Source: "file x.pcap", Sensitivity: 0.5}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if n := strings.Count(page, `class="chart alert-chart"`); n != 2 {
		t.Fatalf("%d alert charts, want 2", n)
	}
	if strings.Contains(page, "moved a-&gt;b") || !strings.Contains(page, "moved c-&gt;d") || !strings.Contains(page, "moved e-&gt;f") {
		t.Fatal("the page does not show the two most probable alerts")
	}
	if strings.Count(page, ">threshold</text>") != 2 {
		t.Fatal("not every chart has its threshold line in the legend")
	}
	if !strings.Contains(page, `data-threshold="2000"`) || !strings.Contains(page, `data-threshold="154.5"`) {
		t.Fatal("thresholds: want the reported 2000 and the magnitude gate 103 × 1.5")
	}
	if !strings.Contains(page, `href="file:///var/lib/wherefore/archive/c-d.pcap"`) {
		t.Fatal("evidence link missing")
	}
	if !strings.Contains(page, "1 more alert(s) are not shown") {
		t.Fatal("the page must say an alert was left out")
	}
	for _, bad := range []string{"<script", `src="http`, `href="http`, "url(http", "@import"} {
		if strings.Contains(page, bad) {
			t.Fatalf("the page contains %q: it must open offline", bad)
		}
	}
}

func TestEmptyPageRenders(t *testing.T) {
	c, err := New(Config{Interval: 5 * time.Second, Window: time.Hour, Lossy: true})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Snapshot()
	c.Close()
	var buf bytes.Buffer
	if err := Render(&buf, s, Run{Host: "web-3", Refresh: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wherefore on web-3: last 1h0m0s", "no packets yet", "No alert in this window", "none yet", `http-equiv="refresh" content="30"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the page of a quiet daemon lacks %q", want)
		}
	}
}
