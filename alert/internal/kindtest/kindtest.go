// Package kindtest runs the tests every remote notifier must pass, through
// a real Dispatcher on a fake clock against an httptest server playing the
// remote API: 5xx then success, 4xx, 429 and 503 with Retry-After (seconds
// and date), Retry-After past the budget, a hanging server, a refused
// connection, a spool that survives a restart. Each notifier's own test
// calls Run with its Kind.
package kindtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// Kind builds one remote notifier against a test server, and knows its
// secrets and what success looks like.
type Kind struct {
	// Name is the notifier's name (and spool folder).
	Name string
	// Secrets must never appear in logs or errors.
	Secrets []string
	// OK is the server's answer to a delivered alert.
	OK notifytest.Reply
	// Make builds the notifier against the server at base.
	Make func(base string) (alert.Notifier, error)
}

// make builds the notifier, failing the test if it cannot.
func (k Kind) make(t *testing.T, base string) alert.Notifier {
	t.Helper()
	n, err := k.Make(base)
	if err != nil {
		t.Fatalf("%s: %v", k.Name, err)
	}
	return n
}

// Sample returns a firing alert like DESIGN.md's, for flow key src->dst at
// time end.
func Sample(key string, end time.Time) *alert.Alert {
	src, dst, _ := strings.Cut(key, "->")
	return &alert.Alert{
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

// Dispatcher returns a Dispatcher on a fake clock with fast retries
// (backoff 1s doubling, jitter fixed so a wait is 3/4 of it), a spool in a
// temporary directory, and its log buffer.
func Dispatcher(t *testing.T, adjust func(*alert.DispatcherConfig), local []alert.Notifier, remote ...alert.Notifier) (*alert.Dispatcher, *notifytest.FakeClock, *notifytest.SyncBuffer) {
	t.Helper()
	log, buf := notifytest.Logger()
	clock := notifytest.NewFakeClock(notifytest.T0)
	cfg := alert.DispatcherConfig{
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
	d, err := alert.NewDispatcher(cfg, local, remote)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d, clock, buf
}

// RemoteStats returns the stats of the named notifier.
func RemoteStats(t *testing.T, d *alert.Dispatcher, name string) alert.NotifierStats {
	t.Helper()
	for _, n := range d.Stats().Notifiers {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no stats for %s", name)
	return alert.NotifierStats{}
}

// Lines is a local notifier that writes each alert to W as a JSON line,
// as the jsonl record does (which the alert package's tests cannot
// import).
type Lines struct{ W *notifytest.SyncBuffer }

// Name returns "lines".
func (Lines) Name() string { return "lines" }

// Notify writes a as one JSON line.
func (l Lines) Notify(_ context.Context, a *alert.Alert) (bool, error) {
	return false, alert.EncodeJSON(l.W, a)
}

// Run runs every test of the suite for k.
func Run(t *testing.T, k Kind) {
	t.Run("failures", func(t *testing.T) { failures(t, k) })
	t.Run("submit does not wait for a hanging server", func(t *testing.T) { hanging(t, k) })
	t.Run("spool survives restart", func(t *testing.T) { spoolSurvivesRestart(t, k) })
	t.Run("close deadline spools", func(t *testing.T) { closeDeadlineSpools(t, k) })
}

func failures(t *testing.T, k Kind) {
	t.Run("500 then 200 is retried and delivered once", func(t *testing.T) {
		srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 500, Body: "oops"}, k.OK)
		n := k.make(t, srv.URL)
		d, clock, logs := Dispatcher(t, nil, nil, n)
		d.Submit(Sample(notifytest.SampleKey, notifytest.T0))
		if err := d.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := len(srv.Requests()); got != 2 {
			t.Errorf("%d requests, want 2", got)
		}
		st := RemoteStats(t, d, n.Name())
		if st.Delivered != 1 || st.Retried != 1 || st.Failed != 0 || st.SpoolDepth != 0 {
			t.Errorf("stats %+v", st)
		}
		if got := clock.Sleeps(); len(got) != 1 || got[0] != 750*time.Millisecond {
			t.Errorf("slept %v, want [750ms]", got)
		}
		if !strings.Contains(logs.String(), "HTTP 500") {
			t.Errorf("retry not logged with the status:\n%s", logs)
		}
		notifytest.NoSecrets(t, k.Secrets, logs.String())
	})
	t.Run("400 is not retried, logged and counted", func(t *testing.T) {
		srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 400, Body: "invalid_payload"})
		n := k.make(t, srv.URL)
		d, clock, logs := Dispatcher(t, nil, nil, n)
		d.Submit(Sample(notifytest.SampleKey, notifytest.T0))
		d.Close(context.Background())
		if got := len(srv.Requests()); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
		st := RemoteStats(t, d, n.Name())
		if st.Failed != 1 || st.Delivered != 0 || st.Retried != 0 || st.Spooled != 0 {
			t.Errorf("stats %+v", st)
		}
		if len(clock.Sleeps()) != 0 {
			t.Errorf("slept %v", clock.Sleeps())
		}
		l := logs.String()
		if !strings.Contains(l, "rejected") || !strings.Contains(l, "HTTP 400 Bad Request: invalid_payload") {
			t.Errorf("rejection not logged:\n%s", l)
		}
		notifytest.NoSecrets(t, k.Secrets, l)
	})
	t.Run("429 Retry-After seconds is waited as told", func(t *testing.T) {
		srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "7"}}, k.OK)
		n := k.make(t, srv.URL)
		d, clock, _ := Dispatcher(t, nil, nil, n)
		d.Submit(Sample(notifytest.SampleKey, notifytest.T0))
		d.Close(context.Background())
		if got := clock.Sleeps(); len(got) != 1 || got[0] != 7*time.Second {
			t.Errorf("slept %v, want [7s]", got)
		}
		if st := RemoteStats(t, d, n.Name()); st.Delivered != 1 || len(srv.Requests()) != 2 {
			t.Errorf("stats %+v after %d requests", st, len(srv.Requests()))
		}
	})
	t.Run("503 Retry-After HTTP date is waited as told", func(t *testing.T) {
		date := notifytest.T0.Add(30 * time.Second).Format(http.TimeFormat)
		srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 503, Header: map[string]string{"Retry-After": date}}, k.OK)
		n := k.make(t, srv.URL)
		d, clock, _ := Dispatcher(t, nil, nil, n)
		d.Submit(Sample(notifytest.SampleKey, notifytest.T0))
		d.Close(context.Background())
		if got := clock.Sleeps(); len(got) != 1 || got[0] != 30*time.Second {
			t.Errorf("slept %v, want [30s]", got)
		}
		if st := RemoteStats(t, d, n.Name()); st.Delivered != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("Retry-After beyond the budget spools", func(t *testing.T) {
		srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "3600"}})
		n := k.make(t, srv.URL)
		d, clock, _ := Dispatcher(t, nil, nil, n)
		d.Submit(Sample(notifytest.SampleKey, notifytest.T0))
		d.Close(context.Background())
		if len(clock.Sleeps()) != 0 || len(srv.Requests()) != 1 {
			t.Errorf("slept %v after %d requests", clock.Sleeps(), len(srv.Requests()))
		}
		if st := RemoteStats(t, d, n.Name()); st.SpoolDepth != 1 || st.Spooled != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("hanging server times out", func(t *testing.T) {
		srv := notifytest.NewPlayServer(t, notifytest.Reply{Hang: true})
		n := k.make(t, srv.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		retry, err := n.Notify(ctx, Sample(notifytest.SampleKey, notifytest.T0))
		var he *httpnotify.HTTPError
		if !retry || !errors.As(err, &he) || !he.Timeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Notify = %v, %v; want a retryable timeout", retry, err)
		}
		notifytest.NoSecrets(t, k.Secrets, err.Error(), fmt.Sprintf("%+v", err))
	})
	t.Run("connection refused is retryable and redacted", func(t *testing.T) {
		srv := notifytest.NewPlayServer(t)
		n := k.make(t, srv.URL)
		srv.Close()
		retry, err := n.Notify(context.Background(), Sample(notifytest.SampleKey, notifytest.T0))
		if !retry || err == nil {
			t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
		}
		notifytest.NoSecrets(t, k.Secrets, err.Error(), fmt.Sprintf("%+v", err))
	})
}

// hanging floods the Dispatcher while every
// remote endpoint hangs: Submit must return for every alert before the
// server is released, the per-notifier timeout must fire, and every alert
// must be in the local record and either delivered or spooled.
func hanging(t *testing.T, k Kind) {
	srv := notifytest.NewPlayServer(t, notifytest.Reply{Hang: true}, k.OK)
	n := k.make(t, srv.URL)
	var out notifytest.SyncBuffer
	d, _, logs := Dispatcher(t, func(c *alert.DispatcherConfig) {
		c.QueueSize = 8
		c.NotifyTimeout = 30 * time.Millisecond
		c.MaxAttempts = 2
	}, []alert.Notifier{Lines{&out}}, n)

	const total = 40
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			d.Submit(Sample(fmt.Sprintf("10.0.0.%d->203.0.113.9", i), notifytest.T0))
		}
	}()
	select {
	case <-srv.Entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw a request")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Submit blocked while the server hangs")
	}
	notifytest.WaitFor(t, "the timeout to be logged", func() bool {
		return strings.Contains(logs.String(), "deadline exceeded")
	})
	srv.Release()
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(out.Lines()); got != total {
		t.Errorf("%d alerts in the JSON-lines record, want %d", got, total)
	}
	st := RemoteStats(t, d, n.Name())
	if st.Delivered+uint64(st.SpoolDepth) != total || st.Dropped != 0 {
		t.Errorf("delivered %d + spooled %d != %d (stats %+v)", st.Delivered, st.SpoolDepth, total, st)
	}
	notifytest.NoSecrets(t, k.Secrets, logs.String())
}

// spoolSurvivesRestart: an alert spooled during an outage is delivered
// once by the next start.
func spoolSurvivesRestart(t *testing.T, k Kind) {
	srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 503, Body: "down"})
	spoolDir := t.TempDir()
	n := k.make(t, srv.URL)
	cfg := func(c *alert.DispatcherConfig) { c.SpoolDir = spoolDir; c.MaxAttempts = 3 }

	d1, _, logs1 := Dispatcher(t, cfg, nil, n)
	d1.Submit(Sample(notifytest.SampleKey, notifytest.T0))
	if err := d1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Requests()); got != 3 {
		t.Errorf("%d attempts during the outage, want 3", got)
	}
	st := RemoteStats(t, d1, n.Name())
	if st.Spooled != 1 || st.SpoolDepth != 1 || st.Delivered != 0 || st.Retried != 2 {
		t.Errorf("first run stats %+v", st)
	}
	files, _ := filepath.Glob(filepath.Join(spoolDir, n.Name(), "*.json"))
	if len(files) != 1 {
		t.Fatalf("spool holds %v, want one file", files)
	}

	srv.SetScript(k.OK) // the endpoint is back; the daemon restarts
	d2, _, logs2 := Dispatcher(t, cfg, nil, k.make(t, srv.URL))
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	d3, _, _ := Dispatcher(t, cfg, nil, k.make(t, srv.URL))
	d3.Close(context.Background())

	reqs := srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests in all, want 3 failed + 1 delivered", len(reqs))
	}
	if !bytes.Equal(reqs[3].Body, reqs[0].Body) {
		t.Errorf("redelivered\n%s\nwant the request of the first attempt\n%s", reqs[3].Body, reqs[0].Body)
	}
	if st := RemoteStats(t, d2, n.Name()); st.Delivered != 1 || st.Resent != 1 || st.SpoolDepth != 0 {
		t.Errorf("second run stats %+v", st)
	}
	if left, _ := os.ReadDir(filepath.Join(spoolDir, n.Name())); len(left) != 0 {
		t.Errorf("spool not emptied: %v", left)
	}
	notifytest.NoSecrets(t, k.Secrets, logs1.String(), logs2.String())
}

// closeDeadlineSpools shuts down while the endpoint hangs: what is in
// flight or queued is spooled when the deadline passes, and delivered once
// at the next start.
func closeDeadlineSpools(t *testing.T, k Kind) {
	srv := notifytest.NewPlayServer(t, notifytest.Reply{Hang: true})
	spoolDir := t.TempDir()
	cfg := func(c *alert.DispatcherConfig) { c.SpoolDir = spoolDir; c.NotifyTimeout = time.Minute }
	d1, _, _ := Dispatcher(t, cfg, nil, k.make(t, srv.URL))
	for i := range 3 {
		d1.Submit(Sample(fmt.Sprintf("10.0.0.%d->203.0.113.9", i), notifytest.T0))
	}
	<-srv.Entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := d1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := RemoteStats(t, d1, k.Name); st.SpoolDepth != 3 {
		t.Fatalf("stats after deadline %+v, want 3 spooled", st)
	}
	srv.SetScript(k.OK)
	d2, _, _ := Dispatcher(t, cfg, nil, k.make(t, srv.URL))
	d2.Close(context.Background())
	if st := RemoteStats(t, d2, k.Name); st.Delivered != 3 || st.SpoolDepth != 0 {
		t.Errorf("second run stats %+v", st)
	}
	if got := len(srv.Requests()); got != 4 {
		t.Errorf("%d requests, want 1 hung + 3 delivered", got)
	}
}

// SampleWithReason is the sample alert as a detector with a reason raises
// it: a new destination, with what was expected and the sentence every
// notifier must show.
func SampleWithReason() *alert.Alert {
	a := Sample(notifytest.SampleKey, notifytest.T0)
	a.Detector = "surge"
	a.Kind = alert.KindNewDestination
	a.Scope = alert.ScopePair
	a.Threshold = 2_500_000
	a.Expected = 30_000
	a.Reason = "10.0.0.5 sent 64.0 MB to 203.0.113.9, a destination it never used before, in 5 s; its uploads usually total 30.0 kB per 5 s"
	a.DistinctDsts = 1
	a.DistinctPorts = 2
	a.SamplePorts = []uint16{443, 8443}
	a.SamplePeers = []string{"203.0.113.9"}
	return a
}

// Payloads sends the sample alert without and with a reason through the
// notifier made by k, and returns the request bodies the server got, keyed
// "volume" and "reason", for golden-file tests.
func Payloads(t *testing.T, k Kind) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, a := range map[string]*alert.Alert{"volume": Sample(notifytest.SampleKey, notifytest.T0), "reason": SampleWithReason()} {
		srv := notifytest.NewPlayServer(t, k.OK)
		n := k.make(t, srv.URL)
		if _, err := n.Notify(context.Background(), a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests", name, len(reqs))
		}
		out[name] = reqs[0].Body
	}
	return out
}

// GoldenPayloads is Payloads, each body checked against (or, with
// notifytest.UpdateGolden set, written to) testdata/<name>.golden.json of
// the calling package.
func GoldenPayloads(t *testing.T, k Kind) map[string][]byte {
	t.Helper()
	p := Payloads(t, k)
	for name, body := range p {
		notifytest.Golden(t, filepath.Join("testdata", name+".golden.json"), body)
	}
	return p
}

// FireAndResolve sends n the sample alert and, 30 s later, its
// resolution, failing the test if either is not accepted; it returns both
// for comparison with what the server received.
func FireAndResolve(t *testing.T, n alert.Notifier) (firing, resolved *alert.Alert) {
	t.Helper()
	firing = Sample(notifytest.SampleKey, notifytest.T0)
	resolved = Sample(notifytest.SampleKey, notifytest.T0.Add(30*time.Second))
	resolved.Resolved = true
	for _, a := range []*alert.Alert{firing, resolved} {
		if _, err := n.Notify(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return firing, resolved
}
