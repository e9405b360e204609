package alert

import (
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

func TestProcessListShortened(t *testing.T) {
	a := sample(sampleKey, t0)
	for i := range 8 {
		a.Process = append(a.Process, Process{PID: 100 + i, Name: "nginx", User: "www-data"})
	}
	lines := ProcessLines(a)
	if len(lines) != ProcessShown+1 || lines[ProcessShown] != "and 3 more" {
		t.Errorf("processLines = %q", lines)
	}
}
