package anomaly

import (
	"fmt"
	"testing"
)

// Byte counts per interval as a flow might produce them.
var (
	steadySeries = []float64{52310, 49870, 51200, 50550, 48990, 51730, 50120, 49660, 50980, 51420}
	spikeSeries  = []float64{52310, 49870, 51200, 50550, 48990, 51730, 50120, 49660, 50980, 1048576}
)

// defaultConfig is the configuration the daemon uses.
func defaultConfig() Config {
	return Config{
		ActiveSize: 1, NSeasons: 4, Sensitivity: 0.5, PermCount: 500,
		Methods: []string{"magnitude", "highrank", "lowrank", "diff"},
	}
}

func TestScoreDoesNotAllocate(t *testing.T) {
	all := []string{"magnitude", "diff", "highrank", "lowrank", "fence", "ks", "cdf"}
	long := make([]float64, 40) // ranks take their sorting path
	for i := range long {
		long[i] = spikeSeries[i%len(spikeSeries)] + float64(i)
	}
	cases := []struct {
		name   string
		cfg    Config
		series []float64
	}{
		{"default, spike", defaultConfig(), spikeSeries},
		{"default, steady", defaultConfig(), steadySeries},
		{"default, diff exact", defaultConfig(), spikeSeries[2:]},
		{"all methods, spike", Config{ActiveSize: 1, UpperBound: 1e5, Methods: all}, spikeSeries},
		{"all methods, a=2", Config{ActiveSize: 2, NSeasons: 2, UpperBound: 1e5, LowerBound: NA, Methods: all}, spikeSeries},
		{"all methods, a=3, long", Config{ActiveSize: 3, NSeasons: 3, UpperBound: 1e5, Methods: all}, long},
		{"ks Monte Carlo", Config{ActiveSize: 1, Methods: []string{"ks"}}, long},
	}
	for _, m := range all {
		cases = append(cases, struct {
			name   string
			cfg    Config
			series []float64
		}{fmt.Sprintf("only %s", m), Config{ActiveSize: 2, NSeasons: 2, UpperBound: 1e5, Methods: []string{m}}, long[:20]})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newTest(t, c.cfg, 1)
			var ts TestScores
			a.Score(c.series, &ts) // grows the scratch buffers
			if len(ts.Map()) < 1 {
				t.Fatalf("no test ran: the case does not exercise anything")
			}
			if n := testing.AllocsPerRun(20, func() { a.Score(c.series, &ts) }); n != 0 {
				t.Errorf("Score allocates %v times per call", n)
			}
			if n := testing.AllocsPerRun(5, func() { a.Score(c.series, nil) }); n != 0 {
				t.Errorf("Score(nil tests) allocates %v times per call", n)
			}
		})
	}
}
