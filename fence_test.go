package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
)

// writeVolumes writes a capture in which each flow (source, destination)
// moves the given bytes on the wire in each one-second interval, as
// truncated 9000-byte frames.
func writeVolumes(t *testing.T, flows map[[2]string][]int) string {
	t.Helper()
	p, path := newTestPcap(t, "volumes.pcap", 65535)
	const frame = 9000
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	intervals := 0
	for _, v := range flows {
		intervals = max(intervals, len(v))
	}
	for i := range intervals {
		// Interleave the flows' packets within each interval, in a fixed order.
		for step := range 1000 {
			for _, src := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
				for key, v := range flows {
					if key[0] != src || i >= len(v) || step >= v[i]/frame {
						continue
					}
					ts := start.Add(time.Duration(i)*time.Second + time.Duration(step)*time.Millisecond/2)
					p.write(ts, frame, key[0], key[1], layers.IPProtocolUDP, &layers.UDP{SrcPort: 40000, DstPort: 443}, nil)
				}
			}
		}
	}
	return path
}

// The README's fence example: with the fence alone, no history needed and
// the threshold at 1, every interval in which a flow moves at least the
// upper bound alerts, however it got there; a flow below it never does.
// (Scaled: 5e6 bytes per one-second interval rather than 5e8.)
func TestFenceFlagsEveryFlowPastItsBound(t *testing.T) {
	const over, under = 700 * 9000, 500 * 9000 // 6.3 MB, 4.5 MB
	steady := func(v, n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	path := writeVolumes(t, map[[2]string][]int{
		{"10.0.0.1", "192.0.2.1"}: steady(over, 8),                 // steady, past the bound
		{"10.0.0.2", "192.0.2.2"}: steady(under, 8),                // steady, below it
		{"10.0.0.3", "192.0.2.3"}: {0, 0, 0, 0, 0, 0, over, under}, // new, past it once
	})
	r := runWherefore(t, "-pcapfile", path, "-transfer_interval", "1s",
		"-anom_methods", "fence", "-anom_upper_bound", "5e6", "-anom_delay=false", "-alert_threshold", "1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	count := map[string]int{}
	for _, a := range parseAlerts(t, r.stdout) {
		if a.Bytes < 5e6 {
			t.Errorf("alert for %s at %d bytes, below the bound", a.Key, a.Bytes)
		}
		count[a.Key]++
	}
	if count["10.0.0.1->192.0.2.1"] != 8 || count["10.0.0.3->192.0.2.3"] != 1 || count["10.0.0.2->192.0.2.2"] != 0 {
		t.Fatalf("alerts per flow %v; want 8 for the steady flow past the bound, 1 for the new one, 0 below\n%s\n%s", count, r.stdout, r.stderr)
	}

	// The README states this example; keep the two in step.
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	example := "-anom_methods fence -anom_upper_bound 5e8 -anom_delay=false -alert_threshold 1"
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), example) {
		t.Errorf("README no longer gives the fence example %q", example)
	}
}
