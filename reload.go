package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/detect"
)

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
	if name == "anom_gv_cap" {
		return false // the flow table's series length: a restart
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
// command line, which still wins), validates and builds everything, and only
// then swaps in the new alerting and flow settings together; flow state is
// kept. A config that fails anywhere is rejected and the running one stays
// whole.
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
	o, fs, explicit, err := parseFlagSet(r.args)
	if err != nil {
		return err
	}
	reloadChanges, restartChanges := changedFlags(r.current, fs)
	// Settings that need a restart keep their running values.
	r.current.VisitAll(func(f *flag.Flag) {
		if !reloadable(f.Name) && err == nil {
			err = fs.Set(f.Name, f.Value.String())
		}
	})
	if err != nil {
		return err
	}
	set, err := buildSettings(o)
	if err != nil {
		return err
	}
	remote, err := remoteNotifiers(o, explicit)
	if err != nil {
		return err
	}
	record, err := alertRecord(o, r.stdout, r.fileMode)
	if err != nil {
		return err
	}
	d, err := newDispatcher(set.dispatch, r.log, record, remote, r.spoolDir, r.fileMode, chainEnrichers(r.processOn(o), r.enrich))
	if err != nil {
		record.Close()
		return err
	}
	// Everything is built and valid: the flow settings are stored for the
	// next interval and the dispatcher swapped in, together.
	if err := r.agg.Reconfigure(set.reloadable()); err != nil {
		closeUnused(d)
		return err
	}
	if err := r.stage.Reconfigure(set.detect); err != nil {
		closeUnused(d)
		return err
	}
	if err := r.alerting.swap(d); err != nil {
		closeUnused(d)
		return err
	}
	r.log.SetLevel(set.level)
	r.current = fs
	e := r.log.WithField("changed", strings.Join(reloadChanges, "; "))
	if len(restartChanges) > 0 {
		e = e.WithField("need_restart", strings.Join(restartChanges, "; "))
	}
	e.Info("configuration reloaded (alert record reopened, flow state kept)")
	return nil
}

// closeUnused closes a dispatcher that never received an alert.
func closeUnused(d *alert.Dispatcher) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	d.Close(ctx)
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
