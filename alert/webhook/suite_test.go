package webhook

import (
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// TestDelivery runs the suite every remote notifier passes (failures,
// Retry-After, timeouts, spool) against a plain JSON receiver.
func TestDelivery(t *testing.T) {
	kindtest.Run(t, kindtest.Kind{
		Name:    "webhook",
		Secrets: []string{"WEBHOOKTOKENSECRET", "HMACSECRET", "HEADERSECRET"},
		OK:      notifytest.Reply{Status: 200},
		Make: func(t *testing.T, base string) alert.Notifier {
			ws, err := New(Config{
				URLs:    []alert.Secret{alert.Secret(base + "/hook?token=WEBHOOKTOKENSECRET")},
				Secret:  "HMACSECRET",
				Headers: []alert.Secret{"Authorization: Bearer HEADERSECRET"},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return ws[0]
		},
	})
}
