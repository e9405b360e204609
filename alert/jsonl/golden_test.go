package jsonl

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// The JSON-lines record of an alert without and with the detector's
// fields; the log entry carries the reason as a field.
func TestRecordGolden(t *testing.T) {
	for name, a := range map[string]*alert.Alert{
		"volume": kindtest.Sample(notifytest.SampleKey, notifytest.T0),
		"reason": kindtest.SampleWithReason(),
	} {
		var out notifytest.SyncBuffer
		if _, err := New(&out).Notify(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		notifytest.Golden(t, filepath.Join("testdata", name+".golden.jsonl"), []byte(out.String()))
	}
	l, buf := notifytest.Logger()
	NewLog(l).Notify(context.Background(), kindtest.SampleWithReason())
	if !strings.Contains(buf.String(), `"reason":"10.0.0.5 sent 64.0 MB to 203.0.113.9, a destination it never used before`) ||
		!strings.Contains(buf.String(), `"kind":"new-destination"`) {
		t.Errorf("log entry lacks reason or kind: %s", buf.String())
	}
}
