package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/detect"
)

type metricsOptions struct {
	addr       string
	stallAfter time.Duration
}

func registerMetricsFlags(fs *flag.FlagSet, m *metricsOptions) {
	fs.StringVar(&m.addr, "metrics_addr", "", "serve Prometheus /metrics and /healthz on this `address` (e.g. 127.0.0.1:9120; empty: off)")
	fs.DurationVar(&m.stallAfter, "stall_after", 0, "/healthz fails when the capture loop has not run for this long (0: 3 x -w, at least 10s)")
}

// pipelineStats are the components whose counters the metrics read. Each
// is read with its own snapshot method at scrape time, so metrics cost the
// hot path nothing.
type pipelineStats struct {
	counters *capture.Counters
	kernel   *kernelCache
	flows    *flow.Aggregator
	alerting *alerting
	recorder *archive.Recorder // nil without evidence
	detector string
	stage    *detect.Stage // nil without the detection stage
}

// kernelCache holds the latest libpcap counters. Asking libpcap at scrape
// time would wait for the capture loop's read to return (up to -w).
type kernelCache struct {
	v  atomic.Pointer[capture.KernelStats]
	ok atomic.Bool
}

func (k *kernelCache) store(s capture.KernelStats) {
	k.v.Store(&s)
	k.ok.Store(true)
}

func (k *kernelCache) load() (capture.KernelStats, bool) {
	if p := k.v.Load(); p != nil {
		return *p, true
	}
	return capture.KernelStats{}, false
}

// collector turns the snapshots into Prometheus metrics on each scrape.
type collector struct {
	s     pipelineStats
	descs map[string]*prometheus.Desc
}

func newCollector(s pipelineStats) *collector {
	return &collector{s: s, descs: metricDescs()}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("wherefore_"+name, help, labels, nil)
}

var _ prometheus.Collector = (*collector)(nil)

// metricDescs lists every metric wherefore exports (the README's list).
func metricDescs() map[string]*prometheus.Desc {
	return map[string]*prometheus.Desc{
		"packets":          desc("packets_total", "Packets read from the capture source."),
		"bytes":            desc("bytes_total", "Wire bytes of the packets accounted to flows."),
		"skipped":          desc("decode_skipped_total", "Packets that could not be accounted to an IP flow, by reason.", "reason"),
		"kernel_received":  desc("kernel_received_total", "Packets libpcap's filter accepted (live capture)."),
		"kernel_dropped":   desc("kernel_dropped_total", "Packets the kernel dropped for lack of buffer space (live capture)."),
		"kernel_ifdropped": desc("kernel_interface_dropped_total", "Packets the interface or driver dropped (live capture)."),
		"heartbeat":        desc("capture_heartbeat_timestamp_seconds", "When the capture loop last ran (Unix time)."),
		"flows":            desc("flows", "Flows tracked now."),
		"flows_created":    desc("flows_created_total", "Flows created."),
		"flows_expired":    desc("flows_expired_total", "Flows removed after the idle timeout."),
		"flows_evicted":    desc("flows_evicted_total", "Flows evicted because the table was full (-max_flows)."),
		"filtered":         desc("filtered_packets_total", "Packets dropped by the CIDR filter."),
		"late":             desc("late_packets_total", "Packets older than the open interval (counted in it)."),
		"outliers":         desc("time_outlier_packets_total", "Packets whose timestamp leapt ahead without confirmation (counted in the open interval)."),
		"intervals":        desc("intervals_closed_total", "Transfer intervals closed."),
		"scored":           desc("flow_intervals_scored_total", "Flow-intervals scored by the detector."),
		"eval_seconds":     desc("evaluation_seconds_total", "Time spent closing intervals and scoring flows."),
		"alerts":           desc("alerts_total", "Alerts raised, by detector.", "detector"),
		"resolved":         desc("resolved_total", "Back-to-normal notices."),
		"alert_queue":      desc("alert_queue_depth", "Alerts waiting for the dispatcher."),
		"alert_overflow":   desc("alert_queue_overflow_total", "Alerts that found the dispatcher queue full (still recorded)."),
		"suppressed":       desc("alerts_suppressed_total", "Firing alerts kept from the notifiers, by reason.", "reason"),
		"delivered":        desc("notifier_delivered_total", "Alerts delivered, by notifier.", "notifier"),
		"failed":           desc("notifier_failed_total", "Deliveries rejected or failed, by notifier.", "notifier"),
		"retried":          desc("notifier_retries_total", "Delivery attempts after the first, by notifier.", "notifier"),
		"spooled":          desc("notifier_spooled_total", "Alerts spooled to disk for later delivery, by notifier.", "notifier"),
		"notifier_dropped": desc("notifier_dropped_total", "Alerts lost because they could not be spooled, by notifier.", "notifier"),
		"notifier_queue":   desc("notifier_queue_depth", "Alerts waiting in a notifier's queue.", "notifier"),
		"spool_depth":      desc("notifier_spool_depth", "Alerts waiting in a notifier's spool.", "notifier"),
		"ev_written":       desc("evidence_packets_written_total", "Packets written to per-connection pcaps."),
		"ev_dropped":       desc("evidence_packets_dropped_total", "Packets not logged because the writer queue was full."),
		"ev_lost":          desc("evidence_packets_lost_total", "Packets not logged because a file could not be written."),
		"ev_files":         desc("evidence_files_open", "Pcap files open now."),
		"ev_archives":      desc("evidence_archives_total", "Alerts whose packets were archived."),
		"ev_ring":          desc("evidence_ring_bytes", "Flight recorder memory in use."),
		"ev_errors":        desc("evidence_errors_total", "Evidence file errors, by kind.", "kind"),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	d := c.descs
	counter := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d[name], prometheus.CounterValue, v, labels...)
	}
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d[name], prometheus.GaugeValue, v, labels...)
	}
	s := c.s
	counter("packets", float64(s.counters.Packets.Load()))
	counter("bytes", float64(s.counters.Bytes.Load()))
	skipped := s.counters.SkippedSnapshot()
	for _, r := range capture.SkipReasons() {
		counter("skipped", float64(skipped[r]), r.String())
	}
	if ks, ok := s.kernel.load(); ok {
		counter("kernel_received", float64(ks.Received))
		counter("kernel_dropped", float64(ks.Dropped))
		counter("kernel_ifdropped", float64(ks.InterfaceDropped))
	}
	gauge("heartbeat", float64(s.counters.Heartbeat.Load())/1e9)

	f := s.flows.Stats()
	gauge("flows", float64(f.Flows))
	counter("flows_created", float64(f.Created))
	counter("flows_expired", float64(f.Expired))
	counter("flows_evicted", float64(f.Evicted))
	counter("filtered", float64(f.Filtered))
	counter("late", float64(f.Late))
	counter("outliers", float64(f.TimeOutliers))
	counter("intervals", float64(f.IntervalsClosed))
	counter("scored", float64(f.Evaluated))
	counter("eval_seconds", f.EvalTime.Seconds())
	counter("alerts", float64(f.Alerts), s.detector)
	if s.stage != nil {
		for name, n := range s.stage.AlertsBy() {
			counter("alerts", float64(n), name)
		}
	}
	counter("resolved", float64(f.Resolved))

	a := s.alerting.stats()
	gauge("alert_queue", float64(a.QueueDepth))
	counter("alert_overflow", float64(a.Overflow))
	counter("suppressed", float64(a.Cooldown), "cooldown")
	counter("suppressed", float64(a.RateLimited), "rate_limit")
	for _, n := range a.Notifiers {
		counter("delivered", float64(n.Delivered), n.Name)
		counter("failed", float64(n.Failed), n.Name)
		if n.Remote {
			counter("retried", float64(n.Retried), n.Name)
			counter("spooled", float64(n.Spooled), n.Name)
			counter("notifier_dropped", float64(n.Dropped), n.Name)
			gauge("notifier_queue", float64(n.QueueDepth), n.Name)
			gauge("spool_depth", float64(n.SpoolDepth), n.Name)
		}
	}

	if s.recorder != nil {
		e := s.recorder.Stats()
		counter("ev_written", float64(e.PacketsWritten))
		counter("ev_dropped", float64(e.PacketsDropped))
		counter("ev_lost", float64(e.PacketsLost))
		gauge("ev_files", float64(e.FilesOpen))
		counter("ev_archives", float64(e.Archives))
		gauge("ev_ring", float64(e.RingBytes))
		for kind, n := range e.Errors {
			counter("ev_errors", float64(n), kind)
		}
	}
}

// healthy reports whether the capture loop ran within stallAfter.
func healthy(c *capture.Counters, stallAfter time.Duration, now time.Time) (bool, time.Duration) {
	since := now.Sub(time.Unix(0, c.Heartbeat.Load()))
	return since <= stallAfter, since
}

// startMetrics serves /metrics and /healthz until the returned stop is
// called. The listener is opened here, so a bad address fails at start.
func startMetrics(o *options, s pipelineStats, log *logrus.Logger) (stop func(), err error) {
	if o.metrics.addr == "" {
		return func() {}, nil
	}
	stallAfter := stallAfter(o)
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(s), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, since := healthy(s.counters, stallAfter, time.Now())
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "capture stalled: the capture loop last ran %s ago (limit %s)\n", since.Round(time.Second), stallAfter)
			return
		}
		fmt.Fprintf(w, "ok: capture loop ran %s ago\n", since.Round(time.Millisecond))
	})
	ln, err := net.Listen("tcp", o.metrics.addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics_addr %s: %w", o.metrics.addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("metrics server stopped")
		}
	}()
	log.WithField("addr", ln.Addr().String()).Info("serving /metrics and /healthz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
