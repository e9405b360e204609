package opsgenie

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// TestDelivery runs the suite every remote notifier passes (failures,
// Retry-After, timeouts, spool) against a server playing the Alert API.
func TestDelivery(t *testing.T) { kindtest.Run(t, kind()) }

// kind builds this notifier against a test server.
func kind() kindtest.Kind {
	return kindtest.Kind{
		Name:    "opsgenie",
		Secrets: []string{"GENIEKEYSECRET"},
		OK: notifytest.Reply{Status: 202, Header: map[string]string{"Content-Type": "application/json"},
			Body: `{"result":"Request will be processed"}`},
		Make: func(base string) (alert.Notifier, error) {
			return New(Config{APIKey: "GENIEKEYSECRET", URL: base}, nil)
		},
	}
}

// The payload of an alert without and with a reason, as the remote API
// receives it; the reason leads what a person reads first.
func TestPayloads(t *testing.T) {
	p := kindtest.GoldenPayloads(t, kind())
	var g struct{ Message, Description string }
	if err := json.Unmarshal(p["reason"], &g); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(g.Message, "web-3: 10.0.0.5 sent 64.0 MB to 203.0.113.9") || !strings.HasPrefix(g.Description, "10.0.0.5 sent 64.0 MB") {
		t.Errorf("message %q / description %q do not lead with the reason", g.Message, g.Description)
	}
}
