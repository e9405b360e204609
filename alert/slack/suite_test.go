package slack

import (
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// TestDelivery runs the suite every remote notifier passes (failures,
// Retry-After, timeouts, spool) against a server playing Slack's webhook.
func TestDelivery(t *testing.T) {
	kindtest.Run(t, kindtest.Kind{
		Name:    "slack",
		Secrets: []string{"SLACKSECRET123"},
		OK:      notifytest.Reply{Status: 200, Body: "ok"},
		Make: func(t *testing.T, base string) alert.Notifier {
			n, err := New(Config{URL: alert.Secret(base + slackPath), Username: "wherefore"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}
