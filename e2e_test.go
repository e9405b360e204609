package main

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/testdata/synth"
)

// writeScenario writes a generated capture into the test's temp dir.
func writeScenario(t *testing.T, name string, s synth.Scenario, opts synth.Options) (string, synth.Summary) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	sum, err := synth.Write(w, s, opts)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path, sum
}

// defaultScore recomputes the default detector's probability for a series,
// independently of the pipeline that produced the alert.
func defaultScore(t *testing.T, series []float64) float64 {
	t.Helper()
	var o options
	newFlagSet(&o).Parse([]string{"-anom_methods", anomalyzerMethods})
	det, err := anomaly.NewAnomalyzer(o.anomaly, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var ts anomaly.TestScores
	return det.Score(series, &ts)
}

func TestDemoRaisesItsLabelledAlertAndNothingElse(t *testing.T) {
	want := demoLabel(t)
	r := runWherefore(t, "-pcapfile", "testdata/demo.pcap", "-host", "demo", "-detectors", "none", "-anom_methods", anomalyzerMethods)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	alerts := parseAlerts(t, r.stdout)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want exactly the labelled one:\n%s", len(alerts), r.stdout)
	}
	a := alerts[0]
	if a.Key != want.Key || a.Src != want.Src || a.Dst != want.Dst || !a.IntervalStart.Equal(want.IntervalStart) ||
		a.Bytes != uint64(want.Bytes) || a.Packets != uint64(want.Packets) || a.Host != "demo" || a.Detector != "anomalyzer" {
		t.Fatalf("alert %+v\nlabel %+v", a, want)
	}
	if len(a.Series) != 10 || a.Series[len(a.Series)-1] != float64(want.Bytes) {
		t.Fatalf("series %v: want 10 intervals ending with the labelled bytes", a.Series)
	}
	// The diff test is Monte Carlo (500 permutations, seeded per flow and
	// interval), so a score recomputed with another seed differs slightly:
	// diff weighs 0.5 of 6.
	if p := defaultScore(t, a.Series); a.Probability < 0.95 || math.Abs(a.Probability-p) > 0.005 {
		t.Fatalf("probability %v; want > 0.95 and close to the detector's score of the series (%v)", a.Probability, p)
	}
	if a.Tests["magnitude"] != 1 || a.Tests["rank"] != 0.9 {
		t.Fatalf("tests %v", a.Tests)
	}
	if a.Baseline <= 0 || a.Baseline > 10000 {
		t.Fatalf("baseline %v: want the pair's usual few kB", a.Baseline)
	}
}

// smaller keeps generated captures to a few MB so tests stay quick.
func smaller(s synth.Scenario) synth.Scenario {
	s.Hosts = 30
	s.Duration = s.Interval * 30
	return s
}

func TestExfiltrationFoundOnEveryFormatAndLinkType(t *testing.T) {
	s := smaller(synth.Exfil(11))
	for _, tc := range []struct {
		name string
		opts synth.Options
	}{
		{"pcap-ethernet", synth.Options{Snaplen: 128}},
		{"pcapng-ethernet", synth.Options{Snaplen: 128, Format: synth.PCAPNG}},
		{"pcap-raw-nano", synth.Options{Snaplen: 128, LinkType: synth.Raw, Nanosecond: true}},
		{"pcap-sll", synth.Options{Snaplen: 128, LinkType: synth.LinuxSLL}},
		{"pcapng-null", synth.Options{Snaplen: 128, LinkType: synth.Null, Format: synth.PCAPNG}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, sum := writeScenario(t, tc.name, s, tc.opts)
			if len(sum.Labels) != 1 {
				t.Fatalf("labels %v", sum.Labels)
			}
			want := sum.Labels[0]
			r := runWherefore(t, "-pcapfile", path)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var found bool
			for _, a := range parseAlerts(t, r.stdout) {
				if a.Key == want.Key && a.IntervalStart.Equal(want.IntervalStart) {
					found = true
					if a.Bytes != uint64(want.Bytes) || a.Probability < 0.9 {
						t.Errorf("alert bytes %d probability %v; label bytes %d", a.Bytes, a.Probability, want.Bytes)
					}
				} else {
					t.Errorf("unexpected alert %s at %s (%d bytes, p=%.3f, series %v)", a.Key, a.IntervalStart, a.Bytes, a.Probability, a.Series)
				}
			}
			if !found {
				t.Fatalf("labelled exfiltration %s at %s not alerted; stdout:\n%s\nstderr:\n%s", want.Key, want.IntervalStart, r.stdout, r.stderr)
			}
		})
	}
}

func TestSteadyTrafficRaisesNoAlert(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		path, sum := writeScenario(t, "steady.pcap", smaller(synth.Steady(seed)), synth.Options{Snaplen: 128})
		r := runWherefore(t, "-pcapfile", path)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if alerts := parseAlerts(t, r.stdout); len(alerts) != 0 {
			t.Fatalf("seed %d: %d alerts on steady traffic (%d packets); first: %+v", seed, len(alerts), sum.Packets, alerts[0])
		}
	}
}

// The byte counts wherefore alerts on are the bytes the generator wrote:
// with every flow scored and alerting forced, each alert's bytes and
// packets equal an independent recount of the file.
func TestAlertBytesMatchIndependentRecount(t *testing.T) {
	path, _ := writeScenario(t, "exfil.pcap", smaller(synth.Exfil(5)), synth.Options{Snaplen: 128})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tally, err := synth.ReadTally(f, 5e9)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := runWherefore(t, "-pcapfile", path, "-alert_min_bytes", "0", "-anom_delay=false", "-anom_methods", "magnitude", "-anom_sensitivity", "0", "-alert_threshold", "0.000001")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	alerts := parseAlerts(t, r.stdout)
	if len(alerts) < 100 {
		t.Fatalf("only %d alerts", len(alerts))
	}
	for _, a := range alerts {
		pc, ok := tally.Pairs[a.Key]
		i := int(a.IntervalStart.Sub(tally.Start) / tally.Interval)
		if !ok || i < 0 || i >= len(pc.Bytes) || pc.Bytes[i] != int64(a.Bytes) || pc.Packets[i] != int64(a.Packets) {
			t.Fatalf("%s at %s: alert says %d bytes %d packets; recount differs (pair found %v, interval %d)", a.Key, a.IntervalStart, a.Bytes, a.Packets, ok, i)
		}
	}
}
