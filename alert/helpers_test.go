package alert

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// t0 is the end of the alerted interval in the sample alerts.
var t0 = notifytest.T0

// sample returns a firing alert like DESIGN.md's, for flow key src->dst at
// time end.
func sample(key string, end time.Time) *Alert {
	src, dst, _ := strings.Cut(key, "->")
	return &Alert{
		Time:            end,
		IntervalStart:   end.Add(-5 * time.Second),
		IntervalSeconds: 5,
		Key:             key,
		Src:             src,
		Dst:             dst,
		Bytes:           64_000_000,
		Packets:         44_000,
		Series:          []float64{1200, 900, 1500, 64_000_000},
		Probability:     0.97,
		Tests:           map[string]float64{"magnitude": 1, "fence": 1, "rank": 0.9, "ks": 0.2},
		Detector:        "anomalyzer",
		Host:            "web-3",
		Baseline:        1200,
	}
}

const sampleKey = notifytest.SampleKey

// recorder is a Notifier that remembers what it was sent; fail, when set,
// decides the answer per call.
type recorder struct {
	name       string
	mu         sync.Mutex
	got        []*Alert
	fail       func(n int, a *Alert) (bool, error)
	noResolved bool
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Notify(_ context.Context, a *Alert) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if retry, err := r.fail(len(r.got), a); err != nil {
			return retry, err
		}
	}
	r.got = append(r.got, a)
	return false, nil
}

func (r *recorder) SendResolved() bool { return !r.noResolved }

func (r *recorder) Got() []*Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Alert(nil), r.got...)
}

// keys lists the keys of alerts (summaries as "summary:N"), resolved ones
// suffixed with "/resolved".
func keys(as []*Alert) []string {
	var out []string
	for _, a := range as {
		k := a.Key
		switch {
		case a.IsSummary():
			k = "summary"
		case a.Resolved:
			k += "/resolved"
		}
		out = append(out, k)
	}
	return out
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// Short names for the shared test helpers.
type (
	fakeClock  = notifytest.FakeClock
	syncBuffer = notifytest.SyncBuffer
)

func newFakeClock(now time.Time) *fakeClock { return notifytest.NewFakeClock(now) }

func testLogger() (*logrus.Logger, *syncBuffer) { return notifytest.Logger() }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	notifytest.WaitFor(t, what, cond)
}

// lines is a local notifier that writes each alert as a JSON line, as the
// jsonl record does (which this package's tests cannot import).
type lines struct{ w *syncBuffer }

func (lines) Name() string { return "lines" }

func (l lines) Notify(_ context.Context, a *Alert) (bool, error) {
	return false, EncodeJSON(l.w, a)
}

// testDispatcher returns a Dispatcher on a fake clock with fast retries
// (backoff 1s doubling, jitter fixed so a wait is 3/4 of it), a spool in a
// temporary directory, and its log buffer.
func testDispatcher(t *testing.T, adjust func(*DispatcherConfig), local []Notifier, remote ...Notifier) (*Dispatcher, *fakeClock, *syncBuffer) {
	t.Helper()
	log, buf := testLogger()
	clock := newFakeClock(t0)
	cfg := DispatcherConfig{
		QueueSize:     16,
		NotifyTimeout: 2 * time.Second,
		RetryBudget:   time.Minute,
		MaxAttempts:   5,
		RetryInitial:  time.Second,
		RetryMax:      8 * time.Second,
		SpoolDir:      t.TempDir(),
		Logger:        log,
		Clock:         clock,
		Jitter:        func() float64 { return 0.5 },
	}
	if adjust != nil {
		adjust(&cfg)
	}
	d, err := NewDispatcher(cfg, local, remote)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d, clock, buf
}

// remoteStats returns the stats of the named notifier.
func remoteStats(t *testing.T, d *Dispatcher, name string) NotifierStats {
	t.Helper()
	for _, n := range d.Stats().Notifiers {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no stats for %s", name)
	return NotifierStats{}
}
