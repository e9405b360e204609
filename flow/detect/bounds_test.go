package detect

import (
	"fmt"
	"testing"
)

// TestSpoofedFloodKeepsStateWithinCaps: a SYN flood from 60 000 spoofed
// sources over three intervals is reported as fan-in towards its victim,
// while the learned state per address stays within its cap and what was
// forgotten is counted.
func TestSpoofedFloodKeepsStateWithinCaps(t *testing.T) {
	var tr traffic
	for i := range 3 {
		for h := range 20_000 {
			n := i*20_000 + h
			tr.syn(i, fmt.Sprintf("198.%d.%d.%d", 18+n>>16, (n>>8)&255, n&255), "10.0.0.80", 40000, 80)
		}
	}
	cfg := testConfig(2)
	cfg.MaxSources, cfg.MaxDests = 1000, 1000
	alerts, st := run(t, cfg, tr.recs, nil)
	if n := st.srcs.len(); n > cfg.MaxSources {
		t.Errorf("%d sources kept, cap %d", n, cfg.MaxSources)
	}
	if len(st.srcs.vals) > cfg.MaxSources {
		t.Errorf("source state grew to %d slots, cap %d", len(st.srcs.vals), cfg.MaxSources)
	}
	if st.Stats().SourcesEvicted == 0 {
		t.Error("forgotten sources were not counted")
	}
	fanin := only(alerts, "fanin")
	if len(fanin) == 0 || fanin[0].Key != "10.0.0.80" {
		t.Fatalf("flood not reported as fan-in towards 10.0.0.80: %d alerts", len(alerts))
	}
	if fanin[0].DistinctSrcs < 1000 || len(fanin[0].SamplePeers) == 0 {
		t.Errorf("fan-in alert counts %d sources, samples %v", fanin[0].DistinctSrcs, fanin[0].SamplePeers)
	}
}
