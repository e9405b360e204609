package alert_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
	"github.com/wherefore/wherefore/alert/jsonl"
	"github.com/wherefore/wherefore/alert/pagerduty"
	"github.com/wherefore/wherefore/alert/slack"
	"github.com/wherefore/wherefore/alert/webhook"
)

func TestTestAlert(t *testing.T) {
	ok := notifytest.NewPlayServer(t, notifytest.Reply{Status: 200})
	forbidden := notifytest.NewPlayServer(t, notifytest.Reply{Status: 403, Body: "invalid_token"})
	hang := notifytest.NewPlayServer(t, notifytest.Reply{Hang: true})
	var out notifytest.SyncBuffer
	secrets := []string{"SLACKSECRET123", "PDKEYSECRET", "WEBHOOKTOKENSECRET"}
	sl, err := slack.New(slack.Config{URL: alert.Secret(forbidden.URL + "/services/SLACKSECRET123")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := pagerduty.New(pagerduty.Config{RoutingKey: "PDKEYSECRET", URL: hang.URL + "/v2/enqueue"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhook.New(webhook.Config{URLs: []alert.Secret{alert.Secret(ok.URL + "/hook?token=WEBHOOKTOKENSECRET")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	notifiers := []alert.Notifier{jsonl.New(&out), sl, pd, hooks[0]}
	res := alert.TestAlert(context.Background(), "web-3", 200*time.Millisecond, notifiers)
	if len(res) != 4 {
		t.Fatalf("%d results", len(res))
	}
	for i, want := range []string{
		"",
		"slack: POST webhook: HTTP 403 Forbidden: invalid_token",
		"pagerduty: trigger event: context deadline exceeded",
		"",
	} {
		r := res[i]
		if r.Notifier != notifiers[i].Name() {
			t.Errorf("result %d is for %s, want %s", i, r.Notifier, notifiers[i].Name())
		}
		got := ""
		if r.Err != nil {
			got = r.Err.Error()
		}
		if got != want || r.OK() != (want == "") {
			t.Errorf("%s: error %q, want %q", r.Notifier, got, want)
		}
		notifytest.NoSecrets(t, secrets, got)
	}
	if !res[2].Retryable || res[1].Retryable {
		t.Errorf("retryable: timeout %v, 403 %v", res[2].Retryable, res[1].Retryable)
	}
	var a alert.Alert
	if err := json.Unmarshal([]byte(out.String()), &a); err != nil {
		t.Fatal(err)
	}
	if !a.Test || a.Key != alert.TestKey || a.Host != "web-3" {
		t.Errorf("local test record %+v", a)
	}
	body := string(ok.Requests()[0].Body)
	if !strings.Contains(body, `"test":true`) || !strings.Contains(body, `"key":"test->test"`) {
		t.Errorf("webhook body %s", body)
	}
	var slackMsg struct{ Text string }
	json.Unmarshal(forbidden.Requests()[0].Body, &slackMsg)
	if !strings.Contains(slackMsg.Text, "TEST ALERT") {
		t.Errorf("slack text %q not marked as a test", slackMsg.Text)
	}
}
