package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture/sockets"
)

// processOptions holds the process attribution flags.
type processOptions struct {
	lookup bool
	ttl    time.Duration
}

func registerProcessFlags(fs *flag.FlagSet, p *processOptions) {
	fs.BoolVar(&p.lookup, "process_lookup", true, "name the local processes (pid, name, user, command line) owning an alerted flow's sockets, from /proc (Linux, live mode only: always off with -pcapfile, whose traffic is not this host's present). Unprivileged, only the processes of wherefore's own user are visible; CAP_SYS_PTRACE shows all")
	fs.DurationVar(&p.ttl, "process_cache_ttl", 30*time.Second, "how long a flow's process attribution, and the map of sockets to processes, are reused before /proc is read again")
}

// validate names the bad flag.
func (p processOptions) validate() error {
	if p.lookup && p.ttl <= 0 {
		return fmt.Errorf("-process_cache_ttl %v: must be positive", p.ttl)
	}
	return nil
}

// openSocketOwners returns the process lookup, or nil where /proc cannot
// serve it, which is logged rather than fatal since the flag is on by
// default. checkSettings has validated p.
func openSocketOwners(p processOptions, log logrus.FieldLogger) *sockets.Owners {
	if runtime.GOOS != "linux" {
		log.WithField("os", runtime.GOOS).Info("process attribution needs Linux's /proc: alerts will not name processes")
		return nil
	}
	owners, err := sockets.NewOwners("", p.ttl)
	if err != nil {
		log.WithError(err).Warn("process attribution unavailable: alerts will not name processes")
		return nil
	}
	log.WithField("cache_ttl", p.ttl).Info("process attribution on: alerts of this host's flows name their processes")
	return owners
}

// processLookups gives each dispatcher the process enricher its options
// ask for: none with -pcapfile (the sockets of the moment have nothing to
// do with a recorded capture) or -process_lookup=false. A reload that turns
// the lookup on, or changes the cache's TTL, gets a fresh lookup; one that
// changes neither keeps the warm cache. Calls come from one goroutine at a
// time: the start, then reloads.
type processLookups struct {
	fileMode bool
	log      logrus.FieldLogger
	owners   *sockets.Owners
	ttl      time.Duration
}

func (l *processLookups) enricher(opts *options) func(context.Context, *alert.Alert) {
	if l.fileMode || !opts.process.lookup {
		return nil
	}
	if l.owners == nil || l.ttl != opts.process.ttl {
		l.owners, l.ttl = openSocketOwners(opts.process, l.log), opts.process.ttl
	}
	if l.owners == nil {
		return nil
	}
	return processEnricher(l.owners)
}

// processEnricher names the local processes behind each firing alert whose
// source or destination is an address of this host. It runs on the
// dispatcher goroutine, once per alert, never on the capture path.
func processEnricher(owners *sockets.Owners) func(context.Context, *alert.Alert) {
	return func(ctx context.Context, a *alert.Alert) {
		if a.Resolved || a.Test || a.IsSummary() {
			return
		}
		src, err1 := netip.ParseAddr(a.Src)
		dst, err2 := netip.ParseAddr(a.Dst)
		if err1 != nil || err2 != nil || (!owners.IsLocal(src) && !owners.IsLocal(dst)) {
			// Forwarded traffic: no socket of this host to look for, and
			// a note on every alert of a router would be noise.
			return
		}
		a.Process, a.ProcessNote = owners.Lookup(ctx, src, dst)
	}
}

// chainEnrichers runs the non-nil enrichers in order; nil when there are
// none, so the dispatcher skips enrichment altogether.
func chainEnrichers(fs ...func(context.Context, *alert.Alert)) func(context.Context, *alert.Alert) {
	var live []func(context.Context, *alert.Alert)
	for _, f := range fs {
		if f != nil {
			live = append(live, f)
		}
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	return func(ctx context.Context, a *alert.Alert) {
		for _, f := range live {
			f(ctx, a)
		}
	}
}
