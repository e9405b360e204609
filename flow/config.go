// Package flow accounts the bytes every directional IP flow moves per
// transfer interval, across shard goroutines that own disjoint flow tables,
// and scores each closed interval's series with a detector.
package flow

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"time"

	"github.com/wherefore/wherefore/anomaly"
)

// Config configures the aggregator. Zero values take the documented defaults
// in Validate.
type Config struct {
	// Interval is the transfer interval (-transfer_interval). Boundaries are
	// multiples of it since the Unix epoch, so hosts of a fleet align.
	Interval time.Duration
	// SeriesCap is how many intervals of each flow's series are kept and
	// scored (-anom_gv_cap).
	SeriesCap int
	// Shards is the number of aggregation goroutines; default GOMAXPROCS.
	Shards int
	// IdleTimeout expires a flow with no packet for this long, in packet
	// time (-flow_idle_timeout).
	IdleTimeout time.Duration
	// MaxFlows caps tracked flows; beyond it the least recently active flow
	// is evicted (-max_flows).
	MaxFlows int
	// MinBytes: only flows that moved at least this many bytes in the closed
	// interval are scored (-alert_min_bytes). 0 scores every active flow.
	MinBytes uint64
	// Threshold is the detector probability at or above which an alert is
	// raised (-alert_threshold).
	Threshold float64
	// ResolveAfter: after this many intervals without an alert, a flow that
	// alerted is reported back to normal (-resolve_after). 0 disables it.
	ResolveAfter int
	// Filter selects the packets accounted; nil keeps all.
	Filter *Filter
	// Host names this machine in alerts.
	Host string
	// NewDetector returns a detector for one shard; each shard owns its own.
	// rng is the shard's random source, which the shard reseeds from Seed,
	// the flow and the interval before every score, so Monte Carlo tests
	// give the same answer whatever the shard count or scoring order.
	NewDetector func(rng *rand.Rand) anomaly.Detector
	// Seed seeds the detectors' random numbers (-seed).
	Seed uint64
	// Baseline returns the value a series' newest interval was compared
	// with (the mean of the reference window), for the alert text.
	Baseline func(series []float64) float64

	// LocalNets are the networks whose hosts are local (-local_nets): their
	// bytes out and in are summed per host. Nil means DefaultLocalNets.
	LocalNets []netip.Prefix
	// MaxSources, MaxDests and MaxHosts cap the sources, destinations and
	// local hosts summed per interval (-max_sources, -max_dests,
	// -max_hosts); a key beyond the cap is dropped and counted. 0 means
	// the default, DefaultMaxKeys.
	MaxSources int
	MaxDests   int
	MaxHosts   int
	// MaxPortSets caps the pairs per interval whose distinct tried ports
	// are counted exactly past four (-max_port_sets; 8 KiB each). 0 means
	// DefaultMaxPortSets.
	MaxPortSets int
	// Observer, when set, receives each closed interval's pairs and
	// aggregates.
	Observer Observer
}

// Defaults of the aggregate caps.
const (
	DefaultMaxKeys     = 1 << 14
	DefaultMaxPortSets = 1024
)

// Validate fills defaults and reports the first bad field by its flag.
func (c *Config) Validate() error {
	if c.Interval <= 0 {
		return fmt.Errorf("-transfer_interval %s: must be positive (e.g. 5s, 1m)", c.Interval)
	}
	if c.Interval < time.Millisecond {
		return fmt.Errorf("-transfer_interval %s: must be at least 1ms", c.Interval)
	}
	if c.SeriesCap < 2 || c.SeriesCap > 65535 {
		return fmt.Errorf("-anom_gv_cap %d: must be between 2 and 65535 intervals", c.SeriesCap)
	}
	if c.Shards == 0 {
		c.Shards = runtime.GOMAXPROCS(0)
	}
	if c.Shards < 1 || c.Shards > 1024 {
		return fmt.Errorf("-shards %d: must be between 1 and 1024 (0 = one per CPU)", c.Shards)
	}
	if c.IdleTimeout <= 0 {
		return fmt.Errorf("-flow_idle_timeout %s: must be positive", c.IdleTimeout)
	}
	if c.MaxFlows < c.Shards {
		return fmt.Errorf("-max_flows %d: must be at least the number of shards (%d)", c.MaxFlows, c.Shards)
	}
	if c.Threshold <= 0 || c.Threshold > 1 {
		return fmt.Errorf("-alert_threshold %g: must be in (0, 1]", c.Threshold)
	}
	if c.ResolveAfter < 0 {
		return fmt.Errorf("-resolve_after %d: must be 0 (off) or a number of intervals", c.ResolveAfter)
	}
	for _, cp := range []struct {
		v    *int
		flag string
		def  int
	}{
		{&c.MaxSources, "-max_sources", DefaultMaxKeys},
		{&c.MaxDests, "-max_dests", DefaultMaxKeys},
		{&c.MaxHosts, "-max_hosts", DefaultMaxKeys},
		{&c.MaxPortSets, "-max_port_sets", DefaultMaxPortSets},
	} {
		switch {
		case *cp.v == 0:
			*cp.v = cp.def
		case *cp.v < 0 || *cp.v > 1<<30:
			return fmt.Errorf("%s %d: must be 0 (the default, %d) or a number of keys up to 2^30", cp.flag, *cp.v, cp.def)
		}
	}
	if c.LocalNets == nil {
		c.LocalNets = DefaultLocalNets()
	}
	if c.NewDetector == nil {
		return errors.New("flow: NewDetector is required")
	}
	if c.Baseline == nil {
		return errors.New("flow: Baseline is required")
	}
	return nil
}

// perShard splits a cap over the shards, rounding up.
func (c *Config) perShard(n int) int {
	return (n + c.Shards - 1) / c.Shards
}

// idleIntervals is the idle timeout in whole intervals, at least one.
func (c *Config) idleIntervals() int64 {
	n := int64((c.IdleTimeout + c.Interval - 1) / c.Interval)
	if n < 1 {
		n = 1
	}
	return n
}
