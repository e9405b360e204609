package alert

import "github.com/prometheus/client_golang/prometheus"

// Collector exports alert delivery's counters to Prometheus: the
// dispatcher's, and each notifier's, labelled by its name.
type Collector struct {
	stats func() Stats

	queue, overflow, suppressed                          *prometheus.Desc
	delivered, failed, retried, spooled, resent, dropped *prometheus.Desc
	notifierQueue, spoolDepth                            *prometheus.Desc
}

// NewCollector returns a collector of the snapshots stats returns (one
// dispatcher's Stats, or the sum over those a reload replaced).
func NewCollector(stats func() Stats) *Collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("wherefore_"+name, help, labels, nil)
	}
	return &Collector{
		stats:         stats,
		queue:         desc("alert_queue_depth", "Alerts waiting for the dispatcher."),
		overflow:      desc("alert_queue_overflow_total", "Alerts that found the dispatcher queue full (still recorded)."),
		suppressed:    desc("alerts_suppressed_total", "Firing alerts kept from the notifiers, by reason.", "reason"),
		delivered:     desc("notifier_delivered_total", "Alerts delivered, by notifier.", "notifier"),
		failed:        desc("notifier_failed_total", "Deliveries rejected or failed, by notifier.", "notifier"),
		retried:       desc("notifier_retries_total", "Delivery attempts after the first, by notifier.", "notifier"),
		spooled:       desc("notifier_spooled_total", "Alerts kept in the spool for a later attempt after their retry budget ran out, by notifier.", "notifier"),
		resent:        desc("notifier_resent_total", "Alerts from the spool of an earlier run delivered now, by notifier.", "notifier"),
		dropped:       desc("notifier_dropped_total", "Alerts lost because they could not be spooled, by notifier.", "notifier"),
		notifierQueue: desc("notifier_queue_depth", "Alerts waiting in a notifier's queue.", "notifier"),
		spoolDepth:    desc("notifier_spool_depth", "Alerts waiting in a notifier's spool.", "notifier"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.queue, c.overflow, c.suppressed, c.delivered, c.failed, c.retried,
		c.spooled, c.resent, c.dropped, c.notifierQueue, c.spoolDepth} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	s := c.stats()
	gauge(c.queue, s.QueueDepth)
	counter(c.overflow, s.Overflow)
	counter(c.suppressed, s.Cooldown, "cooldown")
	counter(c.suppressed, s.RateLimited, "rate_limit")
	for _, n := range s.Notifiers {
		counter(c.delivered, n.Delivered, n.Name)
		counter(c.failed, n.Failed, n.Name)
		if n.Remote {
			counter(c.retried, n.Retried, n.Name)
			counter(c.spooled, n.Spooled, n.Name)
			counter(c.resent, n.Resent, n.Name)
			counter(c.dropped, n.Dropped, n.Name)
			gauge(c.notifierQueue, n.QueueDepth, n.Name)
			gauge(c.spoolDepth, n.SpoolDepth, n.Name)
		}
	}
}
