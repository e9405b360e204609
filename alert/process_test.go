package alert

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// withProcess is the sample alert attributed to a local upload.
func withProcess() *Alert {
	a := sample(sampleKey, t0)
	a.Process = []Process{{PID: 4242, Name: "curl", User: "alice",
		Cmdline: "curl -T big.tar https://upload.example/" + strings.Repeat("x", 300),
		Sockets: []string{"tcp 10.0.0.5:51234->203.0.113.9:443 ESTABLISHED"}}}
	return a
}

func TestProcessString(t *testing.T) {
	p := withProcess().Process[0]
	s := p.String()
	if !strings.HasPrefix(s, "curl (pid 4242, user alice): curl -T big.tar https://upload.example/xxx") ||
		!strings.HasSuffix(s, "…") || len([]rune(s)) > 200 {
		t.Errorf("String() = %q, want name, pid, user and a truncated command line", s)
	}
	if got := (Process{PID: 2}).String(); got != "- (pid 2)" {
		t.Errorf("bare process %q", got)
	}
}

func TestProcessJSON(t *testing.T) {
	b, err := json.Marshal(withProcess())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"process":[{"pid":4242,"name":"curl","user":"alice","cmdline":"curl -T big.tar`,
		`"sockets":["tcp 10.0.0.5:51234-\u003e203.0.113.9:443 ESTABLISHED"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s\nlacks %s", b, want)
		}
	}
	if b, _ := json.Marshal(sample(sampleKey, t0)); strings.Contains(string(b), "process") {
		t.Errorf("alert without attribution mentions process: %s", b)
	}
}

func TestNotifiersShowProcess(t *testing.T) {
	a := withProcess()
	a.Process = append(a.Process, Process{PID: 4243, Name: "curl", User: "alice"})
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

	s, err := NewSlack(SlackConfig{URL: "https://hooks.example/x"}, nil)
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

	check("opsgenie details", (&OpsGenie{}).Alert(a).Details["process"])
	check("opsgenie description", (&OpsGenie{}).Alert(a).Description)

	pd, err := NewPagerDuty(PagerDutyConfig{RoutingKey: pdKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(pd.Event(a))
	if !strings.Contains(string(ev), `"custom_details":{`) || !strings.Contains(string(ev), `"process":[{"pid":4242,"name":"curl","user":"alice"`) ||
		!strings.Contains(string(ev), `"process_note":"also socket found (inode 1234`) {
		t.Errorf("pagerduty event lacks the process in custom_details: %s", ev)
	}

	l, buf := testLogger()
	NewLog(l).Notify(context.Background(), a)
	var e map[string]any
	if err := json.Unmarshal([]byte(buf.Lines()[0]), &e); err != nil {
		t.Fatal(err)
	}
	p, _ := e["process"].(string)
	n, _ := e["process_note"].(string)
	check("log fields", p+" "+n)

	// A note alone is still shown: it is why nobody is named.
	b := sample(sampleKey, t0)
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

func TestProcessListShortened(t *testing.T) {
	a := sample(sampleKey, t0)
	for i := range 8 {
		a.Process = append(a.Process, Process{PID: 100 + i, Name: "nginx", User: "www-data"})
	}
	lines := processLines(a)
	if len(lines) != processShown+1 || lines[processShown] != "and 3 more" {
		t.Errorf("processLines = %q", lines)
	}
}
