package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/detect"
)

// alerting holds the dispatcher in use. A reload builds a new one (new
// notifiers, a reopened alert record) and swaps it in; the old one drains.
type alerting struct {
	mu sync.RWMutex
	d  *alert.Dispatcher
	// draining are dispatchers a reload replaced that are still delivering
	// what they had queued; retired sums the counters of those that have
	// finished. Both count in stats, so the metrics' counters never go
	// backwards, not even while a swap is under way.
	draining []*alert.Dispatcher
	retired  alert.Stats
}

// stats returns the current dispatcher's snapshot plus the counters of
// every replaced one (depths are the current one's).
func (al *alerting) stats() alert.Stats {
	al.mu.RLock()
	defer al.mu.RUnlock()
	s := al.d.Stats()
	for _, d := range al.draining {
		s.Add(d.Stats())
	}
	s.Add(al.retired)
	return s
}

// retire moves a closed dispatcher's final counters to the retired sums.
func (al *alerting) retire(d *alert.Dispatcher) {
	al.mu.Lock()
	defer al.mu.Unlock()
	if i := slices.Index(al.draining, d); i >= 0 {
		al.draining = slices.Delete(al.draining, i, i+1)
	}
	al.retired.Add(d.Stats())
}

func (al *alerting) submit(alerts []*alert.Alert) {
	al.mu.RLock()
	defer al.mu.RUnlock()
	for _, a := range alerts {
		al.d.Submit(a)
	}
}

func (al *alerting) current() *alert.Dispatcher {
	al.mu.RLock()
	defer al.mu.RUnlock()
	return al.d
}

// swap installs d; no Submit can reach the old dispatcher afterwards, so it
// can be closed (drained) safely, then retired.
func (al *alerting) swap(d *alert.Dispatcher) *alert.Dispatcher {
	al.mu.Lock()
	defer al.mu.Unlock()
	old := al.d
	al.d = d
	al.draining = append(al.draining, old)
	return old
}

// detectorFactory returns a constructor of the anomaly tests for flow shards.
func detectorFactory(acfg anomaly.Config) func(*rand.Rand) anomaly.Detector {
	return func(rng *rand.Rand) anomaly.Detector {
		d, err := anomaly.NewAnomalyzer(acfg, rng)
		if err != nil {
			panic(err) // the config was validated before
		}
		return d
	}
}

// reloadable lists the flags SIGHUP applies; every other change needs a
// restart (capture, files, table sizes, the interval).
func reloadable(name string) bool {
	switch name {
	case "alert_min_bytes", "alert_threshold", "resolve_after", "seed", "loglevel", "host",
		"filter_ip_CIDR", "filter_cidr_mask", "filter_bool", "filter_cidr", "filter_src", "filter_dst",
		"alert_queue_size", "alert_cooldown", "alert_rate_limit", "notify_timeout", "notify_retry_budget", "dns_lookup",
		"process_lookup", "process_cache_ttl":
		return true
	}
	return strings.HasPrefix(name, "anom_") || strings.HasPrefix(name, "slack_") ||
		strings.HasPrefix(name, "pagerduty_") || strings.HasPrefix(name, "webhook_") || strings.HasPrefix(name, "opsgenie_") ||
		detectReloadable(name)
}

// changedFlags compares two parsed flag sets flag by flag. A secret (a
// flag whose value is an alert.Secret or alert.SecretList) prints as
// "<secret>" whatever it holds, so secrets are compared through
// flag.Getter and reported only as "changed".
func changedFlags(old, new *flag.FlagSet) (reload, restart []string) {
	old.VisitAll(func(f *flag.Flag) {
		nf := new.Lookup(f.Name)
		ov, nv := f.Value.String(), nf.Value.String()
		change := fmt.Sprintf("%s: %s -> %s", f.Name, ov, nv)
		if isSecret(f.Value) {
			if reflect.DeepEqual(f.Value.(flag.Getter).Get(), nf.Value.(flag.Getter).Get()) {
				return
			}
			change = f.Name + ": changed"
		} else if ov == nv {
			return
		}
		if reloadable(f.Name) {
			reload = append(reload, change)
		} else {
			restart = append(restart, change)
		}
	})
	sort.Strings(reload)
	sort.Strings(restart)
	return reload, restart
}

// isSecret reports whether a flag holds secrets, by the type of its value.
func isSecret(v flag.Value) bool {
	switch v.(type) {
	case *alert.Secret, *alert.SecretList:
		return true
	}
	return false
}

// reloader applies SIGHUP: it rereads the config file (and the original
// command line, which still wins), validates everything, then swaps in the
// new alerting and flow settings; flow state is kept. A config that does
// not validate is rejected and the running one stays.
type reloader struct {
	args      []string
	current   *flag.FlagSet // the running values
	log       *logrus.Logger
	stdout    io.Writer
	fileMode  bool
	spoolDir  string
	enrich    func(context.Context, *alert.Alert)
	alerting  *alerting
	agg       *flow.Aggregator
	stage     *detect.Stage
	processOn func(*options) func(context.Context, *alert.Alert)
}

func (r *reloader) reload() error {
	o, fs, explicit, err := parseFlagSet(r.args, io.Discard)
	if err != nil {
		return err
	}
	reloadChanges, restartChanges := changedFlags(r.current, fs)
	// Settings that need a restart keep their running values.
	r.current.VisitAll(func(f *flag.Flag) {
		if !reloadable(f.Name) {
			if err == nil {
				err = fs.Set(f.Name, f.Value.String())
			}
		}
	})
	if err != nil {
		return err
	}
	acfg, filter, err := checkSettings(o)
	if err != nil {
		return err
	}
	lvl, err := logrus.ParseLevel(o.logLevel)
	if err != nil {
		return fmt.Errorf("-loglevel %q: valid levels are debug, info, warn, error", o.logLevel)
	}
	remote, err := remoteNotifiers(o, explicit)
	if err != nil {
		return err
	}
	keep := *o
	settings := flow.Settings{
		MinBytes: anomMinBytes(&keep), Threshold: keep.threshold, ResolveAfter: keep.resolveAfter, Filter: filter,
		NewDetector: detectorFactory(acfg),
		Baseline:    func(series []float64) float64 { return anomaly.ReferenceMean(series, acfg) },
	}
	dcfg, err := detectConfig(&keep, &flow.Config{Interval: keep.interval, Shards: 1})
	if err != nil {
		return err
	}
	if err := r.agg.Reconfigure(settings); err != nil {
		return err
	}
	if r.stage != nil {
		if err := r.stage.Reconfigure(dcfg); err != nil {
			return err
		}
	}
	record, err := alertRecord(&keep, r.stdout, r.fileMode)
	if err != nil {
		return err
	}
	d, err := newDispatcher(&keep, r.log, record, remote, r.spoolDir, r.fileMode, chainEnrichers(r.processOn(&keep), r.enrich))
	if err != nil {
		return err
	}
	old := r.alerting.swap(d)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := old.Close(ctx); err != nil {
			r.log.WithError(err).Warn("previous alert delivery did not finish; what is left is spooled")
		}
		r.alerting.retire(old)
	}()
	r.log.SetLevel(lvl)
	r.current = fs
	e := r.log.WithField("changed", strings.Join(reloadChanges, "; "))
	if len(restartChanges) > 0 {
		e = e.WithField("need_restart", strings.Join(restartChanges, "; "))
	}
	e.Info("configuration reloaded (alert record reopened, flow state kept)")
	return nil
}

// handleSIGHUP reloads on every SIGHUP until ctx ends.
func handleSIGHUP(ctx context.Context, r *reloader) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := r.reload(); err != nil {
					r.log.WithError(err).Error("configuration reload rejected; the running configuration stays")
				}
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
