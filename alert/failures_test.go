package alert

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// kind builds one remote notifier against a test server, and knows its
// secrets and what success looks like.
type kind struct {
	name    string
	secrets []string
	ok      reply
	make    func(t *testing.T, base string) Notifier
}

func kinds() []kind {
	jsonOK := func(status int, body string) reply {
		return reply{status: status, header: map[string]string{"Content-Type": "application/json"}, body: body}
	}
	return []kind{
		{
			name:    "slack",
			secrets: []string{"SLACKSECRET123"},
			ok:      reply{status: 200, body: "ok"},
			make: func(t *testing.T, base string) Notifier {
				n, err := NewSlack(SlackConfig{URL: base + slackPath, Username: "wherefore"}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return n
			},
		},
		{
			name:    "pagerduty",
			secrets: []string{pdKey},
			ok:      jsonOK(202, `{"status":"success","message":"Event processed"}`),
			make: func(t *testing.T, base string) Notifier {
				n, err := NewPagerDuty(PagerDutyConfig{RoutingKey: pdKey, URL: base + "/v2/enqueue", AutoResolve: true}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return n
			},
		},
		{
			name:    "webhook",
			secrets: []string{"WEBHOOKTOKENSECRET", "HMACSECRET", "HEADERSECRET"},
			ok:      reply{status: 200},
			make: func(t *testing.T, base string) Notifier {
				ws, err := NewWebhooks(WebhookConfig{
					URLs:    []string{base + "/hook?token=WEBHOOKTOKENSECRET"},
					Secret:  "HMACSECRET",
					Headers: []string{"Authorization: Bearer HEADERSECRET"},
				}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return ws[0]
			},
		},
		{
			name:    "opsgenie",
			secrets: []string{"GENIEKEYSECRET"},
			ok:      jsonOK(202, `{"result":"Request will be processed"}`),
			make: func(t *testing.T, base string) Notifier {
				n, err := NewOpsGenie(OpsGenieConfig{APIKey: "GENIEKEYSECRET", URL: base}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return n
			},
		},
	}
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

// noSecrets fails when any secret shows in any of texts.
func noSecrets(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("secret %q appears in %q", s, txt)
			}
		}
	}
}

func TestNotifierFailures(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Run("500 then 200 is retried and delivered once", func(t *testing.T) {
				srv := newPlayServer(t, reply{status: 500, body: "oops"}, k.ok)
				n := k.make(t, srv.URL)
				d, clock, logs := testDispatcher(t, nil, nil, n)
				d.Submit(sample(sampleKey, t0))
				if err := d.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got := len(srv.Requests()); got != 2 {
					t.Errorf("%d requests, want 2", got)
				}
				st := remoteStats(t, d, n.Name())
				if st.Delivered != 1 || st.Retried != 1 || st.Failed != 0 || st.SpoolDepth != 0 {
					t.Errorf("stats %+v", st)
				}
				if got := clock.Sleeps(); len(got) != 1 || got[0] != 750*time.Millisecond {
					t.Errorf("slept %v, want [750ms]", got)
				}
				if !strings.Contains(logs.String(), "HTTP 500") {
					t.Errorf("retry not logged with the status:\n%s", logs)
				}
				noSecrets(t, k.secrets, logs.String())
			})
			t.Run("400 is not retried, logged and counted", func(t *testing.T) {
				srv := newPlayServer(t, reply{status: 400, body: "invalid_payload"})
				n := k.make(t, srv.URL)
				d, clock, logs := testDispatcher(t, nil, nil, n)
				d.Submit(sample(sampleKey, t0))
				d.Close(context.Background())
				if got := len(srv.Requests()); got != 1 {
					t.Errorf("%d requests, want 1", got)
				}
				st := remoteStats(t, d, n.Name())
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
				noSecrets(t, k.secrets, l)
			})
			t.Run("429 Retry-After seconds is waited as told", func(t *testing.T) {
				srv := newPlayServer(t, reply{status: 429, header: map[string]string{"Retry-After": "7"}}, k.ok)
				n := k.make(t, srv.URL)
				d, clock, _ := testDispatcher(t, nil, nil, n)
				d.Submit(sample(sampleKey, t0))
				d.Close(context.Background())
				if got := clock.Sleeps(); len(got) != 1 || got[0] != 7*time.Second {
					t.Errorf("slept %v, want [7s]", got)
				}
				if st := remoteStats(t, d, n.Name()); st.Delivered != 1 || len(srv.Requests()) != 2 {
					t.Errorf("stats %+v after %d requests", st, len(srv.Requests()))
				}
			})
			t.Run("503 Retry-After HTTP date is waited as told", func(t *testing.T) {
				date := t0.Add(30 * time.Second).Format(http.TimeFormat)
				srv := newPlayServer(t, reply{status: 503, header: map[string]string{"Retry-After": date}}, k.ok)
				n := k.make(t, srv.URL)
				d, clock, _ := testDispatcher(t, nil, nil, n)
				d.Submit(sample(sampleKey, t0))
				d.Close(context.Background())
				if got := clock.Sleeps(); len(got) != 1 || got[0] != 30*time.Second {
					t.Errorf("slept %v, want [30s]", got)
				}
				if st := remoteStats(t, d, n.Name()); st.Delivered != 1 {
					t.Errorf("stats %+v", st)
				}
			})
			t.Run("Retry-After beyond the budget spools", func(t *testing.T) {
				srv := newPlayServer(t, reply{status: 429, header: map[string]string{"Retry-After": "3600"}})
				n := k.make(t, srv.URL)
				d, clock, _ := testDispatcher(t, nil, nil, n)
				d.Submit(sample(sampleKey, t0))
				d.Close(context.Background())
				if len(clock.Sleeps()) != 0 || len(srv.Requests()) != 1 {
					t.Errorf("slept %v after %d requests", clock.Sleeps(), len(srv.Requests()))
				}
				if st := remoteStats(t, d, n.Name()); st.SpoolDepth != 1 || st.Spooled != 1 {
					t.Errorf("stats %+v", st)
				}
			})
			t.Run("hanging server times out", func(t *testing.T) {
				srv := newPlayServer(t, reply{hang: true})
				n := k.make(t, srv.URL)
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				retry, err := n.Notify(ctx, sample(sampleKey, t0))
				var he *HTTPError
				if !retry || !errors.As(err, &he) || !he.Timeout || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Notify = %v, %v; want a retryable timeout", retry, err)
				}
				noSecrets(t, k.secrets, err.Error(), fmt.Sprintf("%+v", err))
			})
			t.Run("connection refused is retryable and redacted", func(t *testing.T) {
				srv := newPlayServer(t)
				n := k.make(t, srv.URL)
				srv.Close()
				retry, err := n.Notify(context.Background(), sample(sampleKey, t0))
				if !retry || err == nil {
					t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
				}
				noSecrets(t, k.secrets, err.Error(), fmt.Sprintf("%+v", err))
			})
		})
	}
}

// TestSubmitDoesNotWaitForHangingServer floods the Dispatcher while every
// remote endpoint hangs: Submit must return for every alert before the
// server is released, the per-notifier timeout must fire, and every alert
// must be in the local record and either delivered or spooled.
func TestSubmitDoesNotWaitForHangingServer(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			srv := newPlayServer(t, reply{hang: true}, k.ok)
			n := k.make(t, srv.URL)
			var out syncBuffer
			d, _, logs := testDispatcher(t, func(c *DispatcherConfig) {
				c.QueueSize = 8
				c.NotifyTimeout = 30 * time.Millisecond
				c.MaxAttempts = 2
			}, []Notifier{NewJSONL(&out)}, n)

			const total = 40
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range total {
					d.Submit(sample(fmt.Sprintf("10.0.0.%d->203.0.113.9", i), t0))
				}
			}()
			select {
			case <-srv.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the server never saw a request")
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Submit blocked while the server hangs")
			}
			waitFor(t, "the timeout to be logged", func() bool {
				return strings.Contains(logs.String(), "deadline exceeded")
			})
			srv.Release()
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := len(out.Lines()); got != total {
				t.Errorf("%d alerts in the JSON-lines record, want %d", got, total)
			}
			st := remoteStats(t, d, n.Name())
			if st.Delivered+uint64(st.SpoolDepth) != total || st.Dropped != 0 {
				t.Errorf("delivered %d + spooled %d != %d (stats %+v)", st.Delivered, st.SpoolDepth, total, st)
			}
			noSecrets(t, k.secrets, logs.String())
		})
	}
}
