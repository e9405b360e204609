package flow

import (
	"flag"
	"time"
)

// RegisterFlags defines the flow table's and the alerting thresholds'
// flags on fs, with their defaults, writing straight into c. Filter,
// NewDetector and Baseline are built by the caller.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Interval, "transfer_interval", 5*time.Second, "transfer interval: bytes are summed per flow over this `duration`; boundaries are multiples of it since the Unix epoch")
	fs.DurationVar(&c.IdleTimeout, "flow_idle_timeout", 5*time.Minute, "forget a flow after this long without a packet (packet time)")
	fs.IntVar(&c.MaxFlows, "max_flows", 1_000_000, "most flows tracked at once; beyond it the least recently active is evicted (about 240 bytes each, measured by BenchmarkMemoryPerFlow)")
	fs.IntVar(&c.MaxSources, "max_sources", DefaultMaxKeys, "most sources summed per interval (distinct peers, ports, tries); beyond it new sources are left out and counted")
	fs.IntVar(&c.MaxDests, "max_dests", DefaultMaxKeys, "most destinations summed per interval (distinct sources); beyond it new destinations are left out and counted")
	fs.IntVar(&c.MaxHosts, "max_hosts", DefaultMaxKeys, "most local hosts summed per interval (bytes out and in); beyond it new hosts are left out and counted")
	fs.IntVar(&c.MaxPortSets, "max_port_sets", DefaultMaxPortSets, "pairs per interval whose distinct ports are counted exactly past 4 (8 KiB each); beyond it tries are counted per packet")
	fs.IntVar(&c.Shards, "shards", 0, "flow aggregation goroutines (0: one per CPU)")
	fs.Uint64Var(&c.MinBytes, "alert_min_bytes", 1_000_000, "score only flows that moved at least this many `bytes` in the interval (0: every active flow)")
	fs.Float64Var(&c.Threshold, "alert_threshold", 0.6, "raise an alert when the combined probability is at least this (0-1]")
	fs.IntVar(&c.ResolveAfter, "resolve_after", 0, "report a flow back to normal after this many `intervals` without an alert (0: never)")
	fs.StringVar(&c.Host, "host", "", "host `name` put in alerts (empty: this machine's host name)")
	fs.IntVar(&c.SeriesCap, "anom_gv_cap", 10, "intervals of history kept and tested per flow")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the Monte Carlo tests' random numbers (fixed: the same capture gives the same alerts)")
}
