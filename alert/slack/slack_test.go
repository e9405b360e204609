package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

const slackPath = "/services/T000/B000/SLACKSECRET123"

func TestSlackRequest(t *testing.T) {
	srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 200, Body: "ok"})
	s, err := New(Config{URL: alert.Secret(srv.URL + slackPath), Channel: "#alerts", Emoji: ":warning:", Username: "wherefore"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	a.Archive = []string{"/var/log/wherefore/archive/10.0.0.5-203.0.113.9.pcap"}
	a.DstName = "cdn.example.net"
	if retry, err := s.Notify(context.Background(), a); err != nil {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != slackPath {
		t.Errorf("request %s %s, want POST %s", r.Method, r.Path, slackPath)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := r.Header.Get("User-Agent"); ua != httpnotify.UserAgent {
		t.Errorf("User-Agent %q", ua)
	}
	var m struct {
		Username, Channel, Text string
		IconEmoji               string `json:"icon_emoji"`
		Attachments             []struct {
			Color, Title, Text, Fallback, Footer string
			Fields                               []struct {
				Title, Value string
				Short        bool
			}
			Ts json.Number
		}
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	if m.Username != "wherefore" || m.Channel != "#alerts" || m.IconEmoji != ":warning:" {
		t.Errorf("username/channel/emoji = %q %q %q", m.Username, m.Channel, m.IconEmoji)
	}
	wantText := "*Unusual transfer on web-3*: 10.0.0.5 → 203.0.113.9 (cdn.example.net) moved *64.0 MB* in 5s"
	if m.Text != wantText {
		t.Errorf("text %q\nwant %q", m.Text, wantText)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("%d attachments", len(m.Attachments))
	}
	at := m.Attachments[0]
	if at.Color != "#b3001b" {
		t.Errorf("colour %q, want critical red", at.Color)
	}
	if !strings.HasPrefix(at.Text, "`▁▁▁█`") {
		t.Errorf("attachment text %q lacks the sparkline", at.Text)
	}
	if at.Ts.String() != "1795341605" {
		t.Errorf("ts %s", at.Ts)
	}
	fields := map[string]string{}
	for _, f := range at.Fields {
		fields[f.Title] = f.Value
	}
	for title, want := range map[string]string{
		"Volume":      "64.0 MB in 5s (12.8 MB/s)",
		"Typical":     "1.2 kB per 5s",
		"Probability": "0.97 (critical)",
		"Host":        "web-3",
		"Tests fired": "fence 1.00, magnitude 1.00, rank 0.90",
		"Interval":    "2026-11-22 10:00:00 – 10:00:05 UTC",
		"Archive":     "/var/log/wherefore/archive/10.0.0.5-203.0.113.9.pcap",
	} {
		if fields[title] != want {
			t.Errorf("field %q = %q, want %q", title, fields[title], want)
		}
	}
}

func TestSlackResolvedAndIcon(t *testing.T) {
	s, err := New(Config{URL: "https://hooks.example/x", IconURL: "https://img.example/i.png", SendResolved: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.SendResolved() {
		t.Error("SendResolved false")
	}
	a := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	a.Resolved, a.Bytes = true, 1100
	m := s.Message(a)
	if m.IconURL != "https://img.example/i.png" || m.IconEmoji != "" {
		t.Errorf("icon %q emoji %q", m.IconURL, m.IconEmoji)
	}
	if want := ":white_check_mark: web-3: 10.0.0.5 → 203.0.113.9 back to normal (1.1 kB in 5s)"; m.Text != want || len(m.Attachments) != 0 {
		t.Errorf("resolved message %q (%d attachments), want %q", m.Text, len(m.Attachments), want)
	}
	tm := s.Message(alert.NewTestAlert("web-3", notifytest.T0))
	if !strings.Contains(tm.Text, "TEST ALERT") || tm.Attachments[0].Color != "#9e9e9e" {
		t.Errorf("test message not marked: %q %q", tm.Text, tm.Attachments[0].Color)
	}
}
