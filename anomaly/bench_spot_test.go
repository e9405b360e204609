package anomaly

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkSPOTStep measures one step on an Exp(1) stream: mostly normal
// values, about 2% excesses that refit the tail over a full ring of 200.
func BenchmarkSPOTStep(b *testing.B) {
	s := calibrated(b, SPOTConfig{})
	rng := rand.New(rand.NewPCG(1, 1))
	xs := make([]float64, 4096)
	for i := range xs {
		xs[i] = rng.ExpFloat64()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Step(xs[i&4095])
		i++
	}
}

// BenchmarkSPOTExcess measures the refit an excess costs.
func BenchmarkSPOTExcess(b *testing.B) {
	s := calibrated(b, SPOTConfig{Q: 1e-5})
	t := s.InitialThreshold()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Step(t + 0.1 + float64(i%50)*0.05)
		i++
	}
}

func BenchmarkDSPOTStep(b *testing.B) {
	d, _ := NewDSPOT(SPOTConfig{}, DefaultDSPOTDepth)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		d.Step(rng.NormFloat64())
	}
	xs := make([]float64, 4096)
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Step(xs[i&4095])
		i++
	}
}

// BenchmarkScoreKey measures what one active key costs per interval on the
// volume path: its deviation into the pooled model, the surge score and
// the baseline update.
func BenchmarkScoreKey(b *testing.B) {
	bc := baselineConfig(b)
	p, _ := NewPooled(PooledConfig{})
	rng := rand.New(rand.NewPCG(1, 1))
	for range 3000 {
		p.Observe(rng.NormFloat64())
	}
	base := learnt(bc, 1000, 2000, 1500, 1200)
	cfg := &SurgeConfig{}
	var r Result
	b.ReportAllocs()
	x := 1000.0
	for b.Loop() {
		x = x*1.0001 + 1
		d, _ := base.Deviation(x, bc)
		p.Observe(d)
		thr, _ := p.Threshold()
		Surge(x, base, base, thr, bc, cfg, &r)
		base.Update(x, bc)
	}
}

func BenchmarkCount(b *testing.B) {
	bc := &BaselineConfig{MinSpread: DefaultCountMinSpread}
	bc.Validate()
	base := learnt(bc, 40, 42, 38, 45)
	cfg, _ := DefaultCountConfig(KindHScan)
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		Count(60, base, 6, bc, &cfg, &r)
	}
}

func BenchmarkRamp(b *testing.B) {
	cfg := &RampConfig{}
	cfg.Validate()
	series := []float64{900, 1000, 2000, 4000, 8000, 16000}
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		Ramp(series, cfg, &r)
	}
}

// BenchmarkBeacon scores a window of 100 connections.
func BenchmarkBeacon(b *testing.B) {
	bc, _ := NewBeacon(BeaconConfig{})
	rng := rand.New(rand.NewPCG(1, 1))
	times, sizes := make([]float64, 100), make([]float64, 100)
	for i := range times {
		times[i] = float64(i)*60 + rng.Float64()
		sizes[i] = 300 + float64(rng.IntN(10))
	}
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		bc.Score(times, sizes, &r)
	}
}
