package opsgenie

import (
	"encoding/json"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

func TestOpsGenieRequest(t *testing.T) {
	ok := notifytest.Reply{Status: 202, Header: map[string]string{"Content-Type": "application/json"},
		Body: `{"result":"Request will be processed","took":0.1,"requestId":"r1"}`}
	srv := notifytest.NewPlayServer(t, ok)
	o, err := New(Config{APIKey: "GENIEKEYSECRET", URL: srv.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, r := kindtest.FireAndResolve(t, o)
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, q := range reqs {
		if q.Method != "POST" || q.Header.Get("Authorization") != "GenieKey GENIEKEYSECRET" ||
			q.Header.Get("Content-Type") != "application/json" || q.Header.Get("User-Agent") != httpnotify.UserAgent {
			t.Errorf("request %s %s headers %v", q.Method, q.Path, q.Header)
		}
	}
	if reqs[0].Path != "/v2/alerts" {
		t.Errorf("create path %q", reqs[0].Path)
	}
	var g CreateAlert
	if err := json.Unmarshal(reqs[0].Body, &g); err != nil {
		t.Fatal(err)
	}
	alias := "wherefore:web-3:10.0.0.5->203.0.113.9"
	if g.Alias != alias || g.Priority != "P1" || g.Source != "wherefore" || g.Entity != "web-3" ||
		g.Message != alert.Headline(a) || g.Details["bytes"] != "64000000" || g.Details["volume"] != "64.0 MB" ||
		g.Details["series"] != "▁▁▁█" || g.Details["key"] != notifytest.SampleKey {
		t.Errorf("create body %+v", g)
	}
	if reqs[1].Path != "/v2/alerts/"+alias+"/close" || reqs[1].RawPath != "/v2/alerts/wherefore:web-3:10.0.0.5-%3E203.0.113.9/close" ||
		reqs[1].Query != "identifierType=alias" {
		t.Errorf("close request %s (%s) ?%s", reqs[1].Path, reqs[1].RawPath, reqs[1].Query)
	}
	var c CloseAlert
	if err := json.Unmarshal(reqs[1].Body, &c); err != nil || c.Source != "wherefore" || c.Note != alert.Headline(r) {
		t.Errorf("close body %s: %v", reqs[1].Body, err)
	}
}

func TestOpsGeniePriorities(t *testing.T) {
	for p, want := range map[float64]string{0.99: "P1", 0.85: "P2", 0.65: "P3", 0.3: "P4"} {
		a := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
		a.Probability = p
		if got := priority(a); got != want {
			t.Errorf("priority(%v) = %s, want %s", p, got, want)
		}
	}
	if got := priority(alert.NewTestAlert("h", notifytest.T0)); got != "P5" {
		t.Errorf("test alert priority %s", got)
	}
	long := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	long.Host = "a-very-long-host-name-in-a-very-long-domain.example.com"
	long.SrcName = "another-very-long-name.example.com"
	if m := (&Notifier{}).CreateBody(long).Message; len([]rune(m)) > 130 {
		t.Errorf("message of %d runes", len([]rune(m)))
	}
}
