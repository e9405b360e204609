package flow

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
)

// seriesRecorder is a detector that remembers every series it was given,
// keyed by the order of calls, and alerts when the newest value is at least
// alertAt.
type seriesRecorder struct {
	mu      *sync.Mutex
	seen    *[][]float64
	alertAt float64
}

func (s seriesRecorder) Name() string { return "recorder" }

func (s seriesRecorder) Score(series []float64, tests *anomaly.TestScores) float64 {
	s.mu.Lock()
	*s.seen = append(*s.seen, slices.Clone(series))
	s.mu.Unlock()
	if s.alertAt > 0 && series[len(series)-1] >= s.alertAt {
		tests.Set(anomaly.MethodMagnitude, 1)
		return 1
	}
	return 0
}

type harness struct {
	agg    *Aggregator
	mu     sync.Mutex
	seen   [][]float64
	alerts []*alert.Alert
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{}
	cfg := Config{
		Interval:    5 * time.Second,
		SeriesCap:   10,
		Shards:      3,
		IdleTimeout: time.Minute,
		MaxFlows:    1000,
		Threshold:   0.6,
		Host:        "test-host",
		NewDetector: func(*rand.Rand) anomaly.Detector {
			return seriesRecorder{mu: &h.mu, seen: &h.seen, alertAt: 1e6}
		},
		Baseline: func(s []float64) float64 { return float64(len(s)) },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	agg, err := New(cfg, func(a []*alert.Alert) {
		h.mu.Lock()
		h.alerts = append(h.alerts, a...)
		h.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	h.agg = agg
	return h
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func rec(at time.Duration, src, dst string, bytes uint32) capture.Record {
	return capture.Record{TS: t0.Add(at).UnixNano(), Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), WireLen: bytes, Proto: 6}
}

func TestSeriesPerIntervalWithIdleZerosAndCap(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SeriesCap = 4 })
	var batch []capture.Record
	// Interval 0: 100+50 bytes; interval 1: idle; interval 2: 300; 3: 1e6; then
	// interval 4..5 idle and interval 6: 7.
	for _, r := range []capture.Record{
		rec(1*time.Second, "10.0.0.1", "198.51.100.1", 100),
		rec(4*time.Second, "10.0.0.1", "198.51.100.1", 50),
		rec(11*time.Second, "10.0.0.1", "198.51.100.1", 300),
		rec(15*time.Second, "10.0.0.1", "198.51.100.1", 600_000),
		rec(19*time.Second+999*time.Millisecond, "10.0.0.1", "198.51.100.1", 400_000),
		rec(31*time.Second, "10.0.0.1", "198.51.100.1", 7),
	} {
		batch = append(batch, r)
	}
	h.agg.Records(batch)
	h.agg.Close()
	want := [][]float64{{150}, {150, 0, 300}, {150, 0, 300, 1e6}, {1e6, 0, 0, 7}}
	if fmt.Sprint(h.seen) != fmt.Sprint(want) {
		t.Fatalf("series scored %v, want %v", h.seen, want)
	}
	if len(h.alerts) != 1 {
		t.Fatalf("alerts %d, want 1", len(h.alerts))
	}
	a := h.alerts[0]
	if a.Key != "10.0.0.1->198.51.100.1" || a.Bytes != 1e6 || a.Packets != 2 ||
		!a.IntervalStart.Equal(t0.Add(15*time.Second)) || !a.Time.Equal(t0.Add(20*time.Second)) ||
		a.IntervalSeconds != 5 || a.Host != "test-host" || a.Detector != "recorder" || a.Tests["magnitude"] != 1 {
		t.Fatalf("alert %+v", a)
	}
	b, _ := json.Marshal(a)
	for _, field := range []string{`"time":"2026-11-22T10:00:20Z"`, `"interval_start":"2026-11-22T10:00:15Z"`, `"series":[150,0,300,1000000]`, `"probability":1`} {
		if !json.Valid(b) || !containsStr(string(b), field) {
			t.Fatalf("JSON %s lacks %s", b, field)
		}
	}
	st := h.agg.Stats()
	if st.IntervalsClosed != 4 || st.Created != 1 || st.Evaluated != 4 || st.Alerts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func containsStr(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestIntervalsAlignToEpochMultiples(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Interval = time.Minute })
	h.agg.Records([]capture.Record{
		rec(59*time.Second, "10.0.0.1", "10.0.0.2", 2e6),
		rec(61*time.Second, "10.0.0.1", "10.0.0.2", 2e6),
	})
	h.agg.Close()
	if len(h.alerts) != 2 {
		t.Fatalf("%d alerts", len(h.alerts))
	}
	for i, a := range h.alerts {
		want := t0.Add(time.Duration(i) * time.Minute)
		if !a.IntervalStart.Equal(want) {
			t.Errorf("alert %d starts %s, want %s", i, a.IntervalStart, want)
		}
	}
}

func TestMinBytesGatesScoring(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MinBytes = 1000 })
	h.agg.Records([]capture.Record{
		rec(0, "10.0.0.1", "10.0.0.2", 999),
		rec(0, "10.0.0.3", "10.0.0.4", 1000),
	})
	h.agg.Close()
	if len(h.seen) != 1 || h.seen[0][0] != 1000 {
		t.Fatalf("scored %v; want only the flow with 1000 bytes", h.seen)
	}
}

// The same packets give the same alerts in the same order, whatever the
// number of shards and however the scheduler interleaves them.
func TestDeterministicAcrossRunsAndShards(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var recs []capture.Record
	for i := range 20000 {
		src := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(50))})
		dst := netip.AddrFrom4([4]byte{198, 51, 100, byte(rng.IntN(30))})
		size := uint32(rng.IntN(1500) + 40)
		if rng.IntN(500) == 0 {
			size = 1 << 21 // a burst that crosses the alert level
		}
		recs = append(recs, capture.Record{TS: t0.UnixNano() + int64(i)*int64(5*time.Millisecond), Src: src, Dst: dst, WireLen: size})
	}
	run := func(shards int) string {
		h := newHarness(t, func(c *Config) { c.Shards = shards })
		for i := 0; i < len(recs); i += 333 {
			h.agg.Records(recs[i:min(i+333, len(recs))])
		}
		h.agg.Close()
		b, _ := json.Marshal(h.alerts)
		return string(b)
	}
	first := run(1)
	if len(first) < 100 {
		t.Fatalf("too few alerts to compare: %s", first)
	}
	for _, shards := range []int{1, 2, 3, 8} {
		for range 2 {
			if got := run(shards); got != first {
				t.Fatalf("shards=%d gave different alerts", shards)
			}
		}
	}
}

func TestMaxFlowsEvictsLeastRecentlyActive(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxFlows = 10; c.Shards = 1 })
	// An old flow, then 50 spoofed sources; the old flow is evicted first.
	batch := []capture.Record{rec(0, "10.9.9.9", "10.0.0.1", 100)}
	for i := range 50 {
		batch = append(batch, rec(time.Second, fmt.Sprintf("203.0.113.%d", i), "10.0.0.1", 60))
	}
	h.agg.Records(batch)
	st := h.agg.Stats()
	h.agg.Close()
	st = h.agg.Stats()
	if st.Flows > 10 || st.Evicted != 41 || st.Created != 51 {
		t.Fatalf("stats %+v; want at most 10 flows, 41 evicted", st)
	}
}

func TestIdleFlowsExpire(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 20 * time.Second; c.Shards = 2 })
	h.agg.Records([]capture.Record{
		rec(0, "10.0.0.1", "10.0.0.2", 100),
		rec(0, "10.0.0.3", "10.0.0.4", 100),
	})
	// Only one flow stays active; the other idles past 20 s.
	for s := 5; s <= 60; s += 5 {
		h.agg.Records([]capture.Record{rec(time.Duration(s)*time.Second, "10.0.0.1", "10.0.0.2", 100)})
	}
	h.agg.Close()
	st := h.agg.Stats()
	if st.Expired != 1 || st.Flows != 1 {
		t.Fatalf("stats %+v; want 1 expired, 1 left", st)
	}
}

func TestResolveAfterQuietIntervals(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ResolveAfter = 3 })
	h.agg.Records([]capture.Record{rec(0, "10.0.0.1", "203.0.113.9", 2e6)})
	for s := 5; s <= 30; s += 5 {
		h.agg.Records([]capture.Record{rec(time.Duration(s)*time.Second, "10.0.0.1", "203.0.113.9", 500)})
	}
	h.agg.Close()
	if len(h.alerts) != 2 || h.alerts[0].Resolved || !h.alerts[1].Resolved {
		t.Fatalf("alerts %+v; want one firing then one resolved", h.alerts)
	}
	r := h.alerts[1]
	if !r.IntervalStart.Equal(t0.Add(15*time.Second)) || r.Key != "10.0.0.1->203.0.113.9" || r.Bytes != 500 {
		t.Fatalf("resolved %+v; want interval 15s, bytes 500", r)
	}
}

func TestLatePacketsCountInOpenInterval(t *testing.T) {
	h := newHarness(t, nil)
	h.agg.Records([]capture.Record{
		rec(6*time.Second, "10.0.0.1", "10.0.0.2", 100),
		rec(1*time.Second, "10.0.0.1", "10.0.0.2", 50), // reordered
	})
	h.agg.Close()
	if st := h.agg.Stats(); st.Late != 1 {
		t.Fatalf("late %d, want 1", st.Late)
	}
	if len(h.seen) != 1 || h.seen[0][0] != 150 {
		t.Fatalf("scored %v, want [[150]]", h.seen)
	}
}

func TestIdleAdvancesTheClock(t *testing.T) {
	h := newHarness(t, nil)
	h.agg.Records([]capture.Record{rec(0, "10.0.0.1", "10.0.0.2", 2e6)})
	h.agg.Idle(t0.Add(12 * time.Second))
	// The interval closed without another packet: its alert is out already.
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		n := len(h.alerts)
		h.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no alert after the wall clock passed the interval's end")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.agg.Close()
}

func TestFilter(t *testing.T) {
	a := netip.MustParseAddr
	cases := []struct {
		cidrs          string
		allow, src, ds bool
		from, to       string
		keep           bool
	}{
		{"", true, false, false, "1.1.1.1", "2.2.2.2", true},
		{"10.0.0.0/8", true, false, false, "10.1.1.1", "2.2.2.2", true},
		{"10.0.0.0/8", true, false, false, "2.2.2.2", "10.1.1.1", true},
		{"10.0.0.0/8", true, false, false, "2.2.2.2", "3.3.3.3", false},
		{"10.0.0.0/8", false, false, false, "10.1.1.1", "3.3.3.3", false},
		{"10.0.0.0/8", false, false, false, "2.2.2.2", "3.3.3.3", true},
		{"10.0.0.0/8", true, true, false, "2.2.2.2", "10.1.1.1", false},
		{"10.0.0.0/8", true, false, true, "2.2.2.2", "10.1.1.1", true},
		{"10.0.0.0/8, 2001:db8::/32", true, true, false, "2001:db8::5", "10.1.1.1", true},
		{"192.0.2.7", true, false, false, "192.0.2.7", "10.1.1.1", true},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.cidrs, c.allow, c.src, c.ds)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Keep(a(c.from), a(c.to)); got != c.keep {
			t.Errorf("%q allow=%v src=%v dst=%v: %s->%s keep=%v, want %v", c.cidrs, c.allow, c.src, c.ds, c.from, c.to, got, c.keep)
		}
	}
	if _, err := ParseFilter("10.0.0.0/33", true, false, false); err == nil || !containsStr(err.Error(), "-filter_ip_CIDR") {
		t.Errorf("bad CIDR: %v", err)
	}
}

func TestConfigValidateNamesFlags(t *testing.T) {
	base := Config{Interval: time.Second, SeriesCap: 10, IdleTimeout: time.Minute, MaxFlows: 100, Threshold: 0.6,
		NewDetector: func(*rand.Rand) anomaly.Detector { return nil }, Baseline: func([]float64) float64 { return 0 }}
	for _, tc := range []struct {
		flag   string
		mutate func(*Config)
	}{
		{"-transfer_interval", func(c *Config) { c.Interval = 0 }},
		{"-anom_gv_cap", func(c *Config) { c.SeriesCap = 1 }},
		{"-flow_idle_timeout", func(c *Config) { c.IdleTimeout = -1 }},
		{"-max_flows", func(c *Config) { c.MaxFlows = 0 }},
		{"-alert_threshold", func(c *Config) { c.Threshold = 1.5 }},
		{"-resolve_after", func(c *Config) { c.ResolveAfter = -2 }},
	} {
		c := base
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !containsStr(err.Error(), tc.flag) {
			t.Errorf("%s: got %v", tc.flag, err)
		}
	}
}

// One corrupt timestamp years ahead does not move the clock: the packets
// after it are scored in their own intervals, and the outlier is counted.
func TestTimestampLeapNeedsConfirmation(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Shards = 2 })
	var batch []capture.Record
	for s := 0; s < 30; s += 5 {
		batch = append(batch, rec(time.Duration(s)*time.Second, "10.0.0.1", "10.0.0.2", 100))
		if s == 10 {
			batch = append(batch, rec(10*365*24*time.Hour, "10.0.0.9", "10.0.0.2", 2e6)) // corrupt
		}
	}
	h.agg.Records(batch)
	h.agg.Close()
	st := h.agg.Stats()
	if st.TimeOutliers != 1 || st.Late != 0 || st.IntervalsClosed != 6 {
		t.Fatalf("stats %+v; want 1 outlier, 0 late, 6 intervals", st)
	}
	want := [][]float64{{100}, {100, 100}, {100, 100, 100}, {100, 100, 100, 100}, {100, 100, 100, 100, 100}, {100, 100, 100, 100, 100, 100}, {2e6}}
	// Two shards score in parallel: compare as sets, the outlier's own
	// flow (one value) last.
	slices.SortStableFunc(h.seen, func(x, y []float64) int { return cmpSeries(x, y) })
	slices.SortStableFunc(want, func(x, y []float64) int { return cmpSeries(x, y) })
	if fmt.Sprint(h.seen) != fmt.Sprint(want) {
		t.Fatalf("scored %v, want %v", h.seen, want)
	}

	// A real gap (a merged capture) is confirmed by the packets after it.
	h = newHarness(t, nil)
	batch = batch[:0]
	for i := range 20 {
		at := time.Duration(i) * time.Second
		if i >= 5 {
			at += 3 * time.Hour
		}
		batch = append(batch, rec(at, "10.0.0.1", "10.0.0.2", 100))
	}
	h.agg.Records(batch)
	h.agg.Close()
	if st := h.agg.Stats(); st.TimeOutliers != 0 || st.Late != 0 || st.IntervalsClosed != 4 {
		t.Fatalf("stats %+v; want the gap taken: no outlier, 4 intervals", st)
	}
}

func cmpSeries(x, y []float64) int {
	if len(x) != len(y) {
		return len(x) - len(y)
	}
	for i := range x {
		if x[i] != y[i] {
			if x[i] < y[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
