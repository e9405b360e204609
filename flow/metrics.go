package flow

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the flow table's and the scoring's counters to
// Prometheus, read from Stats at scrape time.
type Collector struct {
	agg      *Aggregator
	detector string
	// alertsBy, when set, adds alerts counted outside the flow table (the
	// detection stage's), by detector name.
	alertsBy func() map[string]uint64

	flows, created, expired, evicted *prometheus.Desc
	filtered, late, outliers         *prometheus.Desc
	intervals, scored, evalSeconds   *prometheus.Desc
	alerts, resolved                 *prometheus.Desc
	keysDropped, portSetsFull        *prometheus.Desc
}

// NewCollector returns a collector of a; detector labels its alerts.
func NewCollector(a *Aggregator, detector string) *Collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("wherefore_"+name, help, labels, nil)
	}
	return &Collector{
		agg:          a,
		detector:     detector,
		flows:        desc("flows", "Flows tracked now."),
		created:      desc("flows_created_total", "Flows created."),
		expired:      desc("flows_expired_total", "Flows removed after the idle timeout."),
		evicted:      desc("flows_evicted_total", "Flows evicted because the table was full (-max_flows)."),
		filtered:     desc("filtered_packets_total", "Packets dropped by the CIDR filter."),
		late:         desc("late_packets_total", "Packets older than the open interval (counted in it)."),
		outliers:     desc("time_outlier_packets_total", "Packets whose timestamp leapt ahead without confirmation (counted in the open interval)."),
		intervals:    desc("intervals_closed_total", "Transfer intervals closed."),
		scored:       desc("flow_intervals_scored_total", "Flow-intervals scored by the detector."),
		evalSeconds:  desc("evaluation_seconds_total", "Time spent closing intervals and scoring flows."),
		alerts:       desc("alerts_total", "Alerts raised, by detector.", "detector"),
		resolved:     desc("resolved_total", "Back-to-normal notices."),
		keysDropped:  desc("aggregate_keys_dropped_total", "Sources, destinations or local hosts left out of an interval's sums because their table was full (-max_sources, -max_dests, -max_hosts).", "table"),
		portSetsFull: desc("port_sets_full_total", "Pairs whose distinct ports were counted per packet because -max_port_sets was reached."),
	}
}

// WithAlertsBy makes the collector also report the alerts f counts, by
// detector name, under the same metric as the flow table's own.
func (c *Collector) WithAlertsBy(f func() map[string]uint64) *Collector {
	c.alertsBy = f
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.flows, c.created, c.expired, c.evicted, c.filtered, c.late, c.outliers,
		c.intervals, c.scored, c.evalSeconds, c.alerts, c.resolved, c.keysDropped, c.portSetsFull} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.agg.Stats()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	ch <- prometheus.MustNewConstMetric(c.flows, prometheus.GaugeValue, float64(s.Flows))
	counter(c.created, float64(s.Created))
	counter(c.expired, float64(s.Expired))
	counter(c.evicted, float64(s.Evicted))
	counter(c.filtered, float64(s.Filtered))
	counter(c.late, float64(s.Late))
	counter(c.outliers, float64(s.TimeOutliers))
	counter(c.intervals, float64(s.IntervalsClosed))
	counter(c.scored, float64(s.Evaluated))
	counter(c.evalSeconds, s.EvalTime.Seconds())
	counter(c.alerts, float64(s.Alerts), c.detector)
	if c.alertsBy != nil {
		for name, n := range c.alertsBy() {
			counter(c.alerts, float64(n), name)
		}
	}
	counter(c.resolved, float64(s.Resolved))
	counter(c.keysDropped, float64(s.SourcesDropped), "sources")
	counter(c.keysDropped, float64(s.DestsDropped), "dests")
	counter(c.keysDropped, float64(s.HostsDropped), "hosts")
	counter(c.portSetsFull, float64(s.PortSetsFull))
}
