package alert_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// spoolFileCount counts the alert files in one notifier's spool folder.
func spoolFileCount(t *testing.T, dir string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

// The alert is on disk before the notifier sees its first attempt, and
// gone once the notifier accepted it: a crash during the attempt (or the
// retries after it) loses nothing.
func TestEveryDeliveryIsSpooledBeforeItsFirstAttempt(t *testing.T) {
	spoolDir := t.TempDir()
	var onDisk []int
	rec := &recorder{name: "webhook"}
	rec.fail = func(n int, a *alert.Alert) (bool, error) {
		onDisk = append(onDisk, spoolFileCount(t, filepath.Join(spoolDir, "webhook")))
		if n == 0 && len(onDisk) == 1 {
			return true, errors.New("503 from the test")
		}
		return false, nil
	}
	d, _, _ := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) { c.SpoolDir = spoolDir }, nil, rec)
	d.Submit(kindtest.Sample(notifytest.SampleKey, notifytest.T0))
	notifytest.WaitFor(t, "delivery", func() bool { return len(rec.Got()) == 1 })
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(onDisk) != 2 || onDisk[0] != 1 || onDisk[1] != 1 {
		t.Errorf("spool files seen at each attempt %v, want [1 1]", onDisk)
	}
	if n := spoolFileCount(t, filepath.Join(spoolDir, "webhook")); n != 0 {
		t.Errorf("%d spool files after delivery, want 0", n)
	}
	st := kindtest.RemoteStats(t, d, "webhook")
	if st.Delivered != 1 || st.Retried != 1 || st.Spooled != 0 || st.SpoolDepth != 0 || st.Resent != 0 {
		t.Errorf("stats %+v, want 1 delivered after 1 retry and nothing left spooled", st)
	}
}

// A folder named for a notifier that is no longer configured (its URL
// changed in an earlier version's naming, or a renamed notifier) is
// re-sent through the notifier of the same kind, and the log says so.
func TestSpoolOfAnOldNameGoesToTheSameKind(t *testing.T) {
	spoolDir := t.TempDir()
	// An earlier version named webhook spools by a hash of the URL.
	old := filepath.Join(spoolDir, "webhook-1a2b3c4d")
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"10.0.0.1->203.0.113.9", "10.0.0.2->203.0.113.9"} {
		if err := alert.SpoolAt(spoolDir, "webhook-1a2b3c4d", kindtest.Sample(k, notifytest.T0), notifytest.T0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// A slack folder with no slack notifier configured stays put.
	if err := alert.SpoolAt(spoolDir, "slack", kindtest.Sample(notifytest.SampleKey, notifytest.T0), notifytest.T0); err != nil {
		t.Fatal(err)
	}

	hook := &recorder{name: "webhook"}
	d, _, logs := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) { c.SpoolDir = spoolDir }, nil, hook)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := keys(hook.Got()); !reflect.DeepEqual(got, []string{"10.0.0.1->203.0.113.9", "10.0.0.2->203.0.113.9"}) {
		t.Fatalf("webhook received %v, want both alerts of the old folder in order", got)
	}
	if st := kindtest.RemoteStats(t, d, "webhook"); st.Delivered != 2 || st.Resent != 2 || st.SpoolDepth != 0 {
		t.Errorf("stats %+v, want 2 delivered, both re-sent", st)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old folder still there (%v)", err)
	}
	if n := spoolFileCount(t, filepath.Join(spoolDir, "slack")); n != 1 {
		t.Errorf("slack folder holds %d files, want its 1 kept for a slack notifier", n)
	}
	for _, want := range []string{`"spool":"webhook-1a2b3c4d"`, `"alerts":2`, "re-sending them", `"spool":"slack"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// Stats.Add must sum every counter; a field added to NotifierStats or
// Stats and forgotten in Add fails here. Depths are current values and
// stay those of the receiver.
func TestStatsAddSumsEveryCounter(t *testing.T) {
	depth := map[string]bool{"QueueDepth": true, "QueueCapacity": true, "SpoolDepth": true}
	fill := func(v reflect.Value, n uint64) {
		for i := range v.NumField() {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Uint64:
				f.SetUint(n + uint64(i))
			case reflect.Int:
				f.SetInt(int64(n) + int64(i))
			}
		}
	}
	var a, b alert.Stats
	fill(reflect.ValueOf(&a).Elem(), 10)
	fill(reflect.ValueOf(&b).Elem(), 100)
	var na, nb, extra alert.NotifierStats
	fill(reflect.ValueOf(&na).Elem(), 10)
	fill(reflect.ValueOf(&nb).Elem(), 100)
	fill(reflect.ValueOf(&extra).Elem(), 1000)
	na.Name, nb.Name, extra.Name = "webhook", "webhook", "slack"
	a.Notifiers = []alert.NotifierStats{na}
	b.Notifiers = []alert.NotifierStats{nb, extra}
	sum := a
	sum.Notifiers = append([]alert.NotifierStats(nil), a.Notifiers...)
	sum.Add(b)

	check := func(what string, got, x, y reflect.Value) {
		for i := range got.NumField() {
			name := got.Type().Field(i).Name
			f := got.Field(i)
			var want int64
			switch f.Kind() {
			case reflect.Uint64:
				want = int64(x.Field(i).Uint() + y.Field(i).Uint())
				if int64(f.Uint()) != want {
					t.Errorf("%s.%s = %d, want the sum %d (forgotten in Add?)", what, name, f.Uint(), want)
				}
			case reflect.Int:
				want = x.Field(i).Int()
				if !depth[name] {
					t.Errorf("%s.%s: an int field that is not a known depth; decide whether Add sums it", what, name)
				}
				if f.Int() != want {
					t.Errorf("%s.%s = %d, want the receiver's %d (a depth)", what, name, f.Int(), want)
				}
			}
		}
	}
	check("Stats", reflect.ValueOf(sum), reflect.ValueOf(a), reflect.ValueOf(b))
	if len(sum.Notifiers) != 2 || sum.Notifiers[1].Name != "slack" {
		t.Fatalf("notifiers %+v, want webhook summed and slack appended", sum.Notifiers)
	}
	check("NotifierStats", reflect.ValueOf(sum.Notifiers[0]), reflect.ValueOf(na), reflect.ValueOf(nb))
	if got := sum.Notifiers[1]; got.Delivered != extra.Delivered || got.SpoolDepth != 0 || got.QueueDepth != 0 {
		t.Errorf("appended notifier %+v: counters kept, depths zeroed", got)
	}
}
