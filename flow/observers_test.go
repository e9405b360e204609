package flow

import (
	"fmt"
	"testing"
	"time"

	"github.com/wherefore/wherefore/capture"
)

// Two observers joined by Observers each see every interval and every
// pair, exactly as one observer alone does.
func TestObserversHandEveryCallToEach(t *testing.T) {
	var recs []capture.Record
	for i := range 30 {
		at := time.Duration(i) * 700 * time.Millisecond
		recs = append(recs, tcpRec(at, "10.0.0.1", fmt.Sprintf("198.51.100.%d", i%7+1), 40000, 443, syn, 100))
		recs = append(recs, udpRec(at, "10.0.0.2", "203.0.113.9", 5000, 53, 80))
	}
	alone, _ := observe(t, 3, nil, recs)
	a, b := newRecorder(), newRecorder()
	joined, _ := observe(t, 3, func(c *Config) { c.Observer = Observers(nil, a, nil, b) }, recs)
	if len(joined.intervals) != 0 {
		t.Fatalf("the replaced observer saw %d intervals", len(joined.intervals))
	}
	for name, r := range map[string]*recorder{"first": a, "second": b} {
		if len(r.intervals) == 0 || len(r.intervals) != len(alone.intervals) {
			t.Fatalf("%s observer saw %d intervals, alone %d", name, len(r.intervals), len(alone.intervals))
		}
		for i := range alone.intervals {
			if r.intervals[i] != alone.intervals[i] ||
				fmt.Sprint(r.aggs[i].Sources) != fmt.Sprint(alone.aggs[i].Sources) ||
				len(r.pairs[alone.intervals[i].Index]) != len(alone.pairs[alone.intervals[i].Index]) {
				t.Fatalf("%s observer, interval %d: %+v / %+v; alone %+v / %+v", name, i,
					r.intervals[i], r.aggs[i].Sources, alone.intervals[i], alone.aggs[i].Sources)
			}
		}
	}
}

func TestObserversOfNoneOrOne(t *testing.T) {
	if o := Observers(); o != nil {
		t.Fatalf("Observers() = %v, want nil", o)
	}
	if o := Observers(nil, nil); o != nil {
		t.Fatalf("Observers(nil, nil) = %v, want nil", o)
	}
	r := newRecorder()
	if o := Observers(nil, r); o != Observer(r) {
		t.Fatalf("Observers(nil, r) = %v, want r itself", o)
	}
}
