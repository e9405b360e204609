package pagerduty

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// TestDelivery runs the suite every remote notifier passes (failures,
// Retry-After, timeouts, spool) against a server playing the Events API v2.
func TestDelivery(t *testing.T) { kindtest.Run(t, kind()) }

// kind builds this notifier against a test server.
func kind() kindtest.Kind {
	return kindtest.Kind{
		Name:    "pagerduty",
		Secrets: []string{pdKey},
		OK: notifytest.Reply{Status: 202, Header: map[string]string{"Content-Type": "application/json"},
			Body: `{"status":"success","message":"Event processed"}`},
		Make: func(base string) (alert.Notifier, error) {
			return New(Config{RoutingKey: pdKey, URL: base + "/v2/enqueue", AutoResolve: true}, nil)
		},
	}
}

// The payload of an alert without and with a reason, as the remote API
// receives it; the reason leads what a person reads first.
func TestPayloads(t *testing.T) {
	p := kindtest.GoldenPayloads(t, kind())
	var ev struct {
		Payload struct{ Summary string }
	}
	if err := json.Unmarshal(p["reason"], &ev); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ev.Payload.Summary, "web-3: 10.0.0.5 sent 64.0 MB to 203.0.113.9, a destination it never used before") {
		t.Errorf("summary %q does not lead with the reason", ev.Payload.Summary)
	}
}
