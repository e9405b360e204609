package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wherefore/wherefore/alert"
)

// recorder is an httptest server standing in for a notification service.
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
	paths  []string
	status int
}

func newRecorder(t *testing.T, status int) *recorder {
	r := &recorder{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.paths = append(r.paths, req.URL.Path)
		r.mu.Unlock()
		w.WriteHeader(r.status)
		if strings.HasPrefix(req.URL.Path, "/v2/enqueue") {
			io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
		} else if r.status < 300 {
			io.WriteString(w, "ok")
		} else {
			io.WriteString(w, `{"error":"bad request"}`)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// The demo capture, analysed with Slack, PagerDuty and a webhook configured
// (secrets from the environment and a file), reaches each exactly once, and
// no secret shows up in what the process prints.
func TestDemoAlertReachesEveryNotifierOnce(t *testing.T) {
	slack := newRecorder(t, 200)
	pd := newRecorder(t, 202)
	hook := newRecorder(t, 200)
	const slackToken = "T0000/B0000/SLACKSECRETTOKEN"
	const routingKey = "ROUTINGKEYSECRET0123456789abcd"
	keyFile := filepath.Join(t.TempDir(), "pd-key")
	if err := os.WriteFile(keyFile, []byte(routingKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "-pcapfile", "testdata/demo.pcap", "-host", "demo",
		"-pagerduty_routing_key_file", keyFile, "-pagerduty_url", pd.srv.URL+"/v2/enqueue",
		"-webhook_url", hook.srv.URL+"/hook", "-webhook_secret", "hooksecret")
	cmd.Env = append(os.Environ(), "WHEREFORE_SLACK_URL="+slack.srv.URL+"/services/"+slackToken)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	stderr := errb.String()
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	alerts := parseAlerts(t, string(out))
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	key := alerts[0].Key

	for name, r := range map[string]*recorder{"slack": slack, "pagerduty": pd, "webhook": hook} {
		got := r.received()
		if len(got) != 1 {
			t.Fatalf("%s received %d requests, want 1: %v", name, len(got), got)
		}
		if !strings.Contains(got[0], "10.0.1.23") || !strings.Contains(got[0], "203.0.113.77") {
			t.Errorf("%s body does not name the flow: %s", name, got[0])
		}
	}
	var a alert.Alert
	if err := json.Unmarshal([]byte(hook.received()[0]), &a); err != nil || a.Key != key || a.Bytes != alerts[0].Bytes {
		t.Errorf("webhook body is not the alert record: %v %s", err, hook.received()[0])
	}
	var ev struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
	}
	if err := json.Unmarshal([]byte(pd.received()[0]), &ev); err != nil || ev.RoutingKey != routingKey || ev.EventAction != "trigger" || !strings.Contains(ev.DedupKey, key) {
		t.Errorf("pagerduty event %+v (%v)", ev, err)
	}
	if slack.paths[0] != "/services/"+slackToken {
		t.Errorf("slack path %s", slack.paths[0])
	}
	for _, secret := range []string{slackToken, routingKey, "hooksecret"} {
		if strings.Contains(stderr, secret) || strings.Contains(string(out), secret) {
			t.Errorf("secret %q printed", secret)
		}
	}
}

func TestTestAlertReportsEachNotifier(t *testing.T) {
	good := newRecorder(t, 200)
	bad := newRecorder(t, 400)
	const token = "SECRETWEBHOOKTOKEN"
	r := runWherefore(t, "-test_alert", "-host", "h1", "-webhook_url", good.srv.URL+"/ok", "-webhook_url", bad.srv.URL+"/"+token)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (one notifier failed): %s %s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ok") || !strings.HasPrefix(lines[1], "FAIL") || !strings.Contains(lines[1], "400") {
		t.Fatalf("report:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Fatalf("secret URL printed:\n%s\n%s", r.stdout, r.stderr)
	}
	var a alert.Alert
	if err := json.Unmarshal([]byte(good.received()[0]), &a); err != nil || !a.Test || a.Host != "h1" {
		t.Fatalf("test alert %s (%v)", good.received()[0], err)
	}
	if r := runWherefore(t, "-test_alert"); r.code != 2 || !strings.Contains(r.stdout, "no notifier configured") {
		t.Fatalf("without notifiers: exit %d %s", r.code, r.stdout)
	}
}
