package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/detect"
)

// anomalyConfig maps the -anom_* flags onto the anomaly tests' settings.
func anomalyConfig(o *options) anomaly.Config {
	var methods []string
	for _, m := range strings.Split(anomMethods(o), ",") {
		if m = strings.TrimSpace(m); m != "" {
			methods = append(methods, m)
		}
	}
	return anomaly.Config{
		Delay:       o.delay,
		Sensitivity: o.sensitivity,
		UpperBound:  o.upperBound.value(),
		LowerBound:  o.lowerBound.value(),
		ActiveSize:  o.activeSize,
		NSeasons:    o.nSeasons,
		PermCount:   o.permCount,
		Methods:     methods,
	}
}

func newLogger(level string, w io.Writer) (*logrus.Logger, error) {
	lvl, err := logrus.ParseLevel(level)
	if err != nil || lvl < logrus.ErrorLevel {
		return nil, fmt.Errorf("-loglevel %q: valid levels are debug, info, warn, error", level)
	}
	log := logrus.New()
	log.SetOutput(w)
	log.SetLevel(lvl)
	log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339})
	return log, nil
}

// validate checks every flag that does not belong to one package's Config.
func validate(o *options) error {
	if o.sensitivity < 0 || o.sensitivity > 1 {
		return fmt.Errorf("-anom_sensitivity %g: must be in [0,1] (the magnitude test's probability is capped at 1, so a larger gate would silence every alert)", o.sensitivity)
	}
	if o.activeSize < 1 {
		return fmt.Errorf("-anom_active_size %d: must be at least 1", o.activeSize)
	}
	if o.nSeasons < 0 {
		return fmt.Errorf("-anom_n_seasons %d: must be positive (0 means 4)", o.nSeasons)
	}
	if o.permCount < 0 {
		return fmt.Errorf("-anom_perm_count %d: must be positive (0 means 500)", o.permCount)
	}
	switch o.progress {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("-progress %q: valid values are auto, on, off", o.progress)
	}
	if o.maxPcapLogSize < 1 {
		return fmt.Errorf("-max_pcap_log_size %d: must be at least 1 MB", o.maxPcapLogSize)
	}
	if o.maxPcapRotations < 1 {
		return fmt.Errorf("-max_pcap_rotations %d: must be at least 1", o.maxPcapRotations)
	}
	return nil
}

// checkSettings validates what the flags say beyond each package's own
// Config and builds the anomaly settings and the address filter; start-up
// and reloads share it.
func checkSettings(o *options) (anomaly.Config, *flow.Filter, error) {
	if err := validate(o); err != nil {
		return anomaly.Config{}, nil, err
	}
	if err := o.process.validate(); err != nil {
		return anomaly.Config{}, nil, err
	}
	if err := validateDetect(o); err != nil {
		return anomaly.Config{}, nil, err
	}
	acfg := anomalyConfig(o)
	if err := acfg.Validate(); err != nil {
		return anomaly.Config{}, nil, fmt.Errorf("anomaly tests (-anom_*): %w", err)
	}
	filter, err := flow.ParseFilter(o.filterCIDR, o.filterBool, o.filterSrc, o.filterDst)
	if err != nil {
		return anomaly.Config{}, nil, err
	}
	return acfg, filter, nil
}

// runPipeline wires capture -> flow -> alert and runs until the capture ends
// or a signal arrives.
func runPipeline(o *options, fs *flag.FlagSet, args []string, explicit map[string]bool, stdout, stderr io.Writer) int {
	log, err := newLogger(o.logLevel, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "wherefore:", err)
		return 2
	}
	fail := func(err error) int {
		log.WithError(err).Error("wherefore cannot start")
		return 2
	}
	acfg, filter, err := checkSettings(o)
	if err != nil {
		return fail(err)
	}
	fileMode := o.pcapfile != ""
	remote, err := remoteNotifiers(o, explicit)
	if err != nil {
		return fail(err)
	}
	if o.notify.testAlert {
		return runTestAlert(o, stdout, remote)
	}
	record, err := alertRecord(o, stdout, fileMode)
	if err != nil {
		return fail(err)
	}
	// Undelivered alerts wait on disk for the next start. An analyst reading
	// a file gets a spool only when asking for a log directory.
	spoolDir := ""
	if !fileMode || explicit["l"] || explicit["log_dir"] {
		spoolDir = filepath.Join(o.logDir, "alert_spool")
	}

	ccfg := capture.Config{
		Interface: o.iface, File: o.pcapfile, Snaplen: o.snaplen, ReadTimeout: o.wireTO,
		Promisc: o.promisc, BufferSize: o.bufferSize, BPF: o.bpf, Daq: o.daq, FileReader: o.fileReader,
	}
	src, err := capture.Open(ccfg)
	if err != nil {
		return fail(withInterfaceHint(err, o))
	}
	defer src.Close()
	if !capture.Supported(src.LinkType()) {
		log.WithField("link_type", src.LinkType()).Warn("link type not supported: its packets are counted as skipped (supported: Ethernet, 802.1Q, Linux SLL/SLL2, raw IP, BSD loopback)")
	}

	var recorder *archive.Recorder
	var enrich func(context.Context, *alert.Alert)
	var tap capture.Tap
	if evidenceEnabled(o) {
		recorder, err = openRecorder(o, src, log)
		if err != nil {
			return fail(err)
		}
		defer closeRecorder(recorder, log)
		enrich = archiveEnricher(recorder, log)
		tap = recorder.Tap
	}
	// Processes are looked up before archiving: sockets vanish, while
	// archiving takes time moving files.
	processOn := (&processLookups{fileMode: fileMode, log: log}).enricher
	dispatcher, err := newDispatcher(o, log, record, remote, spoolDir, fileMode, chainEnrichers(processOn(o), enrich))
	if err != nil {
		return fail(err)
	}
	al := &alerting{d: dispatcher}
	// The dispatcher closes before the recorder (deferred earlier, so run
	// later): alerts still queued need the recorder to archive their packets.
	dispatcherClosed := false
	closeDispatcher := func() {
		if dispatcherClosed {
			return
		}
		dispatcherClosed = true
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := al.current().Close(ctx); err != nil {
			log.WithError(err).Warn("alert delivery did not finish; what is left is spooled for the next start")
		}
	}
	defer closeDispatcher()
	fcfg := flow.Config{
		Interval:     o.interval,
		SeriesCap:    o.gvCap,
		Shards:       o.shards,
		IdleTimeout:  o.idleTimeout,
		MaxFlows:     o.maxFlows,
		MinBytes:     anomMinBytes(o),
		Threshold:    o.threshold,
		ResolveAfter: o.resolveAfter,
		Filter:       filter,
		Host:         o.host,
		Seed:         o.seed,
		NewDetector:  detectorFactory(acfg),
		Baseline:     func(series []float64) float64 { return anomaly.ReferenceMean(series, acfg) },
	}
	if err := flowDetectSettings(o, &fcfg); err != nil {
		return fail(err)
	}
	dcfg, err := detectConfig(o, &fcfg)
	if err != nil {
		return fail(err)
	}
	stage, err := detect.New(dcfg, fcfg.LocalNets, al.submit)
	if err != nil {
		return fail(err)
	}
	learned := &learnedState{path: statePath(o, fileMode), every: o.detect.stateEvery, log: log, stage: stage}
	learned.load()
	fcfg.Observer = savingObserver{Stage: stage, state: learned}
	agg, err := flow.New(fcfg, al.submit)
	if err != nil {
		return fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	stopHUP := handleSIGHUP(ctx, &reloader{args: args, current: fs, log: log, stdout: stdout, fileMode: fileMode,
		spoolDir: spoolDir, enrich: enrich, alerting: al, agg: agg, stage: stage, processOn: processOn})
	defer stopHUP()

	counters := new(capture.Counters)
	reader := &capture.Reader{Source: src, Sink: agg, Counters: counters, Tap: tap, Live: !fileMode}
	log.WithFields(logrus.Fields{
		"source":    src.Describe(),
		"interval":  o.interval,
		"filter":    filter.String(),
		"bpf":       o.bpf,
		"methods":   anomLogMethods(o, acfg),
		"detectors": o.detect.detectors,
	}).Info("wherefore started")

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fail(fmt.Errorf("-cpuprofile: %w", err))
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(fmt.Errorf("-cpuprofile: %w", err))
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	start := time.Now()
	progressDone := startProgress(ctx, o, stderr, counters, fileSize(o.pcapfile))
	kernel := new(kernelCache)
	statsDone := watchKernel(ctx, log, src, kernel, 5*time.Second, time.Minute)
	stopMetrics, err := startMetrics(o, pipelineStats{counters: counters, kernel: kernel, flows: agg,
		alerting: al, recorder: recorder, detector: "anomalyzer", stage: stage}, log)
	if err != nil {
		statsDone()
		return fail(err)
	}
	stopWatchdog := notifySystemd(ctx, log, counters, stallAfter(o))
	readErr := reader.Run(ctx)
	stopWatchdog()
	statsDone()
	progressDone()
	agg.Close()
	learned.save(false)
	closeDispatcher()
	if recorder != nil {
		// Before the summary, so it counts every packet written at Close.
		closeRecorder(recorder, log)
	}
	elapsed := time.Since(start)

	if ks, ok := src.Stats(); ok {
		kernel.store(ks)
		log.WithFields(logrus.Fields{"received": ks.Received, "dropped": ks.Dropped, "if_dropped": ks.InterfaceDropped}).Info("kernel capture counters")
	}
	stopMetrics()
	if fileMode || readErr != nil {
		var evidence *archive.Stats
		if recorder != nil {
			st := recorder.Stats()
			evidence = &st
		}
		printSummary(stderr, summary{
			source: src.Describe(), counters: counters, flows: agg.Stats(),
			delivery: al.stats(), evidence: evidence, elapsed: elapsed, err: readErr,
		})
	}
	if readErr != nil {
		log.WithError(readErr).Error("capture stopped")
		return 1
	}
	if ctx.Err() != nil {
		log.Info("stopped by signal; the interval in flight was closed and the alert record flushed")
	}
	return 0
}

// withInterfaceHint adds the interfaces libpcap can see to an error about a
// missing interface, the commonest first-run mistake ("eth0" on a host that
// names it ens3).
func withInterfaceHint(err error, o *options) error {
	if o.pcapfile != "" {
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
	return max(3*o.wireTO, 10*time.Second)
}

// closeRecorder flushes and closes every pcap; a second call does nothing.
func closeRecorder(rec *archive.Recorder, log *logrus.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rec.Close(ctx); err != nil && !errors.Is(err, archive.ErrClosed) {
		log.WithError(err).Error("closing the packet logs")
	}
}
