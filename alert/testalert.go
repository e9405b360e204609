package alert

import (
	"context"
	"sync"
	"time"
)

// TestKey is the flow key of the test alert. It is not an address pair, so
// it can never merge with a real flow's incident (PagerDuty dedup key,
// OpsGenie alias).
const TestKey = "test->test"

// NewTestAlert returns the alert `wherefore -test_alert` sends: Test set,
// key TestKey, src and dst "test", and made-up but plausible values (64 MB
// in a 5 s interval against a typical 1.2 kB) so every part of a message
// can be seen. Notifiers mark it as a test that needs no action.
func NewTestAlert(host string, now time.Time) *Alert {
	end := now.UTC().Truncate(time.Second)
	return &Alert{
		Time:            end,
		IntervalStart:   end.Add(-5 * time.Second),
		IntervalSeconds: 5,
		Key:             TestKey,
		Src:             "test",
		Dst:             "test",
		Bytes:           64_000_000,
		Packets:         44_000,
		Series:          []float64{1200, 900, 1500, 1100, 1300, 800, 1250, 64_000_000},
		Probability:     0.97,
		Tests:           map[string]float64{"magnitude": 1, "fence": 1, "rank": 0.9},
		Detector:        "test",
		Host:            host,
		Baseline:        1200,
		Test:            true,
	}
}

// TestResult is the outcome of the test alert at one notifier.
type TestResult struct {
	// Notifier is the notifier's name.
	Notifier string
	// Err is nil when the notifier accepted the alert, else its exact
	// (redacted) error.
	Err error
	// Retryable reports whether the notifier judged the failure temporary
	// (a timeout, a 5xx, 429).
	Retryable bool
	// Elapsed is how long the attempt took.
	Elapsed time.Duration
}

// OK reports whether the test alert was delivered.
func (r TestResult) OK() bool { return r.Err == nil }

// TestAlert sends NewTestAlert(host, now) once through every notifier (all
// at once, each bounded by timeout, no retries, no dispatcher) and returns
// one result per notifier, in their order: what `wherefore -test_alert`
// prints.
func TestAlert(ctx context.Context, host string, timeout time.Duration, notifiers []Notifier) []TestResult {
	a := NewTestAlert(host, time.Now())
	out := make([]TestResult, len(notifiers))
	var wg sync.WaitGroup
	for i, n := range notifiers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			nctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			retry, err := n.Notify(nctx, a)
			out[i] = TestResult{Notifier: n.Name(), Err: err, Retryable: err != nil && retry, Elapsed: time.Since(start)}
		}()
	}
	wg.Wait()
	return out
}
