package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

func TestJSONLFieldNames(t *testing.T) {
	var buf bytes.Buffer
	j := New(&buf)
	if _, err := j.Notify(context.Background(), kindtest.Sample(notifytest.SampleKey, notifytest.T0)); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-22T10:00:05Z","interval_start":"2026-11-22T10:00:00Z","interval_seconds":5,` +
		`"key":"10.0.0.5->203.0.113.9","src":"10.0.0.5","dst":"203.0.113.9","bytes":64000000,"packets":44000,` +
		`"series":[1200,900,1500,64000000],"probability":0.97,"tests":{"fence":1,"ks":0.2,"magnitude":1,"rank":0.9},` +
		`"detector":"anomalyzer","host":"web-3","baseline":1200}` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("line\n%s\nwant\n%s", got, want)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Notify(context.Background(), kindtest.Sample(notifytest.SampleKey, notifytest.T0)); err == nil {
		t.Error("write after Close accepted")
	}
}

func TestJSONLFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "wherefore_anomalies.log")
	j, err := NewFile(FileConfig{Path: path, MaxSizeMB: 1, MaxBackups: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	r.Resolved = true
	for _, a := range []*alert.Alert{kindtest.Sample(notifytest.SampleKey, notifytest.T0), r} {
		if _, err := j.Notify(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var a alert.Alert
	if err := json.Unmarshal([]byte(lines[1]), &a); err != nil || !a.Resolved || !strings.Contains(lines[1], `"resolved":true`) {
		t.Errorf("second line %s (%v)", lines[1], err)
	}
	if _, err := NewFile(FileConfig{}); err == nil {
		t.Error("empty path accepted")
	}
}

func TestLogNotifier(t *testing.T) {
	l, buf := notifytest.Logger()
	n := NewLog(l)
	a := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	a.Archive = []string{"/a.pcap"}
	n.Notify(context.Background(), a)
	var e map[string]any
	if err := json.Unmarshal([]byte(buf.Lines()[0]), &e); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"level": "warning", "msg": "unusual flow volume", "flow": notifytest.SampleKey, "bytes": 64e6, "human": "64.0 MB",
		"rate": "12.8 MB/s", "baseline": "1.2 kB", "probability": 0.97, "severity": "critical",
		"tests": "fence=1.00 magnitude=1.00 rank=0.90 ks=0.20", "series": "▁▁▁█", "host": "web-3", "archive": "/a.pcap",
	} {
		if e[k] != want {
			t.Errorf("field %s = %v, want %v", k, e[k], want)
		}
	}
	r := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	r.Resolved = true
	n.Notify(context.Background(), r)
	if l := buf.Lines()[1]; !strings.Contains(l, `"msg":"flow back to normal"`) || !strings.Contains(l, `"level":"info"`) {
		t.Errorf("resolved entry %s", l)
	}
}
