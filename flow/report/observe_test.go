package report

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
)

// quiet is a detector that never alerts: the test raises its own alert.
type quiet struct{}

func (quiet) Name() string                                 { return "quiet" }
func (quiet) Score([]float64, *anomaly.TestScores) float64 { return 0 }

// scanCapture is 60 one-second intervals: a steady upload, a host that
// sends to a new server every interval, and from interval 30 on a scanner
// probing 40 ports of 10.0.0.80 per interval, answered by RSTs for half.
func scanCapture() []capture.Record {
	var recs []capture.Record
	add := func(at time.Duration, src, dst string, dport uint16, flags uint8, n uint32) {
		recs = append(recs, capture.Record{TS: t0.Add(at).UnixNano(), Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
			Proto: 6, SrcPort: 40000, DstPort: dport, TCPFlags: flags, WireLen: n})
	}
	for i := range 60 {
		base := time.Duration(i) * time.Second
		for k := range 10 {
			add(base+time.Duration(k)*time.Millisecond, "10.0.0.5", "198.51.100.7", 443, capture.FlagACK, 1400)
		}
		add(base+20*time.Millisecond, "10.0.0.6", fmt.Sprintf("203.0.113.%d", i+1), 443, capture.FlagSYN, 60)
		if i >= 30 {
			for p := range 40 {
				at := base + time.Duration(100+p)*time.Millisecond
				add(at, "192.0.2.66", "10.0.0.80", uint16(1000+p), capture.FlagSYN, 60)
				if p%2 == 0 {
					recs = append(recs, capture.Record{TS: t0.Add(at + time.Millisecond).UnixNano(), Src: netip.MustParseAddr("10.0.0.80"),
						Dst: netip.MustParseAddr("192.0.2.66"), Proto: 6, SrcPort: uint16(1000 + p), DstPort: 40000,
						TCPFlags: capture.FlagRST | capture.FlagACK, WireLen: 60})
				}
			}
		}
	}
	return recs
}

// run feeds recs through a real flow aggregator with the collector's
// Observer, closes both and returns the snapshot. alerts[i] are raised, as
// a detector's would be, once the records of interval i were handed over.
func run(t *testing.T, cfg Config, recs []capture.Record, alerts map[int][]*alert.Alert) *Snapshot {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	feedAlerts(t, c, recs, alerts)
	c.Close()
	return c.Snapshot()
}

// feedAlerts runs recs through a real flow aggregator (three shards,
// default local networks) with c's Observer, and closes the aggregator.
// alerts[i] are raised once interval i was observed, as a detector in the
// Observers after the collector's raises them.
func feedAlerts(t *testing.T, c *Collector, recs []capture.Record, alerts map[int][]*alert.Alert) {
	t.Helper()
	iv := c.cfg.Interval
	raise := &raiser{c: c, first: recs[0].TS / int64(iv), alerts: alerts}
	agg, err := flow.New(flow.Config{
		Interval: iv, SeriesCap: 10, Shards: 3, IdleTimeout: time.Hour, MaxFlows: 100_000, Threshold: 0.9,
		NewDetector: func(*rand.Rand) anomaly.Detector { return quiet{} },
		Baseline:    func([]float64) float64 { return 0 },
		Observer:    flow.Observers(c.Observer(), raise),
	}, c.Emit(func([]*alert.Alert) {}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(recs); i += 512 {
		agg.Records(recs[i:min(i+512, len(recs))])
	}
	agg.Close()
}

// raiser raises a test's alerts of an interval once it was observed.
type raiser struct {
	c      *Collector
	first  int64
	alerts map[int][]*alert.Alert
}

func (r *raiser) ObservePairs(int, flow.Interval, *flow.PairView) {}

func (r *raiser) ObserveInterval(iv flow.Interval, _ *flow.Aggregates) {
	if as := r.alerts[int(iv.Index-r.first)]; as != nil {
		r.c.Alerts(as)
	}
}

func TestCountTablesListTheScannerWithItsCounts(t *testing.T) {
	s := run(t, Config{Interval: time.Second}, scanCapture(), nil)
	if s.ObservedIntervals != 60 {
		t.Errorf("%d intervals observed, want 60", s.ObservedIntervals)
	}
	for name, rows := range map[string][]CountRow{"failed tries": s.FailedTries, "tries": s.PortsTried} {
		if len(rows) == 0 {
			t.Fatalf("no sources by %s", name)
		}
		r := rows[0]
		if r.Subject != "192.0.2.66" || r.Count != 40 || r.Tried != 40 || r.Failed != 40 || r.Refused != 20 || r.Peers != 1 ||
			!r.At.Equal(t0.Add(30*time.Second)) || len(r.Ports) == 0 || r.Ports[0] != 1000 || len(r.SamplePeers) != 1 || r.SamplePeers[0] != "10.0.0.80" {
			t.Errorf("sources by %s: first %+v; want the scanner, 40 tries, 40 failed, 20 refused, from %v", name, r, t0.Add(30*time.Second))
		}
	}
	if len(s.PeersIn) == 0 {
		t.Fatal("no destinations by distinct sources")
	}
	for _, r := range s.FailedTries {
		if r.Subject == "10.0.0.5" {
			t.Errorf("the steady upload (no tries) is listed by failed tries: %+v", r)
		}
	}
}

// An alert's chart covers its subject's whole series, not just the values
// the detector scored, in the alert's own measure.
func TestAlertChartsCoverTheSubjectsWholeSeries(t *testing.T) {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	volume := &alert.Alert{Time: at(46), IntervalStart: at(45), IntervalSeconds: 1, Key: "10.0.0.5->198.51.100.7",
		Src: "10.0.0.5", Dst: "198.51.100.7", Bytes: 14000, Series: []float64{14000, 14000, 14000}, Probability: 0.95, Threshold: 20000}
	scan := &alert.Alert{Time: at(51), IntervalStart: at(50), IntervalSeconds: 1, Key: "192.0.2.66", Src: "192.0.2.66",
		Kind: alert.KindVScan, Scope: alert.ScopeSrc, Series: []float64{0, 0, 40}, Threshold: 25, Expected: 2, Probability: 0.99,
		DistinctPorts: 40, Unanswered: 40, SamplePorts: []uint16{1000, 1001}, SamplePeers: []string{"10.0.0.80"}}
	cfg := Config{Interval: time.Second}
	s := run(t, cfg, scanCapture(), map[int][]*alert.Alert{45: {volume}, 50: {scan}})
	if len(s.Alerts) != 2 {
		t.Fatalf("%d alerts kept, want 2", len(s.Alerts))
	}
	for i, want := range []struct {
		key     string
		rows    int
		from    time.Time
		value   float64
		measure string
	}{
		{volume.Key, 60, at(0), 14000, "bytes"},
		{scan.Key, 30, at(30), 40, "distinct (destination, port) tries"},
	} {
		v := viewOf(s, i, 0)
		if v.Alert.Key != want.key || len(v.Rows) != want.rows || !v.Rows[0].Start.Equal(want.from) || v.Measure != want.measure {
			t.Fatalf("alert %s: %d rows from %v, measure %q; want %d rows from %v, %q (window: %s)",
				v.Alert.Key, len(v.Rows), v.Rows[0].Start, v.Measure, want.rows, want.from, want.measure, v.Window)
		}
		for j, r := range v.Rows {
			if r.Value != want.value && !(want.key == scan.Key && !r.Tracked) {
				t.Errorf("alert %s, row %d (%v): %g, want %g", want.key, j, r.Start, r.Value, want.value)
			}
		}
		if !strings.Contains(v.Window, want.from.Format("2006-01-02 15:04:05")) {
			t.Errorf("alert %s: the caption %q does not say where the chart starts", want.key, v.Window)
		}
	}
	var page bytes.Buffer
	if err := Render(&page, s, Run{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-threshold="25"`, `data-measure="distinct (destination, port) tries"`, `id="scan-alerts"`,
		"<td>vscan</td><td class=\"subject\">192.0.2.66</td>", "40 distinct ports", "ports include 1000, 1001"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

// A month is shown in at most Points points per series, each the largest
// value of its intervals; only Series subjects are tracked, and an alerted
// subject takes the place of one that never alerted.
func TestTrackedSeriesAreBounded(t *testing.T) {
	scan := &alert.Alert{Time: t0.Add(41 * time.Second), IntervalStart: t0.Add(40 * time.Second), IntervalSeconds: 1,
		Key: "192.0.2.66->10.0.0.80", Src: "192.0.2.66", Dst: "10.0.0.80", Series: []float64{2400}, Probability: 0.9}
	s := run(t, Config{Interval: time.Second, Points: 8, Series: 2}, scanCapture(), map[int][]*alert.Alert{40: {scan}})
	v := viewOf(s, 0, 0)
	ser := s.Series[scan.Key]
	if ser == nil || !ser.Since.Equal(t0.Add(41*time.Second)) || ser.Width != 8 || len(ser.Points) > 8 {
		t.Fatalf("series of the alerted pair: %+v; want it tracked from %v, 8 intervals per point", ser, t0.Add(41*time.Second))
	}
	for _, p := range ser.Points {
		if p.Bytes != 2400 {
			t.Errorf("point %v: %d bytes, want the scanner's 2400 per interval", p.Start, p.Bytes)
		}
	}
	if len(v.Rows) < 2 || v.Rows[0].Tracked || !v.Rows[len(v.Rows)-1].Tracked {
		t.Errorf("rows %+v: want the alert's own value, then the tracked points", v.Rows)
	}
}
