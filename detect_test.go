package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/testdata/synth"
)

// anomalyTestsOnly is a config file fragment for tests of the anomaly
// tests: the previous defaults, without the detectors.
const anomalyTestsOnly = "detectors: none\nanom_methods: " + anomalyzerMethods + "\n"

// TestDemoRaisesItsLabelledSurgeWithDefaults: with the defaults, the demo
// capture's labelled exfiltration is the one alert, with a reason.
func TestDemoRaisesItsLabelledSurgeWithDefaults(t *testing.T) {
	r := runWherefore(t, "-pcapfile", "testdata/demo.pcap")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	as := parseAlerts(t, r.stdout)
	if len(as) != 1 || as[0].Key != "10.0.1.23->203.0.113.77" || as[0].Detector != "surge" || as[0].Kind != alert.KindSurge {
		t.Fatalf("want one surge alert for 10.0.1.23->203.0.113.77, got:\n%s", r.stdout)
	}
	if want := "10.0.1.23 sent 67.2 MB to 203.0.113.77 in 5s"; !strings.HasPrefix(as[0].Reason, want) {
		t.Errorf("reason %q, want it to start %q", as[0].Reason, want)
	}
}

// TestDetectionIsTheSameForAnyShardCount runs labelled attack captures of
// the scenario suite with 1 and 4 shards: the alert records must be
// identical, byte for byte, and name the planted attackers or victims.
func TestDetectionIsTheSameForAnyShardCount(t *testing.T) {
	for _, e := range synth.Suite() {
		switch e.Scenario.Name {
		case "fanin", "vscan", "upload":
		default:
			continue
		}
		t.Run(e.Scenario.Name, func(t *testing.T) {
			path, sum := writeScenario(t, e.Scenario.Name+".pcap", e.Scenario, synth.Options{Snaplen: 96})
			var outs [2]string
			for i, shards := range []string{"1", "4"} {
				r := runWherefore(t, "-pcapfile", path, "-shards", shards, "-anom_methods", "none")
				if r.code != 0 {
					t.Fatalf("-shards %s: exit %d: %s", shards, r.code, r.stderr)
				}
				outs[i] = r.stdout
			}
			if outs[0] != outs[1] {
				t.Fatalf("alerts differ between 1 and 4 shards:\n1: %s\n4: %s", outs[0], outs[1])
			}
			alerts := parseAlerts(t, outs[0])
			for _, l := range sum.Attacks {
				if !named(alerts, l.Attacker, l.Victim) {
					t.Errorf("attack %q (%s -> %s) not alerted", l.Description, l.Attacker, l.Victim)
				}
			}
		})
	}
}

func named(alerts []alert.Alert, who ...string) bool {
	for _, a := range alerts {
		for _, w := range who {
			if w != "" && (a.Src == w || a.Dst == w || a.Key == w || strings.HasPrefix(a.Key, w+"->") || strings.HasSuffix(a.Key, "->"+w)) {
				return true
			}
		}
	}
	return false
}

// uploads writes a capture in which src sends per bytes to dst in each of
// n intervals of 5 s from start, and returns its path.
func uploads(t *testing.T, name string, start time.Time, n int, flows ...flowSpec) string {
	t.Helper()
	p, path := newTestPcap(t, name, 96)
	payload := make([]byte, 96-14-20-20)
	for i := range n {
		for _, fl := range flows {
			if fl.from > i {
				continue
			}
			for sent, k := 0, 0; sent < fl.per; k++ {
				size := min(1500, fl.per-sent)
				sent += size
				ts := start.Add(time.Duration(i)*5*time.Second + time.Duration(k)*time.Millisecond)
				p.write(ts, size, fl.src, fl.dst, layers.IPProtocolTCP, &layers.TCP{SrcPort: 40000, DstPort: 443, ACK: true, PSH: true}, payload)
			}
		}
	}
	return path
}

type flowSpec struct {
	src, dst string
	per      int
	from     int // first interval
}

// TestRestartKeepsLearnedThresholds learns a host's usual upload from one
// capture, saves it, and judges a second capture with it: a transfer to a
// new destination in the very first interval is judged against what the
// first run learned, which a fresh start cannot do.
func TestRestartKeepsLearnedThresholds(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	first := uploads(t, "first.pcap", start, 20, flowSpec{"10.0.0.7", "198.51.100.1", 30_000, 0})
	second := uploads(t, "second.pcap", start.Add(time.Hour), 2, flowSpec{"10.0.0.7", "198.51.100.99", 3_000_000, 0})

	if r := runWherefore(t, "-pcapfile", first, "-state_file", state, "-anom_methods", "none"); r.code != 0 {
		t.Fatalf("first run: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no learned state saved: %v", err)
	}
	fresh := runWherefore(t, "-pcapfile", second, "-anom_methods", "none")
	if as := parseAlerts(t, fresh.stdout); len(as) != 0 {
		t.Fatalf("without learned state the host has no history, yet: %s", as[0].Reason)
	}
	r := runWherefore(t, "-pcapfile", second, "-state_file", state, "-anom_methods", "none")
	as := parseAlerts(t, r.stdout)
	if len(as) == 0 || as[0].Kind != alert.KindNewDestination || as[0].Key != "10.0.0.7->198.51.100.99" {
		t.Fatalf("with learned state: want a new-destination alert for 10.0.0.7->198.51.100.99, got %+v\n%s", as, r.stderr)
	}
	if !strings.Contains(as[0].Reason, "its uploads usually total 30.0 kB per 5s") {
		t.Errorf("reason %q does not cite the learned upload", as[0].Reason)
	}

	// A corrupt or foreign file is reported and ignored, never fatal.
	for _, junk := range []string{"{not json", `{"format":"something else","version":1}`} {
		if err := os.WriteFile(state, []byte(junk), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runWherefore(t, "-pcapfile", second, "-state_file", state, "-anom_methods", "none")
		if r.code != 0 || !strings.Contains(r.stderr, "learned state ignored") {
			t.Errorf("state %q: exit %d, stderr %s", junk, r.code, r.stderr)
		}
	}
}
