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

	"github.com/wherefore/wherefore/alert"
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

// kernelCache holds the latest libpcap counters. Asking libpcap at scrape
// time would wait for the capture loop's read to return (up to -w).
type kernelCache struct {
	v atomic.Pointer[capture.KernelStats]
}

func (k *kernelCache) store(s capture.KernelStats) {
	k.v.Store(&s)
}

func (k *kernelCache) load() (capture.KernelStats, bool) {
	if p := k.v.Load(); p != nil {
		return *p, true
	}
	return capture.KernelStats{}, false
}

// healthy reports whether the capture loop ran within stallAfter.
func healthy(c *capture.Counters, stallAfter time.Duration, now time.Time) (bool, time.Duration) {
	since := now.Sub(time.Unix(0, c.Heartbeat.Load()))
	return since <= stallAfter, since
}

// startMetrics serves /metrics and /healthz until the returned stop is
// called. The listener is opened here, so a bad address fails at start.
func startMetrics(o *options, p *pipeline) (stop func(), err error) {
	if o.metrics.addr == "" {
		return func() {}, nil
	}
	stallAfter := stallAfter(o)
	reg := prometheus.NewRegistry()
	// One collector per package, as node_exporter has one per subsystem.
	reg.MustRegister(
		capture.NewCollector(p.counters, p.kernel.load),
		flow.NewCollector(p.agg, "anomalyzer").WithAlertsBy(p.stage.AlertsBy),
		detect.NewCollector(p.stage),
		alert.NewCollector(p.alerting.stats),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if p.recorder != nil {
		reg.MustRegister(archive.NewCollector(p.recorder))
	}
	log := p.log
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if page := p.report.handler(); page != nil {
		mux.Handle("/", page)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, since := healthy(p.counters, stallAfter, time.Now())
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
