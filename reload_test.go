package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/jsonl"
)

// slowNotifier takes a while to deliver each alert, as a remote service does.
type slowNotifier struct {
	delay     time.Duration
	delivered atomic.Int64
}

func (s *slowNotifier) Name() string { return "slow" }
func (s *slowNotifier) Notify(ctx context.Context, a *alert.Alert) (bool, error) {
	select {
	case <-time.After(s.delay):
		s.delivered.Add(1)
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func newTestDispatcher(t *testing.T, log *logrus.Logger, remote ...alert.Notifier) *alert.Dispatcher {
	t.Helper()
	cfg := alert.DefaultDispatcherConfig()
	cfg.Logger = log
	cfg.Cooldown, cfg.RateLimit = 0, 0
	d, err := alert.NewDispatcher(cfg, []alert.Notifier{jsonl.New(io.Discard)}, remote)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func quietLogger() *logrus.Logger {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return log
}

func submitN(al *alerting, n int) {
	for i := range n {
		al.submit([]*alert.Alert{{Key: "10.0.0.1->10.0.0.2", Time: time.Unix(int64(i), 0)}})
	}
}

// Counters survive a reload's dispatcher swap: metrics never go backwards.
func TestAlertingStatsSurviveSwap(t *testing.T) {
	log := quietLogger()
	al := &alerting{d: newTestDispatcher(t, log), log: log}
	submitN(al, 3)
	if err := al.swap(newTestDispatcher(t, log)); err != nil {
		t.Fatal(err)
	}
	// While the old dispatcher drains, and after, its counters still count.
	if s := al.stats(); s.Submitted != 3 {
		t.Fatalf("submitted %d right after the swap, want 3", s.Submitted)
	}
	submitN(al, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := al.close(ctx); err != nil {
		t.Fatal(err)
	}
	s := al.stats()
	if s.Submitted != 5 || len(s.Notifiers) != 1 || s.Notifiers[0].Delivered != 5 || len(al.draining) != 0 {
		t.Fatalf("stats after a swap: submitted %d, notifiers %+v, %d draining; want 5 delivered, none draining",
			s.Submitted, s.Notifiers, len(al.draining))
	}
}

// A stop right after a reload waits for the replaced dispatcher: what it
// had queued is delivered before close returns, not abandoned to a
// goroutine nobody waits for.
func TestStopAfterReloadWaitsForTheOldQueue(t *testing.T) {
	log := quietLogger()
	slow := &slowNotifier{delay: 100 * time.Millisecond}
	al := &alerting{d: newTestDispatcher(t, log, slow), log: log}
	submitN(al, 4)
	if err := al.swap(newTestDispatcher(t, log)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := al.close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := slow.delivered.Load(); n != 4 {
		t.Fatalf("close returned with %d of 4 alerts of the replaced dispatcher delivered", n)
	}
	if s := al.stats(); len(al.draining) != 0 || s.Notifiers[len(s.Notifiers)-1].Delivered == 0 && s.Submitted != 4 {
		t.Fatalf("after close: %d still draining, stats %+v", len(al.draining), s)
	}
	// After close a reload cannot install a dispatcher that nobody closes.
	late := newTestDispatcher(t, log)
	if err := al.swap(late); !errors.Is(err, errAlertingClosed) {
		t.Fatal("swap after close was accepted")
	}
	closeUnused(late)
}

// reloadMidway feeds the demo capture's first half, reloads the config
// with body, waits for want in the log, and feeds the rest.
func reloadMidway(t *testing.T, first, body, want string) []alert.Alert {
	t.Helper()
	data, err := os.ReadFile("testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, first)
	cmd, stdin, stdout, stderr := startDaemon(t, true, "-pcapfile", "-", "-config", cfg)
	stdin.Write(data[:len(data)/2])
	waitFor(t, stderr, "wherefore started", 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, stderr, want, 10*time.Second)
	stdin.Write(data[len(data)/2:])
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	return parseAlerts(t, stdout.String())
}

// A reload rejected for one bad setting applies none of the others: the
// running -alert_min_bytes, which silences the demo's transfer for the
// anomaly tests, stays.
func TestRejectedReloadChangesNothing(t *testing.T) {
	tests := "detectors: none\nanom_methods: " + anomalyzerMethods + "\n"
	alerts := reloadMidway(t, tests+"alert_min_bytes: 1000000000\n",
		tests+"alert_min_bytes: 1000000\nalert_queue_size: 0\n", "reload rejected")
	if len(alerts) != 0 {
		t.Fatalf("a rejected reload lowered -alert_min_bytes: %d alerts, first %+v", len(alerts), alerts[0])
	}
}

// -host and -seed are applied by a reload: the next alert names the new host.
func TestReloadAppliesHost(t *testing.T) {
	alerts := reloadMidway(t, "host: before\n", "host: after\nseed: 7\n", "configuration reloaded")
	if len(alerts) != 1 || alerts[0].Host != "after" {
		var hosts []string
		for _, a := range alerts {
			hosts = append(hosts, a.Host)
		}
		t.Fatalf("alerts after reloading host: %d, hosts %s; want one from host \"after\"", len(alerts), strings.Join(hosts, ","))
	}
}

// A reload says which changes it applies and which wait for a restart:
// the series length sizes the flow table, so it is not applied live.
func TestReloadSortsChanges(t *testing.T) {
	_, before, _, err := parseFlagSet([]string{"-anom_gv_cap", "10", "-host", "a", "-seed", "1"})
	if err != nil {
		t.Fatal(err)
	}
	_, after, _, err := parseFlagSet([]string{"-anom_gv_cap", "12", "-host", "b", "-seed", "2"})
	if err != nil {
		t.Fatal(err)
	}
	reload, restart := changedFlags(before, after)
	if strings.Join(reload, "; ") != "host: a -> b; seed: 1 -> 2" || strings.Join(restart, "; ") != "anom_gv_cap: 10 -> 12" {
		t.Fatalf("reload %q, restart %q", reload, restart)
	}
}
