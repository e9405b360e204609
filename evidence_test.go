package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/testdata/synth"
)

// The flight recorder's evidence for a capture file is the same on every
// run and ends with the alerted interval.
func TestFlightRecorderSameEveryRun(t *testing.T) {
	var first []byte
	for run := range 3 {
		dir := t.TempDir()
		r := runWherefore(t, "-pcapfile", "testdata/demo.pcap", "-archive_dir", dir)
		alerts := parseAlerts(t, r.stdout)
		if r.code != 0 || len(alerts) != 1 || len(alerts[0].Archive) != 1 {
			t.Fatalf("run %d: exit %d, alerts %+v: %s", run, r.code, alerts, r.stderr)
		}
		path := alerts[0].Archive[0]
		if filepath.Base(path) != "recent.pcap" {
			t.Fatalf("archive %s, want recent.pcap", path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ts, ok := tcpdumpTimes(t, path, "")
		if !ok || len(ts) == 0 {
			t.Fatalf("tcpdump cannot read %s", path)
		}
		end := alerts[0].Time
		var sec, usec int64
		if _, err := fmt.Sscanf(ts[len(ts)-1], "%d.%d", &sec, &usec); err != nil {
			t.Fatalf("tcpdump time %q: %v", ts[len(ts)-1], err)
		}
		last := time.Unix(sec, usec*1000)
		if !last.Before(end) || last.Before(end.Add(-time.Duration(alerts[0].IntervalSeconds*float64(time.Second)))) {
			t.Errorf("run %d: last packet at %s; want it within the alerted interval ending %s", run, last, end)
		}
		if run == 0 {
			first = data
		} else if !bytes.Equal(data, first) {
			t.Errorf("run %d: recent.pcap differs from the first run's (%d bytes against %d)", run, len(data), len(first))
		}
	}
}

// Evidence that has nowhere to go is counted where the analyst looks: the
// summary names the failed archive, not just the lost packets.
func TestSummaryCountsFailedArchives(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runWherefore(t, "-pcapfile", "testdata/demo.pcap", "-archive_dir", filepath.Join(blocker, "archive"))
	if r.code != 0 || len(parseAlerts(t, r.stdout)) != 1 {
		t.Fatalf("exit %d, stdout %q: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "; 0 archives, 1 failed") {
		t.Errorf("summary does not count the failed archive:\n%s", r.stderr)
	}
}

// An ICMP tunnel's evidence is its host's ICMP traffic, not its every
// connection: each tunnel alert's archive holds ICMP files only, and every
// planted tunnel has some.
func TestTunnelEvidenceIsItsProtocol(t *testing.T) {
	var scen synth.Scenario
	for _, e := range synth.Suite() {
		if e.Scenario.Name == "icmptunnel" {
			scen = e.Scenario
		}
	}
	if scen.Name == "" {
		t.Fatal("no icmptunnel scenario in the suite")
	}
	path, sum := writeScenario(t, "icmptunnel.pcap", scen, synth.Options{Snaplen: 128})
	dir := t.TempDir()
	r := runWherefore(t, "-pcapfile", path, "-anom_methods", "none", "-log_packets", "-l", filepath.Join(dir, "log"), "-archive_dir", filepath.Join(dir, "archive"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	archived := map[string]bool{}
	for _, a := range parseAlerts(t, r.stdout) {
		if a.Kind != alert.KindTunnel {
			continue
		}
		if _, icmp := a.Tests["icmp"]; !icmp {
			continue
		}
		for _, p := range a.Archive {
			if !strings.HasPrefix(filepath.Base(p), "icmp_") {
				t.Errorf("ICMP tunnel alert %s archived %s", a.Key, p)
			}
		}
		if len(a.Archive) > 0 {
			archived[a.Src] = true
		}
	}
	for _, l := range sum.Attacks {
		// Either end may be the one alerted: echo replies are ICMP too.
		if !archived[l.Attacker] && !archived[l.Victim] {
			t.Errorf("planted ICMP tunnel %s <-> %s has no archived evidence", l.Attacker, l.Victim)
		}
	}
}
