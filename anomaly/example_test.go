package anomaly_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/wherefore/wherefore/anomaly"
)

// A flow that moved about 50 kB per interval suddenly moves 1 MB.
func ExampleAnomalyzer_Score() {
	cfg := anomaly.Config{
		ActiveSize:  1,   // test the newest interval
		NSeasons:    4,   // against the four before it
		Sensitivity: 0.5, // ignore changes of less than 50%
		PermCount:   500,
		Methods:     []string{"magnitude", "highrank", "lowrank", "diff"},
	}
	// One detector per goroutine; a seeded RNG makes the Monte Carlo tests
	// reproducible.
	det, err := anomaly.NewAnomalyzer(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}

	series := []float64{52310, 49870, 51200, 50550, 48990, 51730, 50120, 49660, 50980, 1048576}
	var tests anomaly.TestScores
	p := det.Score(series, &tests)

	fmt.Printf("probability %.3f\n", p)
	fmt.Printf("compared with %.0f bytes\n", anomaly.ReferenceMean(series, det.Config()))
	m := tests.Map()
	fmt.Printf("magnitude %.2f, rank %.2f, diff %.3f\n", m["magnitude"], m["rank"], m["diff"])

	// A steady interval stops at the magnitude gate.
	series[len(series)-1] = 51500
	p = det.Score(series, &tests)
	fmt.Printf("steady: probability %.2f, tests run %d, magnitude %.3f\n", p, len(tests.Map()), tests.Map()["magnitude"])
	// Output:
	// probability 0.975
	// compared with 50622 bytes
	// magnitude 1.00, rank 0.90, diff 0.798
	// steady: probability 0.00, tests run 1, magnitude 0.017
}
