package alert

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// t0 is the end of the alerted interval in the sample alerts.
var t0 = time.Date(2026, 11, 22, 10, 0, 5, 0, time.UTC)

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

const sampleKey = "10.0.0.5->203.0.113.9"

// fakeClock is a Clock whose time moves only when told, or when something
// sleeps on it (the sleep returns at once and moves time on).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []time.Duration
	waiters []fakeWaiter
	armed   chan struct{} // gets a value whenever After is called
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, armed: make(chan struct{}, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.Advance(d)
	return nil
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	select {
	case c.armed <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves time on by d, firing the After channels that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writers and readers
// of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns the complete lines written so far.
func (s *syncBuffer) Lines() []string {
	out := strings.Split(strings.TrimRight(s.String(), "\n"), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

// testLogger returns a logger writing JSON entries at debug level to a
// buffer the test can read.
func testLogger() (*logrus.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	l := logrus.New()
	l.SetOutput(buf)
	l.SetLevel(logrus.DebugLevel)
	l.SetFormatter(&logrus.JSONFormatter{})
	return l, buf
}

// request is what a test server received.
type request struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         []byte
}

// reply is what a test server answers, in order; the last one repeats.
type reply struct {
	status int
	header map[string]string
	body   string
	hang   bool // block until the client gives up or the test releases
}

// playServer is an httptest server that plays a remote API: it records
// every request and answers from a script.
type playServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	script  []reply
	release chan struct{}
	entered chan struct{} // gets a value when a hanging request arrives
}

func newPlayServer(t *testing.T, script ...reply) *playServer {
	t.Helper()
	p := &playServer{script: script, release: make(chan struct{}), entered: make(chan struct{}, 1000)}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.Release()
		p.Close()
	})
	return p
}

func (p *playServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.reqs = append(p.reqs, request{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body,
	})
	rep := reply{status: http.StatusOK}
	if n := len(p.reqs); len(p.script) > 0 {
		rep = p.script[min(n, len(p.script))-1]
	}
	p.mu.Unlock()
	if rep.hang {
		p.entered <- struct{}{}
		select {
		case <-p.release:
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

// SetScript replaces the replies from the next request on.
func (p *playServer) SetScript(script ...reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := make([]reply, len(p.reqs))
	for i := range pad {
		pad[i] = reply{status: http.StatusOK}
	}
	p.script = append(pad, script...)
}

// Release unblocks hanging requests, once.
func (p *playServer) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

func (p *playServer) Requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.reqs...)
}

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

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
