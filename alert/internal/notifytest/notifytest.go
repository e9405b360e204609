// Package notifytest holds what the tests of the dispatcher and of every
// notifier share: an httptest server that plays a remote API from a script
// (failures included), a fake clock, a logger whose output a test reads,
// and the sample alert.
package notifytest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// T0 is the end of the alerted interval in sample alerts.
var T0 = time.Date(2026, 11, 22, 10, 0, 5, 0, time.UTC)

// SampleKey is the flow of the sample alert.
const SampleKey = "10.0.0.5->203.0.113.9"

// NoSecrets fails when any secret shows in any of texts.
func NoSecrets(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("secret %q appears in %q", s, txt)
			}
		}
	}
}

// FakeClock is a Clock whose time moves only when told, or when something
// sleeps on it (the sleep returns at once and moves time on).
type FakeClock struct {
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

func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now, armed: make(chan struct{}, 100)}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d and moves the clock on by d at once.
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.Advance(d)
	return nil
}

// After returns a channel that receives once the clock has been moved d on.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
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
func (c *FakeClock) Advance(d time.Duration) {
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

// Armed receives a value whenever After was called: a timer was set.
func (c *FakeClock) Armed() <-chan struct{} { return c.armed }

// Sleeps lists the waits Sleep was asked for, in order.
func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// SyncBuffer is a bytes.Buffer safe for the concurrent writers and readers
// of a test.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns the complete lines written so far.
func (s *SyncBuffer) Lines() []string {
	out := strings.Split(strings.TrimRight(s.String(), "\n"), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

// Logger returns a logger writing JSON entries at debug level to a
// buffer the test can read.
func Logger() (*logrus.Logger, *SyncBuffer) {
	buf := &SyncBuffer{}
	l := logrus.New()
	l.SetOutput(buf)
	l.SetLevel(logrus.DebugLevel)
	l.SetFormatter(&logrus.JSONFormatter{})
	return l, buf
}

// Request is what a test server received.
type Request struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         []byte
}

// Reply is what a test server answers, in order; the last one repeats.
type Reply struct {
	Status int
	Header map[string]string
	Body   string
	Hang   bool // block until the client gives up or the test releases
}

// PlayServer is an httptest server that plays a remote API: it records
// every request and answers from a script.
type PlayServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []Request
	script  []Reply
	release chan struct{}
	Entered chan struct{} // gets a value when a hanging Request arrives
}

func NewPlayServer(t *testing.T, script ...Reply) *PlayServer {
	t.Helper()
	p := &PlayServer{script: script, release: make(chan struct{}), Entered: make(chan struct{}, 1000)}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.Release()
		p.Close()
	})
	return p
}

func (p *PlayServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.reqs = append(p.reqs, Request{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body,
	})
	rep := Reply{Status: http.StatusOK}
	if n := len(p.reqs); len(p.script) > 0 {
		rep = p.script[min(n, len(p.script))-1]
	}
	p.mu.Unlock()
	if rep.Hang {
		p.Entered <- struct{}{}
		select {
		case <-p.release:
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	if rep.Status == 0 {
		rep.Status = http.StatusOK
	}
	w.WriteHeader(rep.Status)
	io.WriteString(w, rep.Body)
}

// SetScript replaces the replies from the next request on.
func (p *PlayServer) SetScript(script ...Reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := make([]Reply, len(p.reqs))
	for i := range pad {
		pad[i] = Reply{Status: http.StatusOK}
	}
	p.script = append(pad, script...)
}

// Release unblocks hanging requests, once.
func (p *PlayServer) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

// Requests returns the requests received so far, in order.
func (p *PlayServer) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// WaitFor polls cond until it holds, failing the test after a while.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// UpdateGolden is the environment variable that makes Golden rewrite the
// files instead of comparing: WHEREFORE_UPDATE_GOLDEN=1 go test ./alert/...
const UpdateGolden = "WHEREFORE_UPDATE_GOLDEN"

// Golden compares got with the file at path (under the test's testdata/),
// or rewrites the file when UpdateGolden is set.
func Golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if os.Getenv(UpdateGolden) != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with %s=1 to create it)", err, UpdateGolden)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("payload differs from %s (run with %s=1 to accept):\ngot:\n%s\nwant:\n%s", path, UpdateGolden, got, want)
	}
}
