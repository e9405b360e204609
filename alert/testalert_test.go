package alert

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTestAlert(t *testing.T) {
	ok := newPlayServer(t, reply{status: 200})
	forbidden := newPlayServer(t, reply{status: 403, body: "invalid_token"})
	hang := newPlayServer(t, reply{hang: true})
	ks := kinds()
	var out syncBuffer
	notifiers := []Notifier{
		NewJSONL(&out),
		ks[0].make(t, forbidden.URL), // slack
		ks[1].make(t, hang.URL),      // pagerduty
		ks[2].make(t, ok.URL),        // webhook
	}
	res := TestAlert(context.Background(), "web-3", 200*time.Millisecond, notifiers)
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
		for _, k := range ks {
			noSecrets(t, k.secrets, got)
		}
	}
	if !res[2].Retryable || res[1].Retryable {
		t.Errorf("retryable: timeout %v, 403 %v", res[2].Retryable, res[1].Retryable)
	}
	var a Alert
	if err := json.Unmarshal([]byte(out.String()), &a); err != nil {
		t.Fatal(err)
	}
	if !a.Test || a.Key != TestKey || a.Host != "web-3" {
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
