package anomaly_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/wherefore/wherefore/anomaly"
)

// SPOT learns the tail of a stream and flags values beyond the risk q.
func ExampleSPOT() {
	s, err := anomaly.NewSPOT(anomaly.SPOTConfig{Q: 1e-3, NInit: 10000})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Calibrate on exponentially distributed values, whose true 1-1e-3
	// quantile is ln(1000) = 6.91.
	for i := range 10000 {
		s.Step(-math.Log(1 - (float64(i)+0.5)/10000))
	}
	fmt.Printf("t = %.3f, alarm above %.2f\n", s.InitialThreshold(), s.Threshold())
	for _, x := range []float64{0.5, 5, 12} {
		st, _ := s.Step(x)
		fmt.Println(x, st)
	}
	// Output:
	// t = 3.910, alarm above 6.89
	// 0.5 normal
	// 5 excess
	// 12 alarm
}

// A risk stated per key-hour, as users think of it, becomes the pooled
// model's Risk in key-intervals.
func ExampleRiskForKeyHours() {
	risk := anomaly.RiskForKeyHours(1000, 5*time.Second)
	fmt.Printf("one false alert per 1000 flow-hours at 5 s intervals: Risk %.0f (q = %.2g)\n", risk, 1/risk)
	// Output:
	// one false alert per 1000 flow-hours at 5 s intervals: Risk 720000 (q = 1.4e-06)
}

// The tagline: a host that usually uploads about 30 kB per interval sends
// 48 MB to a destination it never used before. The pair has no history, so
// it is judged against the host's; the threshold on deviations comes from
// the pooled model of the scope.
func ExampleSurge() {
	var bc anomaly.BaselineConfig
	if err := bc.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	pooled, err := anomaly.NewPooled(anomaly.PooledConfig{Risk: 1e5})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Every interval, every pair's deviation from its own baseline feeds
	// the pooled model; 2000 of them calibrate it.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		pooled.Observe(rng.NormFloat64())
	}
	pooled.EndInterval() // refit once per interval
	thr, learned := pooled.Threshold()
	fmt.Printf("threshold %.2f spreads (learned %v)\n", thr, learned)

	var host anomaly.Baseline
	for _, up := range []float64{30e3, 28e3, 33e3, 31e3, 29e3} {
		host.Update(up, &bc)
	}
	var r anomaly.Result
	anomaly.Surge(48e6, anomaly.Baseline{}, host, thr, &bc, &anomaly.SurgeConfig{}, &r)
	fmt.Printf("%s: hit %v, score %.2f, %.0f bytes, usually %.0f, threshold %.0f\n",
		r.Kind, r.Hit, r.Score, r.Value, r.Expected, r.Threshold)
	// Output:
	// threshold 4.24 spreads (learned true)
	// new-destination: hit true, score 0.78, 48000000 bytes, usually 30152, threshold 251292
}

// A vertical scan in a capture of a few seconds: no history, so the floor
// of 15 ports decides.
func ExampleCount() {
	var bc anomaly.BaselineConfig
	bc.MinSpread = anomaly.DefaultCountMinSpread
	if err := bc.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	cfg, _ := anomaly.DefaultCountConfig(anomaly.KindVScan)
	var r anomaly.Result
	for _, ports := range []float64{12, 40} {
		anomaly.Count(ports, anomaly.Baseline{}, 6, &bc, &cfg, &r)
		fmt.Printf("%.0f ports: %s hit %v, score %.2f, threshold %.0f\n", ports, r.Kind, r.Hit, r.Score, r.Threshold)
	}
	// Output:
	// 12 ports: vscan hit false, score 0.48, threshold 15
	// 40 ports: vscan hit true, score 0.57, threshold 15
}

// A host calls home every 60 s with requests of nearly the same size.
func ExampleBeacon() {
	b, err := anomaly.NewBeacon(anomaly.BeaconConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var times, sizes []float64
	jitter := []float64{0, 1, 2, 1}
	for i := range 29 {
		times = append(times, float64(i)*60+jitter[i%4])
		sizes = append(sizes, 320+float64(i%2)*4)
	}
	var r anomaly.Result
	b.Score(times, sizes, &r)
	fmt.Printf("%s: hit %v, regularity %.2f, period %.0f s\n", r.Kind, r.Hit, r.Value, r.Expected)
	for _, s := range r.Subs()[:2] {
		fmt.Printf("%s %.2f\n", s.Name, s.Value)
	}
	// Output:
	// beacon: hit true, regularity 1.00, period 60 s
	// timing 0.99
	// gap_skew 1.00
}

// Learned state is saved at shutdown and loaded at start; a file that
// cannot be used is reported and ignored.
func ExampleSaveStateFile() {
	dir, err := os.MkdirTemp("", "wherefore")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "learned.json")

	var bc anomaly.BaselineConfig
	bc.Validate()
	var b anomaly.Baseline
	for _, v := range []float64{1000, 1200, 900} {
		b.Update(v, &bc)
	}
	st := &anomaly.State{Baselines: map[string]anomaly.Baseline{"10.0.0.5": b}}
	if err := anomaly.SaveStateFile(path, st); err != nil {
		fmt.Println(err)
		return
	}
	got, err := anomaly.LoadStateFile(path)
	fmt.Println(err, got.Baselines["10.0.0.5"] == b)

	os.WriteFile(path, []byte(`{"format":"wherefore-anomaly-state","version":99}`), 0o600)
	if _, err := anomaly.LoadStateFile(path); err != nil {
		fmt.Println("ignored:", filepath.Base(path), errors.Is(err, anomaly.ErrStateVersion))
	}
	// Output:
	// <nil> true
	// ignored: learned.json true
}
