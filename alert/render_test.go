package alert_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
	"github.com/wherefore/wherefore/alert/jsonl"
	"github.com/wherefore/wherefore/alert/opsgenie"
	"github.com/wherefore/wherefore/alert/pagerduty"
	"github.com/wherefore/wherefore/alert/slack"
)

// Every notifier names the processes behind a flow, and the note that
// says why none or not all are named.
func TestNotifiersShowProcess(t *testing.T) {
	a := withProcess()
	a.Process = append(a.Process, alert.Process{PID: 4243, Name: "curl", User: "alice"})
	a.ProcessNote = "also socket found (inode 1234, user bob) but its process is not visible to this user: run with CAP_SYS_PTRACE or as root"
	want := []string{"curl (pid 4242, user alice): curl -T big.tar https://upload.example/", "curl (pid 4243, user alice)", "inode 1234"}
	check := func(where, got string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", where, got, w)
			}
		}
	}

	s, err := slack.New(slack.Config{URL: "https://hooks.example/x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var field string
	for _, f := range s.Message(a).Attachments[0].Fields {
		if f.Title == "Process" {
			field = f.Value
		}
	}
	check("slack field Process", field)

	check("opsgenie details", (&opsgenie.Notifier{}).CreateBody(a).Details["process"])
	check("opsgenie description", (&opsgenie.Notifier{}).CreateBody(a).Description)

	pd, err := pagerduty.New(pagerduty.Config{RoutingKey: "PDKEYSECRET"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(pd.Event(a))
	if !strings.Contains(string(ev), `"custom_details":{`) || !strings.Contains(string(ev), `"process":[{"pid":4242,"name":"curl","user":"alice"`) ||
		!strings.Contains(string(ev), `"process_note":"also socket found (inode 1234`) {
		t.Errorf("pagerduty event lacks the process in custom_details: %s", ev)
	}

	l, buf := notifytest.Logger()
	jsonl.NewLog(l).Notify(context.Background(), a)
	var e map[string]any
	if err := json.Unmarshal([]byte(buf.Lines()[0]), &e); err != nil {
		t.Fatal(err)
	}
	p, _ := e["process"].(string)
	n, _ := e["process_note"].(string)
	check("log fields", p+" "+n)

	// A note alone is still shown: it is why nobody is named.
	b := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	b.ProcessNote = "no local socket: neither 10.0.0.5 nor 203.0.113.9 is an address of this host (forwarded or spoofed traffic)"
	field = ""
	for _, f := range s.Message(b).Attachments[0].Fields {
		if f.Title == "Process" {
			field = f.Value
		}
	}
	if field != b.ProcessNote {
		t.Errorf("slack Process field %q, want the note", field)
	}
}

// withProcess is the sample alert attributed to a local upload.
func withProcess() *alert.Alert {
	a := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	a.Process = []alert.Process{{PID: 4242, Name: "curl", User: "alice",
		Cmdline: "curl -T big.tar https://upload.example/" + strings.Repeat("x", 300),
		Sockets: []string{"tcp 10.0.0.5:51234->203.0.113.9:443 ESTABLISHED"}}}
	return a
}
