package alert_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

func TestProcessString(t *testing.T) {
	p := withProcess().Process[0]
	s := p.String()
	if !strings.HasPrefix(s, "curl (pid 4242, user alice): curl -T big.tar https://upload.example/xxx") ||
		!strings.HasSuffix(s, "…") || len([]rune(s)) > 200 {
		t.Errorf("String() = %q, want name, pid, user and a truncated command line", s)
	}
	if got := (alert.Process{PID: 2}).String(); got != "- (pid 2)" {
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
	if b, _ := json.Marshal(kindtest.Sample(notifytest.SampleKey, notifytest.T0)); strings.Contains(string(b), "process") {
		t.Errorf("alert without attribution mentions process: %s", b)
	}
}

func TestProcessListShortened(t *testing.T) {
	a := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	for i := range 8 {
		a.Process = append(a.Process, alert.Process{PID: 100 + i, Name: "nginx", User: "www-data"})
	}
	lines := alert.ProcessLines(a)
	if len(lines) != alert.ProcessShown+1 || lines[alert.ProcessShown] != "and 3 more" {
		t.Errorf("processLines = %q", lines)
	}
}
