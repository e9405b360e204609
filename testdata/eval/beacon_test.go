package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/testdata/synth"
)

// TestBeaconEndToEnd runs a generated capture through the binary with its
// default flags: a host that starts calling a new outside address every
// 30 s, five minutes into the capture, is reported as a beacon naming both
// ends before the beacon ends; another host's check-in with an outside
// address every 30 s since the capture began is not reported.
func TestBeaconEndToEnd(t *testing.T) {
	bin := buildWherefore(t)
	s := synth.Steady(43)
	s.Name = "beacon-e2e"
	s.Duration = 15 * time.Minute
	s.Hosts = 10
	s.Snaplen = 96
	beacon := synth.Plant{Class: synth.ClassBeacon, Src: netip.MustParseAddr("10.0.1.3"), Dst: netip.MustParseAddr("198.18.0.7"),
		At: 60, Intervals: s.Intervals() - 60, Size: 400, Period: 30 * time.Second, Jitter: 0.05}
	keepalive := synth.Plant{Class: synth.ClassKeepalive, Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("198.18.0.8"),
		Intervals: s.Intervals(), Size: 400, Period: 30 * time.Second, Jitter: 0.05}
	s.Plants = []synth.Plant{beacon, keepalive}

	path := filepath.Join(t.TempDir(), "beacon.pcap")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Write(w, s, synth.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	alerts, err := runWherefore(context.Background(), bin, nil, path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var beacons []alert
	for _, a := range alerts {
		if a.Detector == "beacon" {
			beacons = append(beacons, a)
		}
		if contains(a.Addrs, "198.18.0.8") {
			t.Errorf("the keep-alive running since the capture began alerted: %s", a.Reason)
		}
	}
	if len(beacons) != 1 {
		t.Fatalf("%d beacon alerts, want 1 (%d alerts in all)", len(beacons), len(alerts))
	}
	a := beacons[0]
	if a.Key != "10.0.1.3->198.18.0.7" || a.Kind != "beacon" || a.Scope != "pair" || !strings.Contains(a.Reason, "every 30s") {
		t.Errorf("beacon alert %+v", a)
	}
	label := s.Attacks()[0]
	if m := matchLabel(label, s.Interval, alerts); !m.Found || m.Delay > 12*6 {
		t.Errorf("beacon label matched %v after %d intervals; want within its first 12 check-ins", m.Found, m.Delay)
	}
}
