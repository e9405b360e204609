package detect

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
)

// checkin adds a small request from src to dst at time ts and its answer.
func (t *traffic) checkin(ts int64, src, dst string, size int) {
	t.recs = append(t.recs,
		capture.Record{TS: ts, Src: ip(src), Dst: ip(dst), Proto: 6, SrcPort: 41000, DstPort: 443, TCPFlags: capture.FlagACK | capture.FlagPSH, WireLen: uint32(size)},
		capture.Record{TS: ts + int64(30*time.Millisecond), Src: ip(dst), Dst: ip(src), Proto: 6, SrcPort: 443, DstPort: 41000, TCPFlags: capture.FlagACK | capture.FlagPSH, WireLen: uint32(2 * size)})
}

// beaconScene is a host browsing from interval 0 and, from interval
// start, checking in with dst every period (jitter up to ±jitter) with
// about size bytes, n times. Records come out in time order.
type beaconScene struct {
	src, dst      string
	start, n      int
	period        time.Duration
	jitter        time.Duration
	size          int
	otherHosts    int // more local hosts checking in with dst likewise
	browseFor     int // intervals of browsing by src (and the other hosts)
	seed          uint64
	sizeJitterPct int
	// random: gaps drawn as random arrivals (exponential, mean period)
	// and sizes over a factor of ten, as a person's traffic comes.
	random bool
}

func (b beaconScene) records() []capture.Record {
	rng := rand.New(rand.NewPCG(b.seed, 7))
	var t traffic
	for i := range b.browseFor {
		t.send(i, b.src, "198.51.100.1", 3000)
		for h := range b.otherHosts {
			t.send(i, fmt.Sprintf("10.0.0.%d", 100+h), "198.51.100.2", 3000)
		}
	}
	for h := range b.otherHosts + 1 {
		src := b.src
		if h > 0 {
			src = fmt.Sprintf("10.0.0.%d", 100+h-1)
		}
		ts := at(b.start, time.Duration(h)*700*time.Millisecond+time.Second)
		for range b.n {
			size := b.size
			if b.random {
				size = int(float64(size) * math.Pow(10, rng.Float64()))
			}
			if b.sizeJitterPct > 0 {
				size += size * (rng.IntN(2*b.sizeJitterPct+1) - b.sizeJitterPct) / 100
			}
			t.checkin(ts, src, b.dst, size)
			j := time.Duration(0)
			if b.jitter > 0 {
				j = time.Duration(rng.Int64N(int64(2*b.jitter))) - b.jitter
			}
			if b.random {
				j = time.Duration(rng.ExpFloat64()*float64(b.period)) - b.period
			}
			ts += int64(b.period + j)
		}
	}
	recs := t.recs
	sortRecords(recs)
	return recs
}

// sortRecords puts recs in time order; records of one instant keep theirs.
func sortRecords(recs []capture.Record) {
	slices.SortStableFunc(recs, func(a, b capture.Record) int { return cmp.Compare(a.TS, b.TS) })
}

// TestBeaconAtItsThresholds: a host that starts checking in with a new
// outside address every minute, ten minutes after it was first seen, is
// reported at the tenth check-in (-beacon_min_events) and not at the
// ninth; with the regularity threshold just above its score it is not.
func TestBeaconAtItsThresholds(t *testing.T) {
	scene := beaconScene{src: "10.0.0.7", dst: "198.18.0.9", start: 120, period: time.Minute, jitter: 2 * time.Second,
		size: 300, sizeJitterPct: 20, browseFor: 300, seed: 1}
	for _, n := range []int{9, 10} {
		scene.n = n
		alerts, _ := run(t, testConfig(2), scene.records(), nil)
		got := only(alerts, "beacon")
		if n == 9 {
			if len(got) != 0 {
				t.Errorf("9 check-ins (one under -beacon_min_events): want silence, got %s", got[0].Reason)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("10 check-ins: %d beacon alerts, want 1 (%d alerts in all)", len(got), len(alerts))
		}
		a := got[0]
		if a.Kind != "beacon" || a.Scope != "pair" || a.Key != "10.0.0.7->198.18.0.9" {
			t.Errorf("alert kind %q scope %q key %q", a.Kind, a.Scope, a.Key)
		}
		for _, want := range []string{"10.0.0.7 contacted 198.18.0.9 every 1m (±", "B, 10 times in", "a destination no other local host uses", "first contacted 10m"} {
			if !strings.Contains(a.Reason, want) {
				t.Errorf("reason %q lacks %q", a.Reason, want)
			}
		}
		if a.Expected < 55 || a.Expected > 65 || a.Threshold != anomaly.DefaultBeaconThreshold {
			t.Errorf("expected period %g s, threshold %g", a.Expected, a.Threshold)
		}
		if _, ok := a.Tests["timing"]; !ok || a.Probability <= 0.5 {
			t.Errorf("sub-scores %v, probability %g", a.Tests, a.Probability)
		}
		golden(t, "beacon-beacon-pair", a)
		// The same pair with the regularity threshold just above what it
		// scored stays silent; just below, it alerts.
		reg := a.Tests["timing"]/2 + a.Tests["size"]/2
		for _, c := range []struct {
			thr  float64
			want int
		}{{reg - 0.01, 1}, {min(reg+0.01, 0.999), 0}} {
			cfg := testConfig(2)
			cfg.Beacon.Threshold = c.thr
			alerts, _ := run(t, cfg, scene.records(), nil)
			if got := len(only(alerts, "beacon")); got != c.want {
				t.Errorf("regularity %.3f, threshold %.3f: %d beacon alerts, want %d", reg, c.thr, got, c.want)
			}
		}
	}
}

// TestBeaconLeavesOrdinaryPeriodicTrafficAlone: what looks like a beacon
// but is not reported, and why.
func TestBeaconLeavesOrdinaryPeriodicTrafficAlone(t *testing.T) {
	base := beaconScene{src: "10.0.0.7", dst: "198.18.0.9", start: 120, n: 20, period: time.Minute, jitter: 2 * time.Second,
		size: 300, browseFor: 400, seed: 2}
	cases := []struct {
		name string
		edit func(*beaconScene)
	}{
		// Agent software checking in since the host was first seen.
		{"keep-alive from the start", func(b *beaconScene) { b.start = 0 }},
		// A service three local hosts poll alike (past -beacon_max_hosts).
		{"shared destination", func(b *beaconScene) { b.otherHosts = 2 }},
		// Inside the local networks.
		{"local destination", func(b *beaconScene) { b.dst = "10.0.9.9" }},
		// Too large per check-in for a beacon's request.
		{"large transfers", func(b *beaconScene) { b.size = 25_000 }},
		// Irregular: random arrivals a minute apart on average, sizes
		// over a factor of ten.
		{"random arrivals", func(b *beaconScene) { b.random = true }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := base
			c.edit(&sc)
			alerts, _ := run(t, testConfig(2), sc.records(), nil)
			if got := only(alerts, "beacon"); len(got) != 0 {
				t.Errorf("want silence, got %s", got[0].Reason)
			}
		})
	}
	// The control: the base scene alerts, once, however long it goes on.
	alerts, _ := run(t, testConfig(2), base.records(), nil)
	if got := only(alerts, "beacon"); len(got) != 1 {
		t.Errorf("the base scene: %d beacon alerts, want 1", len(got))
	}
	// Two local hosts on one outside address (at -beacon_max_hosts) still alert.
	sc := base
	sc.otherHosts = 1
	alerts, _ = run(t, testConfig(2), sc.records(), nil)
	if got := only(alerts, "beacon"); len(got) != 2 || !strings.Contains(got[0].Reason, "only 2 local hosts use") {
		t.Errorf("two hosts beaconing: %d beacon alerts, want 2 naming the 2 hosts", len(got))
	}
}

// TestBeaconTableStaysBoundedUnderAFlood: ten intervals of 2000 new
// small pairs each, from local hosts to outside addresses, find the
// table full; the table never holds more than -beacon_max_pairs, the
// pairs it could not follow are counted, and a beacon followed since
// before the flood is still reported.
func TestBeaconTableStaysBoundedUnderAFlood(t *testing.T) {
	scene := beaconScene{src: "10.0.0.7", dst: "198.18.0.9", start: 120, n: 14, period: time.Minute, jitter: 2 * time.Second,
		size: 300, browseFor: 300, seed: 3}
	recs := scene.records()
	var flood traffic
	for i := 150; i < 160; i++ {
		for h := range 2000 {
			n := i*2000 + h
			flood.udp(i, fmt.Sprintf("10.1.%d.%d", (n>>8)&255, n&255), fmt.Sprintf("198.19.%d.%d", (n>>8)&255, n&255), 5000, 53, 100)
		}
	}
	recs = append(recs, flood.recs...)
	sortRecords(recs)
	cfg := testConfig(2)
	cfg.BeaconMaxPairs = 1000
	alerts, st := run(t, cfg, recs, nil)
	tb := st.beacon.table
	if tb.len() > cfg.BeaconMaxPairs || len(tb.tracks) > cfg.BeaconMaxPairs {
		t.Errorf("%d pairs followed in %d slots, cap %d", tb.len(), len(tb.tracks), cfg.BeaconMaxPairs)
	}
	if s := st.Stats(); s.BeaconDropped < 10_000 || s.BeaconPairs > uint64(cfg.BeaconMaxPairs) {
		t.Errorf("stats: %d pairs followed, %d dropped; want at most %d followed and most of the 20000 dropped",
			s.BeaconPairs, s.BeaconDropped, cfg.BeaconMaxPairs)
	}
	if got := only(alerts, "beacon"); len(got) != 1 || got[0].Key != "10.0.0.7->198.18.0.9" {
		t.Errorf("the beacon followed before the flood: %d beacon alerts", len(got))
	}
}

// TestBeaconSurvivesARestart: a pair's check-ins saved in the learned
// state at shutdown count after the restart, so the beacon is reported
// at its tenth check-in though the new run saw only four of them.
func TestBeaconSurvivesARestart(t *testing.T) {
	scene := beaconScene{src: "10.0.0.7", dst: "198.18.0.9", start: 120, n: 10, period: time.Minute, jitter: 2 * time.Second,
		size: 300, browseFor: 300, seed: 4}
	recs := scene.records()
	cut := at(120+6*12, 0) // after the sixth check-in
	var before, after []capture.Record
	for _, r := range recs {
		if r.TS < cut {
			before = append(before, r)
		} else {
			after = append(after, r)
		}
	}
	alerts, st := run(t, testConfig(2), before, nil)
	if got := only(alerts, "beacon"); len(got) != 0 {
		t.Fatalf("six check-ins alerted: %s", got[0].Reason)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := anomaly.SaveStateFile(path, st.State()); err != nil {
		t.Fatal(err)
	}
	saved, err := anomaly.LoadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved.Beacons) == 0 {
		t.Fatal("no beacon track in the saved state")
	}
	restore := func(s *Stage) {
		if err := s.Restore(saved); err != nil {
			t.Fatal(err)
		}
	}
	alerts, _ = run(t, testConfig(2), after, restore)
	got := only(alerts, "beacon")
	if len(got) != 1 || !strings.Contains(got[0].Reason, "10 times in") {
		t.Fatalf("after the restart: %d beacon alerts, want 1 counting all 10 check-ins", len(got))
	}
	// Without the saved state the new run has too few check-ins to judge.
	alerts, _ = run(t, testConfig(2), after, nil)
	if got := only(alerts, "beacon"); len(got) != 0 {
		t.Errorf("without the saved state: %s", got[0].Reason)
	}
}

// TestBeaconHabitMovingAddress: a device that has checked in every
// minute with ~300 B since it was first seen, with an address its cloud
// service then rotates, is not reported when the same check-ins go to the
// next address; a new pattern (every 30 s with ~1.5 kB) from it to
// another new address is.
func TestBeaconHabitMovingAddress(t *testing.T) {
	first := beaconScene{src: "10.0.0.7", dst: "198.18.0.9", start: 0, n: 15, period: time.Minute, jitter: 2 * time.Second,
		size: 300, browseFor: 600, seed: 5}
	moved := first
	moved.dst, moved.start, moved.browseFor, moved.seed = "198.18.0.10", 15*12+6, 0, 6
	other := moved
	other.dst, other.period, other.size, other.seed = "198.18.0.11", 30*time.Second, 1500, 7
	for _, c := range []struct {
		name  string
		next  beaconScene
		alert bool
	}{{"same habit, next address", moved, false}, {"another pattern", other, true}} {
		t.Run(c.name, func(t *testing.T) {
			recs := append(first.records(), c.next.records()...)
			sortRecords(recs)
			alerts, _ := run(t, testConfig(2), recs, nil)
			got := only(alerts, "beacon")
			switch {
			case c.alert && (len(got) != 1 || got[0].Dst != c.next.dst):
				t.Errorf("%d beacon alerts, want one towards %s", len(got), c.next.dst)
			case !c.alert && len(got) != 0:
				t.Errorf("want silence, got %s", got[0].Reason)
			}
		})
	}
}

// TestBeaconResolves: with -resolve_after 3 a beacon checking in every
// 12 intervals alerts once and stays open while it goes on (quiet
// intervals between check-ins are not back to normal), and is reported
// back to normal once it stops.
func TestBeaconResolves(t *testing.T) {
	scene := beaconScene{src: "10.0.0.7", dst: "198.18.0.9", start: 120, n: 20, period: time.Minute, jitter: 2 * time.Second,
		size: 300, browseFor: 500, seed: 8}
	cfg := testConfig(2)
	cfg.ResolveAfter = 3
	alerts, _ := run(t, cfg, scene.records(), nil)
	var fired, resolved []int
	for i, a := range alerts {
		if a.Detector != "beacon" {
			continue
		}
		if a.Resolved {
			resolved = append(resolved, i)
		} else {
			fired = append(fired, i)
		}
	}
	if len(fired) != 1 || len(resolved) != 1 {
		t.Fatalf("%d beacon alerts and %d resolutions, want 1 and 1", len(fired), len(resolved))
	}
	last := at(120+19*12, 0) // about the last check-in
	if r := alerts[resolved[0]]; r.Time.UnixNano() < last || !strings.Contains(r.Reason, "back to normal") {
		t.Errorf("resolved at %v (%q), want after the last check-in at %v", r.Time, r.Reason, time.Unix(0, last).UTC())
	}
}
