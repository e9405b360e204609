package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// TestDelivery runs the suite every remote notifier passes (failures,
// Retry-After, timeouts, spool) against a server playing Slack's webhook.
func TestDelivery(t *testing.T) { kindtest.Run(t, kind()) }

// kind builds this notifier against a test server.
func kind() kindtest.Kind {
	return kindtest.Kind{
		Name:    "slack",
		Secrets: []string{"SLACKSECRET123"},
		OK:      notifytest.Reply{Status: 200, Body: "ok"},
		Make: func(base string) (alert.Notifier, error) {
			return New(Config{URL: alert.Secret(base + slackPath), Username: "wherefore"}, nil)
		},
	}
}

// The payload of an alert without and with a reason, as the remote API
// receives it; the reason leads what a person reads first.
func TestPayloads(t *testing.T) {
	p := kindtest.GoldenPayloads(t, kind())
	var m struct{ Text string }
	if err := json.Unmarshal(p["reason"], &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "a destination it never used before") || !strings.HasPrefix(m.Text, "*New destination on web-3*") {
		t.Errorf("message text %q does not lead with the reason", m.Text)
	}
}
