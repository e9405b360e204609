package anomaly

import "fmt"

// AlertScore is the score of a value exactly at a detector's threshold.
// Every detector of this file's family scores so that Result.Score >
// AlertScore exactly when Result.Hit is set; scores grow towards 1 as the
// value goes further past its threshold, so they also order alerts by how
// surprising they are.
const AlertScore = 0.5

// Kind says what a detector found; its String is the alert's "kind".
type Kind uint8

// Kinds of finding.
const (
	KindNone           Kind = iota
	KindSurge               // a key moved far more than its own baseline
	KindNewDestination      // a key with no history moved far more than its parent usually does
	KindRamp                // a key's volume grew every interval for a while
	KindVScan               // many ports of one host tried
	KindHScan               // many hosts tried
	KindFanOut              // a host contacted many (new) destinations
	KindFanIn               // many sources towards one host
	KindBruteForce          // many short connections to one service
	KindTunnel              // unusual DNS or ICMP volume from one host
	KindBeacon              // regular intervals and sizes towards one destination
	numKinds
)

var kindNames = [numKinds]string{"", "surge", "new-destination", "ramp", "vscan", "hscan", "fanout", "fanin", "bruteforce", "tunnel", "beacon"}

// String returns the kind's name as alerts carry it ("" for KindNone).
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MaxSubScores is the number of sub-scores a Result holds.
const MaxSubScores = 6

// SubScore is one named component of a detector's result. Names are
// constants, so filling one costs no allocation.
type SubScore struct {
	Name  string
	Value float64
}

// Result is what a detector made of one key's value in one interval: how
// surprising it is and, for the alert's reason sentence, what was expected
// and which threshold was crossed. It is a plain value the caller owns and
// reuses; detectors overwrite it and never allocate.
type Result struct {
	// Score is in [0, 1]; it exceeds AlertScore exactly when Hit is set.
	Score float64
	// Hit says the value crossed Threshold (and any absolute floor).
	Hit bool
	// NoHistory says the detector had nothing to judge the value by (a new
	// key, a model still calibrating); the caller may judge it another way.
	NoHistory bool
	Kind      Kind
	// Value is what was judged, Expected what was normal for this key and
	// Threshold the value that had to be exceeded, in the same unit
	// (bytes, packets, distinct count, or as the detector documents).
	Value, Expected, Threshold float64
	sub                        [MaxSubScores]SubScore
	nsub                       int
}

// Reset clears r for reuse.
func (r *Result) Reset() { *r = Result{} }

// SetSub records a sub-score, replacing one of the same name; past
// MaxSubScores names, new names are dropped.
func (r *Result) SetSub(name string, v float64) {
	for i := range r.nsub {
		if r.sub[i].Name == name {
			r.sub[i].Value = v
			return
		}
	}
	if r.nsub < MaxSubScores {
		r.sub[r.nsub] = SubScore{name, v}
		r.nsub++
	}
}

// Sub returns the sub-score of that name.
func (r *Result) Sub(name string) (float64, bool) {
	for i := range r.nsub {
		if r.sub[i].Name == name {
			return r.sub[i].Value, true
		}
	}
	return 0, false
}

// Subs returns the recorded sub-scores in the order they were set. The
// slice aliases r.
func (r *Result) Subs() []SubScore { return r.sub[:r.nsub] }

// SubMap returns the sub-scores as a map, for an alert's "tests" field. It
// allocates; call it only for hits.
func (r *Result) SubMap() map[string]float64 {
	m := make(map[string]float64, r.nsub)
	for _, s := range r.Subs() {
		m[s.Name] = s.Value
	}
	return m
}

// ratioScore maps r, how far a value went towards its threshold (0 at the
// expected value, 1 at the threshold), to a score: r/(1+r), which is
// AlertScore at the threshold, rises strictly with r and tends to 1.
func ratioScore(r float64) float64 {
	if !(r > 0) {
		return 0
	}
	if r > 1e300 {
		return 1
	}
	return r / (1 + r)
}
