package pagerduty

import (
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// TestDelivery runs the suite every remote notifier passes (failures,
// Retry-After, timeouts, spool) against a server playing the Events API v2.
func TestDelivery(t *testing.T) {
	kindtest.Run(t, kindtest.Kind{
		Name:    "pagerduty",
		Secrets: []string{pdKey},
		OK: notifytest.Reply{Status: 202, Header: map[string]string{"Content-Type": "application/json"},
			Body: `{"status":"success","message":"Event processed"}`},
		Make: func(t *testing.T, base string) alert.Notifier {
			n, err := New(Config{RoutingKey: pdKey, URL: base + "/v2/enqueue", AutoResolve: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}
