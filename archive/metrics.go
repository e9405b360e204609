package archive

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the packet evidence counters to Prometheus, read from
// the recorder's Stats at scrape time.
type Collector struct {
	rec *Recorder

	written, dropped, lost, segments, archives, archivesFailed, ringBytes, errors *prometheus.Desc
}

// NewCollector returns a collector of r.
func NewCollector(r *Recorder) *Collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("wherefore_evidence_"+name, help, labels, nil)
	}
	return &Collector{
		rec:            r,
		written:        desc("packets_written_total", "Packets written to the packet spool."),
		dropped:        desc("packets_dropped_total", "Packets not logged because the writer queue was full."),
		lost:           desc("packets_lost_total", "Packets of evidence lost because a file in -l or -archive_dir could not be written."),
		segments:       desc("spool_segments", "Sealed packet spool segments in -l now."),
		archives:       desc("archives_total", "Alerts whose packets were archived."),
		archivesFailed: desc("archives_failed_total", "Alerts whose evidence could not be stored in -archive_dir (their packets count as lost)."),
		ringBytes:      desc("ring_bytes", "Flight recorder memory in use."),
		errors:         desc("errors_total", "Evidence file errors, by kind.", "kind"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.written, c.dropped, c.lost, c.segments, c.archives, c.archivesFailed, c.ringBytes, c.errors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.rec.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.written, s.PacketsWritten)
	counter(c.dropped, s.PacketsDropped)
	counter(c.lost, s.PacketsLost)
	gauge(c.segments, float64(s.Segments))
	counter(c.archives, s.Archives)
	counter(c.archivesFailed, s.ArchivesFailed)
	gauge(c.ringBytes, float64(s.RingBytes))
	for kind, n := range s.Errors {
		counter(c.errors, n, kind)
	}
}
