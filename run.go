package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
)

// runPipeline wires capture -> flow -> alert, runs until the capture ends
// or a signal arrives, and stops every stage in reverse order.
func runPipeline(o *options, fs *flag.FlagSet, args []string, explicit map[string]bool, stdout, stderr io.Writer) int {
	progress := newProgressWriter(stderr)
	log, err := newLogger(o.logLevel, progress)
	if err != nil {
		fmt.Fprintln(stderr, "wherefore:", err)
		return 2
	}
	fail := func(err error) int {
		log.WithError(err).Error("wherefore cannot start")
		return 2
	}
	set, err := buildSettings(o)
	if err != nil {
		return fail(err)
	}
	if o.notify.testAlert {
		remote, err := remoteNotifiers(o, explicit)
		if err != nil {
			return fail(err)
		}
		return runTestAlert(o, stdout, remote)
	}
	p := &pipeline{o: o, set: set, log: log, fileMode: o.capture.File != ""}
	// Signals are caught until the very end, so a second SIGTERM does not
	// cut the drain of alert delivery short.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	p.started("signals", stopSignals)
	defer p.stop()
	if err := p.start(explicit, stdout); err != nil {
		return fail(err)
	}
	p.started("reload", handleSIGHUP(ctx, &reloader{args: args, current: fs, log: log, stdout: stdout, fileMode: p.fileMode,
		spoolDir: p.spoolDir, enrich: p.enrich, alerting: p.alerting, agg: p.agg, stage: p.stage, processOn: p.processOn}))
	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return fail(err)
		}
		p.started("cpuprofile", stopProfile)
	}
	if o.memProfile != "" {
		// Started last, so stopped first: the profile holds every
		// stage's memory.
		p.started("memprofile", func() { writeHeapProfile(o.memProfile, log) })
	}
	log.WithFields(logrus.Fields{
		"source":    p.src.Describe(),
		"interval":  o.flow.Interval,
		"filter":    set.flow.Filter.String(),
		"bpf":       o.capture.BPF,
		"methods":   anomLogMethods(o),
		"detectors": o.detect.detectors,
	}).Info("wherefore started")

	start := time.Now()
	p.started("progress", startProgress(ctx, o, progress, p.counters, fileSize(o.capture.File), 2*time.Second))
	p.started("kernel counters", watchKernel(ctx, log, p.src, p.kernel, 5*time.Second, time.Minute))
	stopMetrics, err := startMetrics(o, p)
	if err != nil {
		return fail(err)
	}
	p.started("watchdog", notifySystemd(ctx, log, p.counters, stallAfter(o)))

	p.report.watch(p.agg, p.counters)
	reader := &capture.Reader{Source: p.src, Sink: p.agg, Counters: p.counters, Tap: p.tap, Live: !p.fileMode}
	readErr := reader.Run(ctx)
	interrupted := ctx.Err() != nil
	// The metrics outlive the other stages, so a scrape during the
	// shutdown still answers.
	p.stop()
	elapsed := time.Since(start)
	stopMetrics()

	if p.fileMode || readErr != nil {
		var evidence *archive.Stats
		if p.recorder != nil {
			st := p.recorder.Stats()
			evidence = &st
		}
		printSummary(stderr, summary{
			source: p.src.Describe(), counters: p.counters, flows: p.agg.Stats(),
			detected: p.stage.AlertsBy(), resolved: p.stage.Stats().Resolved,
			delivery: p.alerting.stats(), evidence: evidence, elapsed: elapsed, err: readErr,
		})
		if err := p.report.finish(stderr, elapsed); err != nil {
			log.WithError(err).Error("the report was not written")
			return 1
		}
	}
	if readErr != nil {
		log.WithError(readErr).Error("capture stopped")
		return 1
	}
	if interrupted {
		log.Info("stopped by signal; the interval in flight was closed and the alert record flushed")
	}
	return 0
}

func newLogger(level string, w io.Writer) (*logrus.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	log := logrus.New()
	log.SetOutput(w)
	log.SetLevel(lvl)
	log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339})
	return log, nil
}

// startCPUProfile writes a Go CPU profile to path until the returned stop.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes a Go heap profile of what is in use now to path.
func writeHeapProfile(path string, log *logrus.Logger) {
	f, err := os.Create(path)
	if err == nil {
		runtime.GC() // the profile shows live memory as of the last collection
		err = errors.Join(pprof.WriteHeapProfile(f), f.Close())
	}
	if err != nil {
		log.WithError(err).Error("-memprofile: the heap profile was not written")
	}
}

// withInterfaceHint adds the interfaces libpcap can see to an error about a
// missing interface, the commonest first-run mistake ("eth0" on a host that
// names it ens3).
func withInterfaceHint(err error, o *options) error {
	if o.capture.File != "" {
		return err
	}
	names := capture.InterfaceNames()
	if len(names) == 0 {
		return err
	}
	return fmt.Errorf("%w (interfaces here: %s)", err, strings.Join(names, ", "))
}

func fileSize(path string) int64 {
	if path == "" || path == "-" {
		return 0
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// watchKernel refreshes libpcap's receive and drop counters every refresh
// (for the metrics) and logs them every logEvery while a live capture runs,
// at warning level when packets were dropped since the last report, so an
// overloaded host shows up in the logs.
func watchKernel(ctx context.Context, log *logrus.Logger, src capture.Source, cache *kernelCache, refresh, logEvery time.Duration) func() {
	if _, ok := src.Stats(); !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(refresh)
		defer tick.Stop()
		var last capture.KernelStats
		lastLog := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				ks, ok := src.Stats()
				if !ok {
					continue
				}
				cache.store(ks)
				dropped := ks.Dropped > last.Dropped || ks.InterfaceDropped > last.InterfaceDropped
				if !dropped && now.Sub(lastLog) < logEvery {
					continue
				}
				e := log.WithFields(logrus.Fields{"received": ks.Received, "dropped": ks.Dropped, "if_dropped": ks.InterfaceDropped})
				if dropped {
					e.Warn("kernel dropped packets: raise -buffer_size, narrow -f, or reduce load")
				} else {
					e.Info("kernel capture counters")
				}
				last, lastLog = ks, now
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// stallAfter is how long the capture loop may be silent before it counts
// as stalled: three read timeouts, at least ten seconds.
func stallAfter(o *options) time.Duration {
	if o.metrics.stallAfter > 0 {
		return o.metrics.stallAfter
	}
	return max(3*o.capture.ReadTimeout, 10*time.Second)
}
