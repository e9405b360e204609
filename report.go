package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/report"
)

// reportOptions holds the flags of the HTML report and the live page.
type reportOptions struct {
	file   string
	points int
	top    int
	alerts int
	series int
	window time.Duration
}

func registerReportFlags(fs *flag.FlagSet, r *reportOptions) {
	fs.StringVar(&r.file, "report", "", "with -pcapfile: write an HTML report of the capture (traffic, every alert against what was expected, top talkers) to this `file`; it opens offline in any browser")
	fs.IntVar(&r.points, "report_points", 720, "most timeline points the report and the live page keep (a longer capture shows several intervals per point)")
	fs.IntVar(&r.top, "report_top", 20, "talkers shown per top-talkers table (fifty times as many, at least 1000, are tracked)")
	fs.IntVar(&r.alerts, "report_alerts", 50, "most alerts shown with their charts: a report keeps the most probable, the live page the newest")
	fs.IntVar(&r.series, "report_series", 200, "most subjects (pairs, sources, destinations) whose series the report and the live page keep for the alert charts: each interval's heaviest while there is room, and every alerted one from its alert on")
	fs.DurationVar(&r.window, "page_window", time.Hour, "how far back the live page at / of -metrics_addr looks")
}

// pageRefresh is how often the live page reloads itself, and pageCache how
// long a rendered page is served again, so many viewers cost one render.
const (
	pageRefresh = 30 * time.Second
	pageCache   = 2 * time.Second
)

// reporter feeds the report and the live page. A nil *reporter (neither a
// capture file nor -metrics_addr) does nothing and costs nothing.
type reporter struct {
	o        *options
	source   string
	c        *report.Collector
	started  time.Time
	counters *capture.Counters
	flows    func() flow.Stats
	closed   bool // by the goroutine that runs the pipeline

	mu       sync.Mutex // guards the rendered live page
	page     []byte
	pageTime time.Time
}

func reportConfig(o *options) report.Config {
	cfg := report.Config{Interval: o.flow.Interval, Points: o.report.points, Top: o.report.top, Alerts: o.report.alerts, Series: o.report.series}
	// Out and in are split by flow with the local networks the detectors
	// use.
	if strings.TrimSpace(o.detect.localNets) != "" {
		cfg.LocalText = "the networks of -local_nets (" + o.detect.localNets + ")"
	}
	if o.capture.File == "" {
		// A daemon's page shows the recent past and must never hold up
		// the capture.
		cfg.Window, cfg.Lossy = o.report.window, true
	}
	return cfg
}

// newReporter starts the collector when a summary, report or live page
// will use it: for a capture file, and with -metrics_addr.
func newReporter(o *options, source string) (*reporter, error) {
	if o.capture.File == "" && o.metrics.addr == "" {
		return nil, nil
	}
	if o.report.file != "" {
		// Fail now rather than after an hour of analysis.
		f, err := os.CreateTemp(filepath.Dir(o.report.file), ".wherefore-report-*")
		if err != nil {
			return nil, fmt.Errorf("-report %s: %w", o.report.file, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	c, err := report.New(reportConfig(o))
	if err != nil {
		return nil, err
	}
	return &reporter{o: o, source: source, c: c, started: time.Now()}, nil
}

// emit lets the collector copy each interval's alerts before next gets them.
func (r *reporter) emit(next func([]*alert.Alert)) func([]*alert.Alert) {
	if r == nil {
		return next
	}
	return r.c.Emit(next)
}

// withObserver is where the report joins the flow aggregator's Observers:
// it returns cfg with the collector's Observer added to any already set
// (detection), so both see every closed interval.
func (r *reporter) withObserver(cfg flow.Config) flow.Config {
	if r == nil {
		return cfg
	}
	cfg.Observer = flow.Observers(cfg.Observer, r.c.Observer())
	return cfg
}

// watch remembers the counters and flow statistics the page shows.
func (r *reporter) watch(agg *flow.Aggregator, counters *capture.Counters) {
	if r != nil {
		r.counters, r.flows = counters, agg.Stats
	}
}

// evidence is a dispatcher enricher recording the alert's evidence files.
func (r *reporter) evidence(next func(context.Context, *alert.Alert)) func(context.Context, *alert.Alert) {
	if r == nil {
		return next
	}
	return chainEnrichers(next, func(_ context.Context, a *alert.Alert) { r.c.Evidence(a) })
}

// run describes the run for the page.
func (r *reporter) run(elapsed time.Duration) report.Run {
	o := r.o
	run := report.Run{
		Source: r.source, Host: o.flow.Host, Elapsed: elapsed, Generated: time.Now().UTC(), Sensitivity: o.anomaly.Sensitivity,
		Settings: []report.Setting{
			{Name: "transfer_interval", Value: o.flow.Interval.String()},
			{Name: "anom_methods", Value: strings.Join(o.anomaly.Methods, ",")},
			{Name: "anom_sensitivity", Value: strconv.FormatFloat(o.anomaly.Sensitivity, 'g', -1, 64)},
			{Name: "alert_threshold", Value: strconv.FormatFloat(o.flow.Threshold, 'g', -1, 64)},
			{Name: "alert_min_bytes", Value: strconv.FormatUint(o.flow.MinBytes, 10)},
			{Name: "anom_gv_cap", Value: strconv.Itoa(o.flow.SeriesCap)},
			{Name: "anom_n_seasons", Value: strconv.Itoa(o.anomaly.NSeasons)},
			{Name: "anom_active_size", Value: strconv.Itoa(o.anomaly.ActiveSize)},
			{Name: "seed", Value: strconv.FormatUint(o.flow.Seed, 10)},
		},
	}
	if o.capture.BPF != "" {
		run.Settings = append(run.Settings, report.Setting{Name: "f", Value: o.capture.BPF})
	}
	if o.filterCIDR != "" {
		run.Settings = append(run.Settings, report.Setting{Name: "filter_ip_CIDR", Value: o.filterCIDR},
			report.Setting{Name: "filter_bool", Value: strconv.FormatBool(o.filterBool)})
	}
	if r.counters != nil {
		run.Packets, run.Bytes = r.counters.Packets.Load(), r.counters.Bytes.Load()
		skipped := r.counters.SkippedSnapshot()
		for _, why := range capture.SkipReasons() {
			if skipped[why] > 0 {
				run.Skipped = append(run.Skipped, report.Count{Reason: why.String(), N: skipped[why]})
			}
		}
	}
	if r.flows != nil {
		run.Filtered = r.flows().Filtered
	}
	return run
}

// ServeHTTP serves the live page: the same page as the report, for the
// recent window, rendered at most once per pageCache from a snapshot.
func (r *reporter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/" {
		http.NotFound(w, req)
		return
	}
	r.mu.Lock()
	if r.page == nil || time.Since(r.pageTime) > pageCache {
		var buf bytes.Buffer
		run := r.run(time.Since(r.started))
		run.Refresh = pageRefresh
		if err := report.Render(&buf, r.c.Snapshot(), run); err != nil {
			r.mu.Unlock()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		r.page, r.pageTime = buf.Bytes(), time.Now()
	}
	page := r.page
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(page)
}

// handler is the live page, or nil without a collector.
func (r *reporter) handler() http.Handler {
	if r == nil {
		return nil
	}
	return r
}

// finish closes the collector once the capture and the alerts are done,
// adds the top talkers to the summary on w, and writes -report. The live
// page keeps serving the final snapshot until the server stops.
func (r *reporter) finish(w io.Writer, elapsed time.Duration) error {
	if r == nil {
		return nil
	}
	r.close()
	snap := r.c.Snapshot()
	report.WriteTopTalkers(w, snap, 3)
	if r.o.report.file == "" {
		return nil
	}
	if err := writeReport(r.o.report.file, snap, r.run(elapsed)); err != nil {
		return err
	}
	fmt.Fprintf(w, "  report        %s\n", r.o.report.file)
	return nil
}

// close stops the collector; safe to call more than once.
func (r *reporter) close() {
	if r == nil || r.closed {
		return
	}
	r.closed = true
	r.c.Close()
}

// writeReport writes the page next to its destination and renames it into
// place, so a browser never opens half a report.
func writeReport(path string, snap *report.Snapshot, run report.Run) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".wherefore-report-*")
	if err != nil {
		return fmt.Errorf("-report %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := report.Render(f, snap, run); err != nil {
		return fmt.Errorf("-report %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("-report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("-report %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("-report %s: %w", path, errors.Join(err, os.Remove(f.Name())))
	}
	return nil
}
