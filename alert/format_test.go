package alert_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

func TestHumanBytes(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{999, "999 B"},
		{999.6, "1.0 kB"},
		{1000, "1.0 kB"},
		{1200, "1.2 kB"},
		{1_048_576, "1.0 MB"},
		{64_000_000, "64.0 MB"},
		{999_949, "999.9 kB"},
		{999_960, "1.0 MB"},
		{1.5e9, "1.5 GB"},
		{2e18, "2.0 EB"},
		{5e21, "5000.0 EB"},
		{-5, "0 B"},
		{math.NaN(), "0 B"},
	} {
		if got := alert.HumanBytes(tc.in); got != tc.want {
			t.Errorf("HumanBytes(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHumanRate(t *testing.T) {
	if got := alert.HumanRate(64_000_000, 5); got != "12.8 MB/s" {
		t.Errorf("HumanRate = %q, want 12.8 MB/s", got)
	}
	if got := alert.HumanRate(100, 0); got != "" {
		t.Errorf("HumanRate over 0s = %q, want empty", got)
	}
}

func TestHumanSeconds(t *testing.T) {
	for in, want := range map[float64]string{
		5: "5s", 0.25: "250ms", 60: "1m", 90: "1m30s", 3600: "1h", 3660: "1h1m", 0: "0s",
	} {
		if got := alert.HumanSeconds(in); got != want {
			t.Errorf("HumanSeconds(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestSparkline(t *testing.T) {
	for _, tc := range []struct {
		series []float64
		width  int
		want   string
	}{
		{[]float64{0, 1, 2, 3, 4, 5, 6, 7}, 0, "▁▂▃▄▅▆▇█"},
		{[]float64{1200, 900, 1500, 64e6}, 0, "▁▁▁█"},
		{[]float64{5, 5, 5}, 0, "███"},
		{[]float64{0, 0}, 0, "▁▁"},
		{[]float64{-1, math.NaN(), 2}, 0, "▁▁█"},
		{[]float64{1, 2, math.Inf(1)}, 0, "▅██"},
		{[]float64{9, 9, 9, 1, 2}, 2, "▅█"},
		{nil, 0, ""},
	} {
		if got := alert.Sparkline(tc.series, tc.width); got != tc.want {
			t.Errorf("Sparkline(%v, %d) = %q, want %q", tc.series, tc.width, got, tc.want)
		}
	}
}

func TestFiredTests(t *testing.T) {
	got := alert.FiredTests(map[string]float64{"magnitude": 1, "fence": 1, "rank": 0.9, "ks": 0.2})
	want := []string{"fence 1.00", "magnitude 1.00", "rank 0.90"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FiredTests = %q, want %q", got, want)
	}
	// No test reached 0.5: show them all rather than nothing.
	got = alert.FiredTests(map[string]float64{"cdf": 0.3, "diff": 0.4})
	want = []string{"diff 0.40", "cdf 0.30"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FiredTests = %q, want %q", got, want)
	}
}

func TestSeverityOf(t *testing.T) {
	for p, want := range map[float64]string{
		1: "critical", 0.95: "critical", 0.9: "error", 0.8: "error", 0.7: "warning", 0.6: "warning", 0.5: "info",
	} {
		if got := alert.SeverityOf(p).String(); got != want {
			t.Errorf("SeverityOf(%v) = %s, want %s", p, got, want)
		}
	}
}

func TestHeadline(t *testing.T) {
	a := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	want := "web-3: 10.0.0.5 -> 203.0.113.9 moved 64.0 MB in 5s (12.8 MB/s, typical 1.2 kB), p=0.97"
	if got := alert.Headline(a); got != want {
		t.Errorf("Headline = %q\nwant       %q", got, want)
	}
	a.SrcName = "db-1.internal"
	want = "web-3: 10.0.0.5 (db-1.internal) -> 203.0.113.9 moved 64.0 MB in 5s (12.8 MB/s, typical 1.2 kB), p=0.97"
	if got := alert.Headline(a); got != want {
		t.Errorf("Headline with name = %q\nwant                 %q", got, want)
	}
	r := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	r.Resolved, r.Bytes = true, 1300
	if got, want := alert.Headline(r), "web-3: 10.0.0.5 -> 203.0.113.9 back to normal (1.3 kB in 5s)"; got != want {
		t.Errorf("resolved Headline = %q, want %q", got, want)
	}
}
