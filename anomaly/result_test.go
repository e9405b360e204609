package anomaly

import (
	"maps"
	"testing"
)

// The kind names are the alert's "kind" field, an interface.
func TestKindNames(t *testing.T) {
	want := map[Kind]string{
		KindSurge: "surge", KindNewDestination: "new-destination", KindRamp: "ramp",
		KindVScan: "vscan", KindHScan: "hscan", KindFanOut: "fanout", KindFanIn: "fanin",
		KindBruteForce: "bruteforce", KindTunnel: "tunnel", KindBeacon: "beacon",
	}
	for k, name := range want {
		if k.String() != name {
			t.Errorf("kind %d: %q, want %q", k, k.String(), name)
		}
	}
	if s := Kind(200).String(); s != "kind(200)" {
		t.Errorf("unknown kind: %q", s)
	}
}

func TestResultSubScores(t *testing.T) {
	var r Result
	for i, name := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		r.SetSub(name, float64(i))
	}
	r.SetSub("a", 10)
	want := map[string]float64{"a": 10, "b": 1, "c": 2, "d": 3, "e": 4, "f": 5}
	if got := r.SubMap(); !maps.Equal(got, want) {
		t.Fatalf("sub-scores %v, want %v (the seventh dropped, a replaced)", got, want)
	}
	if _, ok := r.Sub("g"); ok {
		t.Fatal("a seventh sub-score was kept")
	}
	r.Reset()
	if len(r.Subs()) != 0 {
		t.Fatal("Reset kept sub-scores")
	}
}
