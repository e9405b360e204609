package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/detect"
)

// pipeline owns the running stages: capture source, evidence recorder,
// alert delivery, flow aggregation and the helpers around them. Each stage
// is registered with its stop as it starts; stop runs them in reverse, each
// one returning only once its goroutines have ended, so alerts produced
// while the flows close reach a dispatcher that is still open, and a
// dispatcher archiving them finds the recorder still open.
type pipeline struct {
	o        *options
	set      *settings
	log      *logrus.Logger
	fileMode bool

	src       capture.Source
	counters  *capture.Counters
	kernel    *kernelCache
	recorder  *archive.Recorder // nil without evidence
	enrich    func(context.Context, *alert.Alert)
	tap       capture.Tap
	alerting  *alerting
	agg       *flow.Aggregator
	spoolDir  string
	processes *processLookups
	stage     *detect.Stage
	report    *reporter

	stages []stage
}

// stage is one started part of the pipeline and how to stop it.
type stage struct {
	name string
	stop func()
}

// started records a stage that stop must end.
func (p *pipeline) started(name string, stop func()) {
	p.stages = append(p.stages, stage{name, stop})
}

// stop ends every started stage, the last started first. A second call
// does nothing.
func (p *pipeline) stop() {
	for i := len(p.stages) - 1; i >= 0; i-- {
		p.log.WithField("stage", p.stages[i].name).Debug("stopping")
		p.stages[i].stop()
	}
	p.stages = nil
}

// start opens the source, the recorder, alert delivery and the flow
// aggregator, in that order. On error, stop ends what was started.
func (p *pipeline) start(explicit map[string]bool, stdout io.Writer) error {
	o := p.o
	remote, err := remoteNotifiers(o, explicit)
	if err != nil {
		return err
	}
	// Undelivered alerts wait on disk for the next start. An analyst reading
	// a file gets a spool only when asking for a log directory.
	if !p.fileMode || explicit["l"] || explicit["log_dir"] {
		p.spoolDir = filepath.Join(o.logDir, "alert_spool")
	}
	if err := p.startSource(); err != nil {
		return err
	}
	rep, err := newReporter(o, p.src.Describe())
	if err != nil {
		return err
	}
	p.report = rep
	p.started("report", rep.close)
	if evidenceEnabled(o) {
		rec, err := openRecorder(o, p.src, p.log)
		if err != nil {
			return err
		}
		p.recorder, p.enrich, p.tap = rec, rep.evidence(archiveEnricher(rec, p.log)), rec.Tap
		p.started("evidence", func() { closeRecorder(rec, p.log) })
	}
	record, err := alertRecord(o, stdout, p.fileMode)
	if err != nil {
		return err
	}
	// Processes are looked up before archiving: sockets vanish, while
	// archiving takes time moving files.
	d, err := newDispatcher(p.set.dispatch, p.log, record, remote, p.spoolDir, p.fileMode,
		chainEnrichers(p.processOn(o), p.enrich))
	if err != nil {
		record.Close()
		return err
	}
	p.alerting = &alerting{d: d, log: p.log}
	p.started("alerting", func() {
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout/2)
		defer cancel()
		if err := p.alerting.close(ctx); err != nil {
			p.log.WithError(err).Warn("alert delivery did not finish; what is left is spooled for the next start")
		}
	})
	submit := rep.emit(p.alerting.submit)
	stage, err := detect.New(p.set.detect, p.set.flow.LocalNets, submit)
	if err != nil {
		return err
	}
	learned := &learnedState{path: statePath(o, p.fileMode), every: o.detect.stateEvery, log: p.log, stage: stage}
	learned.load()
	p.stage = stage
	// Registered before the flows, so it runs after they closed: the last
	// interval's learning is saved too.
	p.started("learned state", func() { learned.save(false) })
	fcfg := p.set.flow
	fcfg.Observer = savingObserver{Stage: stage, state: learned}
	agg, err := flow.New(rep.withObserver(fcfg), submit)
	if err != nil {
		return err
	}
	p.agg = agg
	// Closing the aggregator closes the interval in flight: its alerts go
	// to the dispatcher, which is stopped after it.
	p.started("flows", agg.Close)
	return nil
}

// startSource opens the capture and registers its close, which first
// keeps libpcap's final counters for the metrics and the summary.
func (p *pipeline) startSource() error {
	o := p.o
	src, err := capture.Open(o.capture)
	if err != nil {
		return withInterfaceHint(err, o)
	}
	p.src = src
	p.counters = new(capture.Counters)
	p.kernel = new(kernelCache)
	p.started("capture", func() {
		if ks, ok := src.Stats(); ok {
			p.kernel.store(ks)
			p.log.WithFields(logrus.Fields{"received": ks.Received, "dropped": ks.Dropped, "if_dropped": ks.InterfaceDropped}).Info("kernel capture counters")
		}
		src.Close()
	})
	if !capture.Supported(src.LinkType()) {
		p.log.WithField("link_type", src.LinkType()).Warn("link type not supported: its packets are counted as skipped (supported: Ethernet, 802.1Q, Linux SLL/SLL2, raw IP, BSD loopback)")
	}
	return nil
}

// processOn is the process enricher factory shared by the start and the
// reloads, so a reload that keeps the settings keeps the warm cache.
func (p *pipeline) processOn(o *options) func(context.Context, *alert.Alert) {
	if p.processes == nil {
		p.processes = &processLookups{fileMode: p.fileMode, log: p.log}
	}
	return p.processes.enricher(o)
}

// closeRecorder flushes and closes every pcap; a second call does nothing.
func closeRecorder(rec *archive.Recorder, log *logrus.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rec.Close(ctx); err != nil && !errors.Is(err, archive.ErrClosed) {
		log.WithError(err).Error("closing the packet logs")
	}
}
