package anomaly

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func baselineConfig(t testing.TB) *BaselineConfig {
	t.Helper()
	var c BaselineConfig
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return &c
}

// learnt returns a baseline fed the values.
func learnt(cfg *BaselineConfig, values ...float64) Baseline {
	var b Baseline
	for _, v := range values {
		b.Update(v, cfg)
	}
	return b
}

func TestBaseline(t *testing.T) {
	cfg := baselineConfig(t)
	var b Baseline
	if _, ok := b.Deviation(1e6, cfg); ok {
		t.Fatal("a key with no history judged")
	}
	b = learnt(cfg, 1000, 1000)
	if _, ok := b.Deviation(1e6, cfg); ok {
		t.Fatal("judged after 2 of MinHistory 3 intervals")
	}
	b.Update(1000, cfg)
	// Idle intervals neither lower the level nor widen the spread.
	for range 500 {
		b.Update(0, cfg)
	}
	if b.Idle != 500 || b.Active != 3 {
		t.Fatalf("idle %d active %d, want 500, 3", b.Idle, b.Active)
	}
	if got := b.Typical(); math.Abs(got-1000) > 1e-6 {
		t.Fatalf("typical %g after idle intervals, want 1000", got)
	}
	// A constant key has spread 0, so the floor decides: 100 times the
	// usual volume is ln(100)/0.5 spreads above it.
	d, ok := b.Deviation(100*1001-1, cfg)
	if want := math.Log(100) / DefaultBaselineMinSpread; !ok || math.Abs(d-want) > 1e-9 {
		t.Fatalf("deviation of 100x: %g, %v; want %g", d, ok, want)
	}
	if lv := b.Level(d, cfg); math.Abs(lv-(100*1001-1)) > 1e-6 {
		t.Fatalf("Level(Deviation(x)) = %g, want x", lv)
	}
	// A noisy key earns a wider spread, so the same jump is less surprising.
	rng := rand.New(rand.NewPCG(1, 1))
	var noisy Baseline
	for range 200 {
		noisy.Update(1000*math.Exp(2*rng.NormFloat64()), cfg)
	}
	if dn, _ := noisy.Deviation(100*1001-1, cfg); dn >= d/2 {
		t.Fatalf("noisy key: deviation %g, steady key %g; want the noisy one far smaller", dn, d)
	}
	for _, c := range []BaselineConfig{{Alpha: 2}, {MinSpread: -1}, {MinHistory: -3}} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestPooled(t *testing.T) {
	if _, err := NewPooled(PooledConfig{Risk: 10}); err == nil || !strings.Contains(err.Error(), "Risk 10 invalid") {
		t.Fatalf("Risk 10: %v", err)
	}
	if r := RiskForKeyHours(1000, 5e9); r != 720000 {
		t.Fatalf("RiskForKeyHours(1000, 5s) = %g, want 720000", r)
	}
	p, err := NewPooled(PooledConfig{Risk: 1e4})
	if err != nil {
		t.Fatal(err)
	}
	if thr, ok := p.Threshold(); ok || thr != DefaultColdDeviation {
		t.Fatalf("uncalibrated threshold %g, %v; want the cold %d", thr, ok, DefaultColdDeviation)
	}
	// Deviations of 2000 normal keys: calibrated after one interval, with
	// a threshold near the N(0,1) quantile for q = 1e-4 (3.72).
	rng := rand.New(rand.NewPCG(5, 5))
	for range 2000 {
		p.Observe(rng.NormFloat64())
	}
	thr, ok := p.Threshold()
	if !ok || thr < 3.2 || thr > 4.5 {
		t.Fatalf("threshold after 2000 N(0,1) scores: %g, %v; want about 3.7", thr, ok)
	}
	// Over 100k more normal key-intervals, about 100000/Risk = 10 cross it.
	over := 0
	for i := range 100000 {
		d := rng.NormFloat64()
		if thr, _ := p.Threshold(); d > thr {
			over++
		}
		p.Observe(d)
		if i%1000 == 999 { // 1000 keys per interval
			p.EndInterval()
		}
	}
	if over < 2 || over > 30 {
		t.Fatalf("%d of 100000 normal scores crossed the threshold, want about 10", over)
	}
}

func TestSurge(t *testing.T) {
	bc := baselineConfig(t)
	const thr = 6.0
	host := learnt(bc, 30e3, 25e3, 35e3, 30e3)                   // the host's uploads per interval
	pair := learnt(bc, 4000, 5000, 4500, 4000, 5000, 4500, 4000) // a long-lived flow
	cfg := &SurgeConfig{}
	var r Result

	// The pair's threshold is thr spreads above its level, floored.
	edge := math.Expm1(pair.Center + thr*max(pair.Spread, bc.MinSpread))
	for _, c := range []struct {
		value float64
		hit   bool
	}{{edge * 0.999, false}, {edge * 1.001, true}, {4500, false}, {450e3, true}} {
		Surge(c.value, pair, host, thr, bc, cfg, &r)
		if r.Hit != c.hit || (r.Score > AlertScore) != c.hit || r.Kind != KindSurge {
			t.Errorf("pair value %g (threshold %g): hit %v score %g kind %v; want hit %v", c.value, edge, r.Hit, r.Score, r.Kind, c.hit)
		}
		if math.Abs(r.Threshold-edge) > 1e-6*edge || math.Abs(r.Expected-4400) > 300 {
			t.Errorf("threshold %g expected %g; want %g, about 4400", r.Threshold, r.Expected, edge)
		}
	}
	// Two orders of magnitude above a flow's habit, well under a megabyte.
	Surge(450e3, pair, host, thr, bc, cfg, &r)
	if !r.Hit || r.Score < 0.55 {
		t.Errorf("450 kB on a 4.5 kB flow: hit %v score %g", r.Hit, r.Score)
	}

	// A new destination is judged by the host's baseline.
	hedge := math.Expm1(host.Center + thr*max(host.Spread, bc.MinSpread))
	for _, c := range []struct {
		value float64
		hit   bool
	}{{hedge * 0.999, false}, {hedge * 1.001, true}, {48e6, true}} {
		Surge(c.value, Baseline{}, host, thr, bc, cfg, &r)
		if r.Hit != c.hit || r.Kind != KindNewDestination || r.NoHistory {
			t.Errorf("new key value %g (threshold %g): hit %v kind %v", c.value, hedge, r.Hit, r.Kind)
		}
		if p, _ := r.Sub("parent"); p != 1 {
			t.Errorf("new key: sub-score parent %g, want 1", p)
		}
	}
	// The floor: no alert at or below MinValue, however unusual.
	Surge(edge*2, pair, host, thr, bc, &SurgeConfig{MinValue: edge * 3}, &r)
	if r.Hit || r.Score > AlertScore || r.Threshold != edge*3 {
		t.Errorf("below MinValue: hit %v score %g threshold %g", r.Hit, r.Score, r.Threshold)
	}
	// Neither history nor a cold ceiling: not judged.
	Surge(1e9, Baseline{}, Baseline{}, thr, bc, cfg, &r)
	if r.Hit || !r.NoHistory {
		t.Errorf("no history at all: hit %v, NoHistory %v", r.Hit, r.NoHistory)
	}
	cold := &SurgeConfig{ColdCeiling: 10e6}
	for _, c := range []struct {
		v   float64
		hit bool
	}{{9.99e6, false}, {10.01e6, true}} {
		Surge(c.v, Baseline{}, Baseline{}, thr, bc, cold, &r)
		if r.Hit != c.hit || r.NoHistory {
			t.Errorf("cold ceiling 10 MB, value %g: hit %v", c.v, r.Hit)
		}
	}
}

func TestTunnel(t *testing.T) {
	bc := baselineConfig(t)
	dns := learnt(bc, 2000, 2500, 1800, 2200, 2100) // a host's DNS bytes per interval
	edge := dns.Level(6, bc)
	var r Result
	cfg := &SurgeConfig{MinValue: 0}
	for _, c := range []struct {
		v   float64
		hit bool
	}{{edge * 0.999, false}, {edge * 1.001, true}} {
		Tunnel(c.v, dns, 6, bc, cfg, &r)
		if r.Hit != c.hit || r.Kind != KindTunnel {
			t.Errorf("DNS %g bytes (threshold %g): hit %v kind %v", c.v, edge, r.Hit, r.Kind)
		}
	}
}

func TestRamp(t *testing.T) {
	cfg := &RampConfig{}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var r Result
	for _, c := range []struct {
		name   string
		series []float64
		hit    bool
	}{
		{"just below growth", []float64{5, 1000, 2000, 3000, 5000, 7999}, false},
		{"just above growth", []float64{5, 1000, 2000, 3000, 5000, 8001}, true},
		{"one dip", []float64{1000, 2000, 1900, 5000, 90000}, false},
		{"flat", []float64{1000, 1000, 1000, 1000, 1000}, false},
	} {
		Ramp(c.series, cfg, &r)
		if r.Hit != c.hit || (r.Score > AlertScore) != c.hit || r.Kind != KindRamp {
			t.Errorf("%s: hit %v score %g, want hit %v", c.name, r.Hit, r.Score, c.hit)
		}
	}
	Ramp([]float64{1, 2, 3}, cfg, &r)
	if !r.NoHistory || r.Hit {
		t.Errorf("3 values for a 4-interval ramp: NoHistory %v hit %v", r.NoHistory, r.Hit)
	}
	if err := (&RampConfig{Growth: 0.5}).Validate(); err == nil {
		t.Error("Growth 0.5 accepted")
	}
}

func TestCount(t *testing.T) {
	bc := &BaselineConfig{MinSpread: DefaultCountMinSpread}
	if err := bc.Validate(); err != nil {
		t.Fatal(err)
	}
	cc := bc
	var r Result
	vscan, ok := DefaultCountConfig(KindVScan)
	if !ok || vscan.Floor != 15 {
		t.Fatalf("vscan default %+v", vscan)
	}
	// No history: the floor alone, so a scan in a short capture is caught.
	for _, c := range []struct {
		n   float64
		hit bool
	}{{15, false}, {16, true}, {1000, true}} {
		Count(c.n, Baseline{}, 6, bc, &vscan, &r)
		if r.Hit != c.hit || (r.Score > AlertScore) != c.hit || r.Kind != KindVScan {
			t.Errorf("%g ports, no history: hit %v score %g", c.n, r.Hit, r.Score)
		}
	}
	// A P2P client that always talks to about 400 peers: its own habit sets
	// the threshold, far above the fan-out floor.
	fan, _ := DefaultCountConfig(KindFanOut)
	p2p := learnt(bc, 400, 380, 420, 410, 390, 400)
	edge := p2p.Level(6, bc)
	for _, c := range []struct {
		n   float64
		hit bool
	}{{500, false}, {math.Floor(edge), false}, {math.Ceil(edge + 1e-9), true}} {
		Count(c.n, p2p, 6, bc, &fan, &r)
		if l, _ := r.Sub("learned"); r.Hit != c.hit || l != 1 {
			t.Errorf("p2p %g peers (threshold %g): hit %v learned %g", c.n, edge, r.Hit, l)
		}
	}
	// A quiet host's learned level is below the floor: the floor holds.
	quiet := learnt(cc, 2, 3, 2, 2)
	for _, c := range []struct {
		n   float64
		hit bool
	}{{25, false}, {26, true}} {
		Count(c.n, quiet, 6, cc, &fan, &r)
		if l, _ := r.Sub("learned"); r.Hit != c.hit || r.Threshold != DefaultFanOutFloor || l != 0 {
			t.Errorf("quiet host, %g destinations: hit %v threshold %g learned %g", c.n, r.Hit, r.Threshold, l)
		}
	}
	if err := (&CountConfig{Kind: KindSurge, Floor: 3}).Validate(); err == nil || !strings.Contains(err.Error(), `"surge" invalid`) {
		t.Errorf("surge as count kind: %v", err)
	}
}

func TestBeacon(t *testing.T) {
	b, err := NewBeacon(BeaconConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	beacon := make([]float64, 60)
	sizes := make([]float64, 60)
	poisson := make([]float64, 60)
	psizes := make([]float64, 60)
	var now float64
	for i := range beacon {
		beacon[i] = float64(i)*60 + rng.Float64()*3 // every minute, 3 s jitter
		sizes[i] = 512 + float64(rng.IntN(8))
		now += rng.ExpFloat64() * 60
		poisson[i] = now
		psizes[i] = math.Exp(6 + 2*rng.NormFloat64())
	}
	var r Result
	b.Score(beacon, sizes, &r)
	t.Logf("beacon: regularity %.3f (timing %.3f)", r.Value, r.sub[0].Value)
	if !r.Hit || r.Value < 0.85 || math.Abs(r.Expected-60) > 3 {
		t.Errorf("beacon: hit %v regularity %g period %g", r.Hit, r.Value, r.Expected)
	}
	reg := r.Value
	b.Score(poisson, psizes, &r)
	t.Logf("random: regularity %.3f (timing %.3f)", r.Value, r.sub[0].Value)
	if r.Hit || r.Value > 0.7 {
		t.Errorf("random traffic: hit %v regularity %g", r.Hit, r.Value)
	}
	// Edge: thresholds just above and just below the beacon's regularity.
	for _, c := range []struct {
		thr float64
		hit bool
	}{{reg + 1e-6, false}, {reg - 1e-6, true}} {
		e, _ := NewBeacon(BeaconConfig{Threshold: c.thr})
		e.Score(beacon, sizes, &r)
		if r.Hit != c.hit || (r.Score > AlertScore) != c.hit {
			t.Errorf("threshold %g, regularity %g: hit %v score %g", c.thr, r.Value, r.Hit, r.Score)
		}
	}
	b.Score(beacon[:5], nil, &r)
	if !r.NoHistory || r.Hit {
		t.Errorf("5 events: NoHistory %v hit %v", r.NoHistory, r.Hit)
	}
	if _, err := NewBeacon(BeaconConfig{Threshold: 1.5}); err == nil {
		t.Error("Threshold 1.5 accepted")
	}
}

func TestDetectorsAllocationFree(t *testing.T) {
	bc := baselineConfig(t)
	b := learnt(bc, 1000, 2000, 1500, 1200)
	p, _ := NewPooled(PooledConfig{NInit: 100, Risk: 1000})
	beacon, _ := NewBeacon(BeaconConfig{})
	times := make([]float64, 30)
	for i := range times {
		times[i] = float64(i) * 10
	}
	series := []float64{1, 2, 4, 8, 16, 32}
	scan, _ := DefaultCountConfig(KindHScan)
	var r Result
	beacon.Score(times, times, &r) // grow the scratch buffers
	i := 0.0
	if a := testing.AllocsPerRun(1000, func() {
		i++
		p.Observe(math.Sin(i) * 3)
		p.EndInterval()
		thr, _ := p.Threshold()
		d, _ := b.Deviation(i, bc)
		_ = d
		Surge(i*100, b, b, thr, bc, &SurgeConfig{}, &r)
		Count(i, b, thr, bc, &scan, &r)
		Ramp(series, &RampConfig{Intervals: 4, Growth: 8}, &r)
		beacon.Score(times, times, &r)
		b.Update(i, bc)
	}); a != 0 {
		t.Fatalf("scoring allocates %g times per key", a)
	}
}
