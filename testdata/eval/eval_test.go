package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/testdata/synth"
)

// buildWherefore builds the daemon from the module root into a temporary folder.
func buildWherefore(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wherefore")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// small is a two-minute background of ten hosts, plus plants.
func small(name string, plants ...synth.Plant) synth.SuiteEntry {
	s := synth.Steady(41)
	s.Name = name
	s.Duration = 2 * time.Minute
	s.Hosts = 10
	s.Heavy = 1
	s.BulkSegments = 44
	s.Snaplen = 96
	s.Plants = plants
	return synth.SuiteEntry{Scenario: s, Set: synth.SetHeldOut, Clean: len(plants) == 0}
}

func evalOne(t *testing.T, bin string, e synth.SuiteEntry, flags ...string) (*report, suiteScore) {
	t.Helper()
	c := config{bin: bin, rows: rowList{{Name: "test", Flags: flags}}, suite: true, jobs: 2, scenario: []synth.SuiteEntry{e}}
	rep, err := evaluate(context.Background(), c, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	return rep, rep.Suite[0]
}

func caught(s suiteScore, class string) classScore {
	for _, c := range s.Classes {
		if c.Class == class {
			return c
		}
	}
	return classScore{}
}

// TestHarness: a huge upload planted on a normally tiny flow is matched to
// its label in its first interval; the same background without it, even
// with every gate open, matches nothing of that label, and its alerts are
// counted as false alerts per flow-hour.
func TestHarness(t *testing.T) {
	bin := buildWherefore(t)
	upload := synth.Plant{Class: synth.ClassUpload, Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("172.17.0.1"),
		At: 15, Intervals: 1, Size: 60_000_000, Baseline: 3000}

	_, s := evalOne(t, bin, small("planted", upload), "-anom_delay=false")
	if c := caught(s, synth.ClassUpload); c.Planted != 1 || c.Caught != 1 || c.Median != 0 {
		t.Errorf("planted 60 MB upload: %+v, want caught in its first interval", c)
	}

	open := []string{"-anom_delay=false", "-alert_min_bytes", "0", "-anom_methods", "magnitude,highrank,lowrank,diff"}
	rep, s := evalOne(t, bin, small("clean"), open...)
	f := rep.Scenarios[0]
	if !f.Clean || f.FlowHours <= 0 {
		t.Fatalf("clean background: %+v, want clean with flow-hours", f)
	}
	if s.HeldOutAlerts == 0 || s.HeldOutRate != float64(s.HeldOutAlerts)/f.FlowHours*1000 {
		t.Errorf("open gates on a clean background: %d false alerts, rate %v over %v flow-hours", s.HeldOutAlerts, s.HeldOutRate, f.FlowHours)
	}
	// Score the clean capture's alerts against the upload's label.
	planted := small("planted", upload).Scenario.Attacks()
	alerts, err := runWherefore(context.Background(), bin, open, filepath.Join(t.TempDir(), "missing.pcap"), t.TempDir())
	if err == nil || len(alerts) != 0 {
		t.Errorf("a missing capture: %d alerts, error %v; want an error", len(alerts), err)
	}
	dir := t.TempDir()
	entry := small("clean")
	path := filepath.Join(dir, "clean.pcap")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Write(w, entry.Scenario, synth.Options{}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	alerts, err = runWherefore(context.Background(), bin, open, path, t.TempDir())
	if err != nil || len(alerts) == 0 {
		t.Fatalf("clean background with open gates: %d alerts, %v", len(alerts), err)
	}
	if m := matchLabel(planted[0], 5*time.Second, alerts); m.Found {
		t.Errorf("the clean background matched the upload's label: %+v", m.Alert)
	}
}

func TestParseAlert(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		kind string
	}{
		{`{"interval_start":"2026-11-22T10:01:40Z","key":"10.0.1.23->203.0.113.77","src":"10.0.1.23","dst":"203.0.113.77","detector":"anomalyzer"}`,
			[]string{"10.0.1.23", "203.0.113.77"}, ""},
		{`{"interval_start":"2026-11-22T10:01:40Z","key":"fd00::1:17->2001:db8::5","detector":"anomalyzer"}`,
			[]string{"fd00::1:17", "2001:db8::5"}, ""},
		{`{"interval_start":"2026-11-22T10:01:40Z","key":"src 10.0.1.4","kind":"vscan","scope":"src","reason":"10.0.1.4 probed 1000 ports","subject":{"host":"10.0.1.4","peers":["10.0.0.80:22"]}}`,
			[]string{"10.0.1.4", "10.0.0.80"}, "vscan"},
	} {
		a, err := parseAlert([]byte(tc.line))
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		if !slices.Equal(a.Addrs, tc.want) || a.Kind != tc.kind {
			t.Errorf("%s: addresses %v kind %q, want %v %q", tc.line, a.Addrs, a.Kind, tc.want, tc.kind)
		}
	}
	if _, err := parseAlert([]byte(`{"key":"a->b"}`)); err == nil {
		t.Error("an alert without interval_start was accepted")
	}
}

func TestReadPublic(t *testing.T) {
	dir := t.TempDir()
	readme := "# x\n\n| File | Label | Content |\n|---|---|---|\n" +
		"| `scan.pcap` | port scans by 10.42.42.253 | scanner 10.42.42.253 probes hosts .25 and 10.42.42.50 |\n" +
		"| `worm.pcap` | worm propagation (Slammer) | packets (sanitized 192.0.2.0/24 addresses) |\n" +
		"| `flood.pcap` | DDoS: spoofed TCP SYN flood | 37.8k SYNs, 24.0 s, v1.2 |\n"
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"scan.pcap", "worm.pcap", "flood.pcap"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := readPublic(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		class string
		addrs []string
	}{{"vscan", []string{"10.42.42.253", "10.42.42.50"}}, {"fanout", []string{"192.0.2.0/24"}}, {"fanin", nil}}
	if len(cs) != len(want) {
		t.Fatalf("%d captures, want %d", len(cs), len(want))
	}
	for i, w := range want {
		if cs[i].Class != w.class || !slices.Equal(cs[i].Addrs, w.addrs) {
			t.Errorf("%s: class %s addresses %v, want %s %v", cs[i].Name, cs[i].Class, cs[i].Addrs, w.class, w.addrs)
		}
	}
	a := alert{Addrs: []string{"192.0.2.77"}}
	if !a.names(cs[1].Addrs...) || a.names(cs[0].Addrs...) {
		t.Error("prefix matching: 192.0.2.77 should name 192.0.2.0/24 and not 10.42.42.253")
	}
	if err := os.Remove(filepath.Join(dir, "flood.pcap")); err != nil {
		t.Fatal(err)
	}
	if _, err := readPublic(dir, true); err == nil || !strings.Contains(err.Error(), "flood.pcap") {
		t.Errorf("a listed capture that is missing: error %v, want one naming it", err)
	}
}

// TestDoneMeans holds wherefore's default flags to issue 10's targets on the
// whole suite and the public benign captures. Detection does not meet them
// yet, so it runs only with WHEREFORE_EVAL_STRICT=1.
func TestDoneMeans(t *testing.T) {
	if os.Getenv("WHEREFORE_EVAL_STRICT") != "1" {
		t.Skip("set WHEREFORE_EVAL_STRICT=1 to hold the defaults to the detection targets")
	}
	bin := buildWherefore(t)
	c := config{bin: bin, rows: rowList{{Name: "defaults"}}, suite: true, public: true, jobs: 2, pcaps: filepath.Join("..", "..", "..", "shared", "pcaps")}
	rep, err := evaluate(context.Background(), c, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Suite[0]
	for _, cs := range s.Classes {
		// A ramp shows before it ends, a beacon after -beacon_min_events
		// check-ins: both are held to being caught within the attack.
		slow := cs.Class == synth.ClassRamp || cs.Class == synth.ClassBeacon
		if cs.Within2 != cs.Planted && !slow || cs.Caught != cs.Planted {
			t.Errorf("%s: %d of %d caught, %d within 2 intervals", cs.Class, cs.Caught, cs.Planted, cs.Within2)
		}
	}
	if s.HeldOutRate > 1 {
		t.Errorf("%.2f false alerts per 1000 flow-hours on the held-out backgrounds, want at most 1", s.HeldOutRate)
	}
	if s.BenignAlerted > 0 {
		t.Errorf("%d of %d benign events alerted", s.BenignAlerted, s.Benign)
	}
	for _, ps := range rep.Public[0] {
		if !ps.Attack && ps.Alerts > 0 {
			t.Errorf("benign capture %s: %d alerts (%v)", ps.Capture, ps.Alerts, ps.Keys)
		}
	}
}
