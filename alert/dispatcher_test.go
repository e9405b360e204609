package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

// jsonlKeys decodes the JSON-lines output and returns its keys in order.
func jsonlKeys(t *testing.T, out *notifytest.SyncBuffer) []string {
	t.Helper()
	var ks []string
	for _, l := range out.Lines() {
		var a alert.Alert
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		ks = append(ks, a.Key)
	}
	return ks
}

func TestQueueOverflowKeepsEveryAlert(t *testing.T) {
	release := make(chan struct{})
	var out notifytest.SyncBuffer
	rec := &recorder{name: "rec"}
	d, _, logs := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) {
		c.QueueSize = 2
		// Enrich blocks the dispatcher goroutine, so the queue fills.
		c.Enrich = func(ctx context.Context, a *alert.Alert) {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}, []alert.Notifier{kindtest.Lines{W: &out}}, rec)

	var want []string
	for i := range 10 {
		k := fmt.Sprintf("10.0.0.%d->203.0.113.9", i)
		want = append(want, k)
		d.Submit(kindtest.Sample(k, notifytest.T0))
	}
	st := d.Stats()
	if st.Submitted != 10 || st.Overflow < 7 {
		t.Errorf("submitted %d, overflow %d; want 10 and at least 7", st.Submitted, st.Overflow)
	}
	if !strings.Contains(logs.String(), "alert queue full") {
		t.Error("overflow not logged")
	}
	// Overflowed alerts are in the durable record before the dispatcher
	// has done anything.
	if got := len(out.Lines()); got < 7 {
		t.Errorf("%d alerts written locally during the overflow, want at least 7", got)
	}
	close(release)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sortedCopy(jsonlKeys(t, &out)); !reflect.DeepEqual(got, want) {
		t.Errorf("JSON lines hold %v, want each of %v once", got, want)
	}
	if got := sortedCopy(keys(rec.Got())); !reflect.DeepEqual(got, want) {
		t.Errorf("remote notifier got %v, want each of %v once", got, want)
	}
}

func TestCooldown(t *testing.T) {
	var out notifytest.SyncBuffer
	rec := &recorder{name: "rec"}
	d, _, _ := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) { c.Cooldown = 15 * time.Minute },
		[]alert.Notifier{kindtest.Lines{W: &out}}, rec)
	a, b := "10.0.0.5->203.0.113.9", "10.0.0.6->203.0.113.9"
	d.Submit(kindtest.Sample(a, notifytest.T0))
	d.Submit(kindtest.Sample(a, notifytest.T0.Add(time.Minute))) // cooling down
	d.Submit(kindtest.Sample(b, notifytest.T0.Add(time.Minute))) // another flow
	d.Submit(kindtest.Sample(a, notifytest.T0.Add(14*time.Minute)))
	d.Submit(kindtest.Sample(a, notifytest.T0.Add(16*time.Minute))) // cooldown over
	d.Close(context.Background())

	if got, want := keys(rec.Got()), []string{a, b, a}; !reflect.DeepEqual(got, want) {
		t.Errorf("remote got %v, want %v", got, want)
	}
	if got := rec.Got()[2].Time; !got.Equal(notifytest.T0.Add(16 * time.Minute)) {
		t.Errorf("third alert is from %v", got)
	}
	st := d.Stats()
	if st.Cooldown != 2 || kindtest.RemoteStats(t, d, "rec").Suppressed != 2 {
		t.Errorf("cooldown count %d, notifier %+v", st.Cooldown, kindtest.RemoteStats(t, d, "rec"))
	}
	if got := len(out.Lines()); got != 5 {
		t.Errorf("%d local records, want all 5", got)
	}
}

func TestResolvedRouting(t *testing.T) {
	wants := &recorder{name: "wants"}
	skips := &recorder{name: "skips", noResolved: true}
	d, _, _ := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) { c.Cooldown = time.Hour; c.RateLimit = 1 },
		nil, wants, skips)
	a, b := "10.0.0.5->203.0.113.9", "10.0.0.6->203.0.113.9"
	resolved := func(k string, at time.Time) *alert.Alert {
		r := kindtest.Sample(k, at)
		r.Resolved = true
		return r
	}
	d.Submit(kindtest.Sample(a, notifytest.T0))
	d.Submit(kindtest.Sample(b, notifytest.T0)) // rate limited: never reached people
	d.Submit(resolved(a, notifytest.T0.Add(2*time.Minute)))
	d.Submit(resolved(b, notifytest.T0.Add(2*time.Minute)))        // so no "back to normal" either
	d.Submit(kindtest.Sample(a, notifytest.T0.Add(3*time.Minute))) // a new episode, cooldown reset
	d.Close(context.Background())

	// The summary of b's window goes out when the next firing alert ends
	// the window.
	want := []string{a, a + "/resolved", "summary", a}
	if got := keys(wants.Got()); !reflect.DeepEqual(got, want) {
		t.Errorf("notifier wanting resolved got %v, want %v", got, want)
	}
	want = []string{a, "summary", a}
	if got := keys(skips.Got()); !reflect.DeepEqual(got, want) {
		t.Errorf("notifier not wanting resolved got %v, want %v", got, want)
	}
}

func TestRateLimitSummary(t *testing.T) {
	rec := &recorder{name: "rec"}
	d, _, logs := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) { c.RateLimit = 2 }, nil, rec)
	// notifytest.T0 is 10:00:05; the window is 10:00:00-10:01:00.
	for i := range 5 {
		d.Submit(kindtest.Sample(fmt.Sprintf("10.0.0.%d->203.0.113.9", i), notifytest.T0.Add(time.Duration(i)*time.Second)))
	}
	d.Submit(kindtest.Sample("10.0.0.9->203.0.113.9", notifytest.T0.Add(90*time.Second))) // next window
	d.Close(context.Background())

	got := rec.Got()
	want := []string{"10.0.0.0->203.0.113.9", "10.0.0.1->203.0.113.9", "summary", "10.0.0.9->203.0.113.9"}
	if !reflect.DeepEqual(keys(got), want) {
		t.Fatalf("remote got %v, want %v", keys(got), want)
	}
	s := got[2]
	wantKeys := []string{"10.0.0.2->203.0.113.9", "10.0.0.3->203.0.113.9", "10.0.0.4->203.0.113.9"}
	if s.Suppressed != 3 || !reflect.DeepEqual(s.SuppressedKeys, wantKeys) ||
		!s.IntervalStart.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) || !s.Time.Equal(s.IntervalStart.Add(time.Minute)) ||
		s.Host != "web-3" {
		t.Errorf("summary %+v", s)
	}
	if h := alert.Headline(s); h != "web-3: rate limit suppressed 3 more alerts between 10:00:00 and 10:01:00 UTC" {
		t.Errorf("summary headline %q", h)
	}
	if st := d.Stats(); st.RateLimited != 3 || st.Summaries != 1 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "rate limit suppressed alerts") {
		t.Error("summary not logged")
	}
}

func TestRateLimitSummaryWhenQuiet(t *testing.T) {
	// No further alert ends the window: the summary still goes out when
	// the window has passed on the clock, and at Close.
	rec := &recorder{name: "rec"}
	d, clock, _ := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) { c.RateLimit = 1 }, nil, rec)
	for i := range 3 {
		d.Submit(kindtest.Sample(fmt.Sprintf("10.0.0.%d->203.0.113.9", i), notifytest.T0))
	}
	select {
	case <-clock.Armed():
	case <-time.After(10 * time.Second):
		t.Fatal("no summary timer armed")
	}
	clock.Advance(time.Minute)
	notifytest.WaitFor(t, "the summary", func() bool { return len(rec.Got()) == 2 })
	if s := rec.Got()[1]; s.Suppressed != 2 {
		t.Errorf("summary %+v", s)
	}
	// Held back again in the same window: flushed at Close.
	d.Submit(kindtest.Sample("10.0.0.7->203.0.113.9", notifytest.T0.Add(time.Second)))
	d.Close(context.Background())
	if got := rec.Got(); len(got) != 3 || got[2].Suppressed != 1 {
		t.Errorf("remote got %v", keys(got))
	}
}

func TestCloseDrains(t *testing.T) {
	var out notifytest.SyncBuffer
	slow := &recorder{name: "slow", fail: func(int, *alert.Alert) (bool, error) {
		time.Sleep(time.Millisecond)
		return false, nil
	}}
	d, _, logs := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) { c.QueueSize = 64 }, []alert.Notifier{kindtest.Lines{W: &out}}, slow)
	for i := range 50 {
		d.Submit(kindtest.Sample(fmt.Sprintf("10.0.%d.1->203.0.113.9", i), notifytest.T0))
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(slow.Got()); got != 50 {
		t.Errorf("%d delivered before Close returned, want 50", got)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	d.Submit(kindtest.Sample(notifytest.SampleKey, notifytest.T0))
	if st := d.Stats(); st.Dropped != 1 || st.QueueDepth != 0 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "after the dispatcher closed") {
		t.Error("late alert not logged")
	}
	if got := len(out.Lines()); got != 50 {
		t.Errorf("%d local records", got)
	}
}

func TestPermanentFailureIsNotSpooled(t *testing.T) {
	rec := &recorder{name: "rec", fail: func(int, *alert.Alert) (bool, error) { return false, errors.New("bad request") }}
	d, _, _ := kindtest.Dispatcher(t, nil, nil, rec)
	d.Submit(kindtest.Sample(notifytest.SampleKey, notifytest.T0))
	d.Close(context.Background())
	if st := kindtest.RemoteStats(t, d, "rec"); st.Failed != 1 || st.Spooled != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSpooledAlertsKeepOrder(t *testing.T) {
	// While a notifier rests, later alerts queue behind the spooled ones,
	// so "back to normal" never overtakes its alert.
	var fails atomic.Int32
	fails.Store(2)
	rec := &recorder{name: "rec", fail: func(int, *alert.Alert) (bool, error) {
		if fails.Add(-1) >= 0 {
			return true, errors.New("503")
		}
		return false, nil
	}}
	d, clock, _ := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) { c.MaxAttempts = 2 }, nil, rec)
	d.Submit(kindtest.Sample(notifytest.SampleKey, notifytest.T0))
	notifytest.WaitFor(t, "the spool", func() bool { return kindtest.RemoteStats(t, d, "rec").Spooled == 1 })
	r := kindtest.Sample(notifytest.SampleKey, notifytest.T0.Add(time.Minute))
	r.Resolved = true
	d.Submit(r)
	notifytest.WaitFor(t, "the resolve to queue behind", func() bool { return kindtest.RemoteStats(t, d, "rec").SpoolDepth == 2 })
	clock.Advance(2 * time.Minute) // the rest is over
	notifytest.WaitFor(t, "redelivery", func() bool { return len(rec.Got()) == 2 })
	d.Close(context.Background())
	if got, want := keys(rec.Got()), []string{notifytest.SampleKey, notifytest.SampleKey + "/resolved"}; !reflect.DeepEqual(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

type fakeResolver map[string]string

func (f fakeResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if n, ok := f[addr]; ok {
		return []string{n + "."}, nil
	}
	return nil, errors.New("no such host")
}

func TestEnrichAndNames(t *testing.T) {
	var out notifytest.SyncBuffer
	rec := &recorder{name: "rec"}
	d, _, _ := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) {
		c.DNSLookup = true
		c.Resolver = fakeResolver{"10.0.0.5": "db-1.internal"}
		c.Enrich = func(_ context.Context, a *alert.Alert) { a.Archive = []string{"/archive/" + a.Src + ".pcap"} }
	}, []alert.Notifier{kindtest.Lines{W: &out}}, rec)
	d.Submit(kindtest.Sample(notifytest.SampleKey, notifytest.T0))
	d.Close(context.Background())
	var a alert.Alert
	if err := json.Unmarshal([]byte(out.Lines()[0]), &a); err != nil {
		t.Fatal(err)
	}
	if a.SrcName != "db-1.internal" || a.DstName != "" || !reflect.DeepEqual(a.Archive, []string{"/archive/10.0.0.5.pcap"}) {
		t.Errorf("local record %+v", a)
	}
	if got := rec.Got()[0]; got.SrcName != "db-1.internal" || len(got.Archive) != 1 {
		t.Errorf("remote got %+v", got)
	}
}

// slowResolver never answers before its context ends.
type slowResolver struct{}

func (slowResolver) LookupAddr(ctx context.Context, _ string) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestSlowDNSIsBounded(t *testing.T) {
	var out notifytest.SyncBuffer
	d, _, _ := kindtest.Dispatcher(t, func(c *alert.DispatcherConfig) {
		c.DNSLookup = true
		c.DNSTimeout = 20 * time.Millisecond
		c.Resolver = slowResolver{}
	}, []alert.Notifier{kindtest.Lines{W: &out}})
	d.Submit(kindtest.Sample(notifytest.SampleKey, notifytest.T0))
	d.Submit(kindtest.Sample(notifytest.SampleKey, notifytest.T0.Add(5*time.Second))) // cached failure: no second wait
	d.Close(context.Background())
	if got := len(out.Lines()); got != 2 || strings.Contains(out.String(), "src_name") {
		t.Errorf("local record %q", out.String())
	}
}

func TestNewDispatcherRejectsDuplicateNames(t *testing.T) {
	cfg := alert.DefaultDispatcherConfig()
	if _, err := alert.NewDispatcher(cfg, nil, []alert.Notifier{&recorder{name: "x"}, &recorder{name: "x"}}); err == nil {
		t.Error("duplicate names accepted")
	}
	if _, err := alert.NewDispatcher(cfg, nil, []alert.Notifier{&recorder{name: "../x"}}); err == nil {
		t.Error("path-like name accepted")
	}
}
