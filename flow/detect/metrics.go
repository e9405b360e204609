package detect

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the detection stage's own counters to Prometheus
// (its alerts are counted by the flow collector, by detector name).
type Collector struct {
	stage                    *Stage
	forgotten, fanOutDropped *prometheus.Desc
	beaconPairs, beaconDrop  *prometheus.Desc
}

// NewCollector returns a collector of s.
func NewCollector(s *Stage) *Collector {
	return &Collector{
		stage: s,
		forgotten: prometheus.NewDesc("wherefore_detect_keys_forgotten_total",
			"Addresses whose learned state was forgotten because -detect_max_keys was reached, by table.", []string{"table"}, nil),
		fanOutDropped: prometheus.NewDesc("wherefore_detect_fanout_dropped_total",
			"New pairs of local sources left uncounted by fan-out because its tables were full.", nil, nil),
		beaconPairs: prometheus.NewDesc("wherefore_detect_beacon_pairs",
			"Pairs the beacon detector follows now (at most -beacon_max_pairs).", nil, nil),
		beaconDrop: prometheus.NewDesc("wherefore_detect_beacon_dropped_total",
			"New pairs the beacon detector could not follow because its table was full.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.forgotten
	ch <- c.fanOutDropped
	ch <- c.beaconPairs
	ch <- c.beaconDrop
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.stage.Stats()
	ch <- prometheus.MustNewConstMetric(c.forgotten, prometheus.CounterValue, float64(s.SourcesEvicted), "sources")
	ch <- prometheus.MustNewConstMetric(c.forgotten, prometheus.CounterValue, float64(s.DestsEvicted), "dests")
	ch <- prometheus.MustNewConstMetric(c.fanOutDropped, prometheus.CounterValue, float64(s.FanOutDropped))
	ch <- prometheus.MustNewConstMetric(c.beaconPairs, prometheus.GaugeValue, float64(s.BeaconPairs))
	ch <- prometheus.MustNewConstMetric(c.beaconDrop, prometheus.CounterValue, float64(s.BeaconDropped))
}
