package opsgenie

import (
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// TestDelivery runs the suite every remote notifier passes (failures,
// Retry-After, timeouts, spool) against a server playing the Alert API.
func TestDelivery(t *testing.T) {
	kindtest.Run(t, kindtest.Kind{
		Name:    "opsgenie",
		Secrets: []string{"GENIEKEYSECRET"},
		OK: notifytest.Reply{Status: 202, Header: map[string]string{"Content-Type": "application/json"},
			Body: `{"result":"Request will be processed"}`},
		Make: func(t *testing.T, base string) alert.Notifier {
			n, err := New(Config{APIKey: "GENIEKEYSECRET", URL: base}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}
