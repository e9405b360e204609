package main

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
)

// hookServer plays a webhook receiver that can be told to fail; it counts
// the alerts it accepted by the dedup key receivers use (host, flow and
// interval), and every request it saw.
type hookServer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	status   int
	requests int
	accepted map[string]int
}

func newHookServer(t *testing.T, status int) *hookServer {
	t.Helper()
	h := &hookServer{status: status, accepted: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		if h.status >= 300 {
			w.WriteHeader(h.status)
			return
		}
		var a alert.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.accepted[a.Host+":"+a.Key+"@"+a.Time.UTC().Format(time.RFC3339)]++
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) set(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status = status
}

func (h *hookServer) counts() (requests int, accepted map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	acc := make(map[string]int, len(h.accepted))
	for k, v := range h.accepted {
		acc[k] = v
	}
	return h.requests, acc
}

// emptyCapture writes a capture file with a header and no packets: a run
// on it raises nothing, so whatever a notifier receives comes from the
// spool.
func emptyCapture(t *testing.T) string {
	t.Helper()
	_, path := newTestPcap(t, "empty.pcap", 65535)
	return path
}

// killDuringRetry feeds the demo capture through standard input to a
// daemon whose webhook answers 503, and SIGKILLs it once the first
// attempt failed: the alert is then in its retry window.
func killDuringRetry(t *testing.T, logDir string, hook *hookServer) {
	t.Helper()
	data, err := os.ReadFile("testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	cmd, in, _, stderr := startDaemon(t, true, "-pcapfile", "-", "-host", "h1", "-l", logDir,
		"-webhook_url", hook.srv.URL+"/hook", "-notify_retry_budget", "10m")
	if _, err := in.Write(data); err != nil {
		t.Fatal(err)
	}
	// End of input closes the last interval, which raises the demo's alert.
	in.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, _ := hook.counts(); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook saw no attempt within 30s:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// restart runs the daemon on a capture that raises nothing, with the
// same log directory, and returns its standard error.
func restart(t *testing.T, logDir, hookURL string) string {
	t.Helper()
	r := runWherefore(t, "-pcapfile", emptyCapture(t), "-host", "h1", "-l", logDir, "-webhook_url", hookURL)
	if r.code != 0 {
		t.Fatalf("restart exited %d:\n%s", r.code, r.stderr)
	}
	return r.stderr
}

// onlyOnce fails unless exactly one alert was accepted, exactly once.
func onlyOnce(t *testing.T, h *hookServer) {
	t.Helper()
	_, acc := h.counts()
	if len(acc) != 1 {
		t.Fatalf("accepted alerts %v, want the demo's one", acc)
	}
	for k, n := range acc {
		if n != 1 || !strings.Contains(k, "10.0.1.23->203.0.113.77") {
			t.Fatalf("accepted %s %d times, want the demo's alert once", k, n)
		}
	}
}

// SIGKILL while a webhook delivery is being retried, then a restart with
// the endpoint back: the alert arrives exactly once.
func TestSIGKILLDuringRetryThenRestartDeliversOnce(t *testing.T) {
	hook := newHookServer(t, http.StatusServiceUnavailable)
	logDir := t.TempDir()
	killDuringRetry(t, logDir, hook)
	if _, acc := hook.counts(); len(acc) != 0 {
		t.Fatalf("accepted %v while answering 503", acc)
	}
	hook.set(http.StatusOK)
	stderr := restart(t, logDir, hook.srv.URL+"/hook")
	onlyOnce(t, hook)
	if !strings.Contains(stderr, "1 delivered (1 re-sent from the spool of an earlier run)") {
		t.Errorf("summary does not report the re-sent alert:\n%s", stderr)
	}
	// A third start has nothing left to send.
	restart(t, logDir, hook.srv.URL+"/hook")
	onlyOnce(t, hook)
}

// The webhook's URL changes between the crash and the restart: the
// spooled alert goes to the new URL, and the log says what was re-sent.
func TestURLChangeResendsSpooledAlertToNewURL(t *testing.T) {
	old := newHookServer(t, http.StatusServiceUnavailable)
	logDir := t.TempDir()
	killDuringRetry(t, logDir, old)
	oldRequests, _ := old.counts()

	moved := newHookServer(t, http.StatusOK)
	stderr := restart(t, logDir, moved.srv.URL+"/new-hook")
	onlyOnce(t, moved)
	if n, acc := old.counts(); n != oldRequests || len(acc) != 0 {
		t.Errorf("old URL got %d more requests after the change", n-oldRequests)
	}
	if !strings.Contains(stderr, "re-sending alerts spooled by an earlier run") {
		t.Errorf("the restart does not say it re-sends spooled alerts:\n%s", stderr)
	}
	if strings.Contains(stderr, moved.srv.URL) || strings.Contains(stderr, old.srv.URL) {
		t.Errorf("a webhook URL was printed:\n%s", stderr)
	}
}

// A reload tells which secrets changed without showing them: the flags'
// values are Secrets, found by type, not by a list of names.
func TestReloadReportsSecretChangesWithoutValues(t *testing.T) {
	parse := func(args ...string) *flag.FlagSet {
		t.Helper()
		_, fs, _, err := parseFlagSet(args)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	old := parse("-slack_url", "https://hooks.example/OLDSLACKTOKEN", "-pagerduty_routing_key", "SAMEPDKEY0123",
		"-webhook_url", "https://a.example/OLDHOOKTOKEN", "-webhook_header", "Authorization: Bearer OLDHEADERTOKEN")
	new := parse("-slack_url", "https://hooks.example/NEWSLACKTOKEN", "-pagerduty_routing_key", "SAMEPDKEY0123",
		"-webhook_url", "https://a.example/NEWHOOKTOKEN", "-webhook_header", "Authorization: Bearer OLDHEADERTOKEN")
	reload, restart := changedFlags(old, new)
	want := []string{"slack_url: changed", "webhook_url: changed"}
	if strings.Join(reload, "|") != strings.Join(want, "|") || len(restart) != 0 {
		t.Fatalf("changes %q (restart %q), want %q", reload, restart, want)
	}
	for _, v := range []string{"TOKEN", "SAMEPDKEY"} {
		if strings.Contains(strings.Join(reload, " "), v) {
			t.Errorf("a secret shows in %q", reload)
		}
	}
}

// A file-mode run whose webhook is down says in its summary what it kept
// for the next start, as its log does.
func TestSummaryCountsWhatWasSpooled(t *testing.T) {
	hook := newHookServer(t, http.StatusServiceUnavailable)
	r := runWherefore(t, "-pcapfile", "testdata/demo.pcap", "-host", "h1", "-l", t.TempDir(),
		"-webhook_url", hook.srv.URL+"/hook", "-notify_retry_budget", "1s")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"0 delivered, 0 failed,",
		"1 spooled for a later attempt, 0 dropped",
		"1 alerts wait in the spool for the next start",
		"undelivered alerts spooled for the next start",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
