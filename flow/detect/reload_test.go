package detect

import (
	"strings"
	"testing"
)

// TestReconfigureAppliesDetectorSettings: a reload (SIGHUP) changes the
// floors from the next interval on and keeps what was learned; a bad
// value is refused with the flag's name and changes nothing.
func TestReconfigureAppliesDetectorSettings(t *testing.T) {
	var tr traffic
	for p := range 20 {
		tr.syn(1, "198.51.100.7", "10.0.0.5", 40000, uint16(1+p))
	}
	for p := range 20 {
		tr.syn(30, "198.51.100.70", "10.0.0.6", 40000, uint16(1+p))
	}
	cfg := testConfig(2)
	alerts, _ := run(t, cfg, tr.recs, func(s *Stage) {
		bad := cfg
		bad.VScanFloor = -1
		if err := s.Reconfigure(bad); err == nil || !strings.Contains(err.Error(), "-vscan_ports") {
			t.Errorf("bad floor: %v", err)
		}
		raised := cfg
		raised.VScanFloor = 50
		if err := s.Reconfigure(raised); err != nil {
			t.Fatal(err)
		}
	})
	if got := only(alerts, "vscan"); len(got) != 0 {
		t.Errorf("20 ports alerted under a reloaded floor of 50: %s", got[0].Reason)
	}
	alerts, _ = run(t, cfg, tr.recs, nil)
	if got := only(alerts, "vscan"); len(got) != 2 {
		t.Errorf("%d vscan alerts under the default floor, want 2", len(got))
	}
}
