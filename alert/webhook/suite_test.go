package webhook

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// TestDelivery runs the suite every remote notifier passes (failures,
// Retry-After, timeouts, spool) against a plain JSON receiver.
func TestDelivery(t *testing.T) { kindtest.Run(t, kind()) }

// kind builds this notifier against a test server.
func kind() kindtest.Kind {
	return kindtest.Kind{
		Name:    "webhook",
		Secrets: []string{"WEBHOOKTOKENSECRET", "HMACSECRET", "HEADERSECRET"},
		OK:      notifytest.Reply{Status: 200},
		Make: func(base string) (alert.Notifier, error) {
			ws, err := New(Config{
				URLs:    []alert.Secret{alert.Secret(base + "/hook?token=WEBHOOKTOKENSECRET")},
				Secret:  "HMACSECRET",
				Headers: []alert.Secret{"Authorization: Bearer HEADERSECRET"},
			}, nil)
			if err != nil {
				return nil, err
			}
			return ws[0], nil
		},
	}
}

// The payload of an alert without and with a reason, as the remote API
// receives it; the reason leads what a person reads first.
func TestPayloads(t *testing.T) {
	p := kindtest.GoldenPayloads(t, kind())
	var a alert.Alert
	if err := json.Unmarshal(p["reason"], &a); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&a, kindtest.SampleWithReason()) {
		t.Errorf("body %s is not the whole alert record", p["reason"])
	}
}
