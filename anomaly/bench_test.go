package anomaly

import "testing"

// BenchmarkScore measures the daemon's default configuration on a series of
// ten intervals: a spike passes the magnitude gate and runs every test; a
// steady flow stops at the gate.
func BenchmarkScore(b *testing.B) {
	for _, c := range []struct {
		name   string
		series []float64
	}{{"spike", spikeSeries}, {"steady", steadySeries}} {
		b.Run(c.name, func(b *testing.B) {
			a := newTest(b, defaultConfig(), 1)
			var ts TestScores
			b.ReportAllocs()
			for b.Loop() {
				a.Score(c.series, &ts)
			}
		})
	}
}

// BenchmarkTest measures each test alone, through an Anomalyzer so that its
// scratch buffers are reused, on the ten-point spike with a=1, NSeasons=4.
func BenchmarkTest(b *testing.B) {
	long := make([]float64, 30)
	for i := range long {
		long[i] = steadySeries[i%10] + float64(i)
	}
	for _, c := range []struct {
		name   string
		cfg    Config
		series []float64
	}{
		{"magnitude", Config{Methods: []string{"magnitude"}}, spikeSeries},
		{"fence", Config{UpperBound: 1e6, LowerBound: NA, Methods: []string{"fence"}}, spikeSeries},
		{"cdf", Config{Methods: []string{"cdf"}}, spikeSeries},
		{"rank", Config{Methods: []string{"highrank", "lowrank"}}, spikeSeries},
		{"rank/a=3,n=30", Config{ActiveSize: 3, Methods: []string{"highrank", "lowrank"}}, long},
		{"diff/MonteCarlo,n=10", Config{Methods: []string{"diff"}}, spikeSeries},
		{"diff/exact,n=8", Config{Methods: []string{"diff"}}, spikeSeries[2:]},
		{"diff/exact,n=7", Config{Methods: []string{"diff"}}, spikeSeries[3:]},
		{"ks/exact,n=10", Config{Methods: []string{"ks"}}, spikeSeries},
		{"ks/MonteCarlo,n=30", Config{Methods: []string{"ks"}}, long},
	} {
		b.Run(c.name, func(b *testing.B) {
			if c.cfg.ActiveSize == 0 {
				c.cfg.ActiveSize = 1
			}
			a := newTest(b, c.cfg, 1)
			var ts TestScores
			b.ReportAllocs()
			for b.Loop() {
				a.Score(c.series, &ts)
			}
		})
	}
}
