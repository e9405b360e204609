package capture

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the capture loop's counters and libpcap's kernel
// counters to Prometheus. It reads them at scrape time, so it costs the
// capture loop nothing.
type Collector struct {
	counters *Counters
	kernel   func() (KernelStats, bool)

	packets, bytes, skipped, heartbeat             *prometheus.Desc
	kernelReceived, kernelDropped, kernelIfDropped *prometheus.Desc
}

// NewCollector returns a collector of c. kernel returns the latest kernel
// counters, false while there are none (capture files have none).
func NewCollector(c *Counters, kernel func() (KernelStats, bool)) *Collector {
	return &Collector{
		counters:        c,
		kernel:          kernel,
		packets:         prometheus.NewDesc("wherefore_packets_total", "Packets read from the capture source.", nil, nil),
		bytes:           prometheus.NewDesc("wherefore_bytes_total", "Wire bytes of the packets accounted to flows.", nil, nil),
		skipped:         prometheus.NewDesc("wherefore_decode_skipped_total", "Packets that could not be accounted to an IP flow, by reason.", []string{"reason"}, nil),
		heartbeat:       prometheus.NewDesc("wherefore_capture_heartbeat_timestamp_seconds", "When the capture loop last ran (Unix time).", nil, nil),
		kernelReceived:  prometheus.NewDesc("wherefore_kernel_received_total", "Packets libpcap's filter accepted (live capture).", nil, nil),
		kernelDropped:   prometheus.NewDesc("wherefore_kernel_dropped_total", "Packets the kernel dropped for lack of buffer space (live capture).", nil, nil),
		kernelIfDropped: prometheus.NewDesc("wherefore_kernel_interface_dropped_total", "Packets the interface or driver dropped (live capture).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.bytes, c.skipped, c.heartbeat, c.kernelReceived, c.kernelDropped, c.kernelIfDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.packets, c.counters.Packets.Load())
	counter(c.bytes, c.counters.Bytes.Load())
	skipped := c.counters.SkippedSnapshot()
	for _, r := range SkipReasons() {
		counter(c.skipped, skipped[r], r.String())
	}
	ch <- prometheus.MustNewConstMetric(c.heartbeat, prometheus.GaugeValue, float64(c.counters.Heartbeat.Load())/1e9)
	if ks, ok := c.kernel(); ok {
		counter(c.kernelReceived, ks.Received)
		counter(c.kernelDropped, ks.Dropped)
		counter(c.kernelIfDropped, ks.InterfaceDropped)
	}
}
