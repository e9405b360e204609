// Package detect is wherefore's detection stage: a flow.Observer that
// judges every closed interval's pairs, sources, destinations and local
// hosts with the detectors of package anomaly (volume surges and transfers
// to new destinations, ramps, scans, fan-out, fan-in, brute force, tunnels,
// beacons, a static ceiling) and turns hits into alerts a person can act on.
//
// Learned state lives in side tables: per pair, indexed by shard and
// flow.PairStat.Slot and touched only by that shard's goroutine; per
// source and destination address, in bounded maps touched only by the
// goroutine that calls ObserveInterval. Pooled models (one per scope) are
// fed in address order, so a capture gives the same alerts for any number
// of shards.
package detect

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wherefore/wherefore/anomaly"
)

// Detector names one detector; its name is the alert's "detector" field.
type Detector uint16

// The detectors.
const (
	// Surge judges pair and host upload volume against learned baselines,
	// and a new pair's first interval against its source's usual upload.
	Surge Detector = 1 << iota
	Ramp
	VScan
	HScan
	FanOut
	FanIn
	BruteForce
	Tunnel
	// Ceiling alerts on any pair or host past a fixed volume.
	Ceiling
	// Beacon judges how regularly a local host contacts an outside
	// address (see beacon.go).
	Beacon
)

var detectorNames = [...]struct {
	d    Detector
	name string
}{
	{Surge, "surge"}, {Ramp, "ramp"}, {VScan, "vscan"}, {HScan, "hscan"}, {FanOut, "fanout"},
	{FanIn, "fanin"}, {BruteForce, "bruteforce"}, {Tunnel, "tunnel"}, {Ceiling, "ceiling"}, {Beacon, "beacon"},
}

// String returns the detector's name as alerts carry it.
func (d Detector) String() string {
	for _, n := range detectorNames {
		if n.d == d {
			return n.name
		}
	}
	return fmt.Sprintf("detector(%d)", uint16(d))
}

// DefaultDetectors are the detectors on unless -detectors says otherwise.
const DefaultDetectors = "surge,ramp,vscan,hscan,fanout,fanin,bruteforce,tunnel,beacon"

// ParseDetectors reads a comma-separated list of detector names
// (-detectors); "none" or "" turns them all off. Ceiling is on whenever a
// ceiling is set, so it is not listed.
func ParseDetectors(s string) (Detector, error) {
	var set Detector
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" || f == "none" {
			continue
		}
		found := false
		for _, n := range detectorNames {
			if n.name == f && n.d != Ceiling {
				set |= n.d
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("-detectors: unknown detector %q (valid: %s, or none)", f, DefaultDetectors)
		}
	}
	return set, nil
}

// Defaults of Config.
const (
	DefaultRiskKeyHours    = 50
	DefaultWindow          = 5 * time.Minute
	DefaultPairMinBytes    = 200_000
	DefaultNewDestMinBytes = 1_000_000
	DefaultHostMinBytes    = 1_000_000
	DefaultTunnelMinBytes  = 2_000
	DefaultRampIntervals   = 6
	DefaultRampGrowth      = 8
	DefaultRampMinBytes    = 50_000
	DefaultMaxKeys         = 1 << 16
	DefaultMaxSavedPairs   = 100_000
	DefaultBruteForcePorts = "21,22,23,25,110,143,445,1433,3306,3389,5432,5900"
	DefaultBeaconMaxBytes  = 20_000
	DefaultBeaconMaxHosts  = 2
	DefaultBeaconMaxPairs  = 1 << 14
)

// Config configures the detection stage. Zero values take the defaults
// Validate documents.
type Config struct {
	// Interval is the transfer interval, Shards the flow shards (both
	// from flow.Config, after its Validate).
	Interval time.Duration
	Shards   int
	// Host names this machine in alerts.
	Host string
	// Detectors are the detectors on (-detectors).
	Detectors Detector
	// RiskKeyHours is "about one false alert per this many key-hours" for
	// the learned thresholds (-detect_risk): the pooled models' tail
	// quantile. The floors (PairMinBytes ...) make the measured rate far
	// lower; the evaluation chose 50.
	RiskKeyHours float64
	// Window is the span over which the count detectors sum what they
	// count, as Zeek's scan policy counts within 5 minutes
	// (-detect_window). Default 5m.
	Window time.Duration
	// PairMinBytes: a pair's surge alerts only past this many bytes in an
	// interval (-surge_min_bytes). Default 200 kB.
	PairMinBytes float64
	// NewDestMinBytes: a new pair's first interval is judged only past
	// this many bytes (-new_dest_min_bytes). Default 1 MB.
	NewDestMinBytes float64
	// HostMinBytes: a host's upload surge alerts only past this many bytes
	// in an interval (-host_surge_min_bytes). Default 1 MB.
	HostMinBytes float64
	// Ramp configures the ramp detector (-ramp_intervals, -ramp_growth,
	// -ramp_min_bytes); defaults 6 rises, 8 times, 50 kB.
	Ramp anomaly.RampConfig
	// Floors of the count detectors, per Window (-vscan_ports,
	// -hscan_hosts, -fanout_dsts, -fanin_srcs, -bruteforce_conns).
	VScanFloor, HScanFloor, FanOutFloor, FanInFloor, BruteForceFloor float64
	// BruteForcePorts are the services brute force is looked for on
	// (-bruteforce_ports).
	BruteForcePorts []uint16
	// TunnelMinBytes: a host's DNS or ICMP volume alerts only past this
	// many bytes in an interval, and with no history of that protocol
	// past four times it (-tunnel_min_bytes). Default 2 kB.
	TunnelMinBytes float64
	// CeilingBytes and CeilingPackets, when positive, alert on any pair or
	// local host past that many bytes or packets in one interval
	// (-ceiling_bytes, -ceiling_packets).
	CeilingBytes, CeilingPackets uint64
	// ResolveAfter: a key that alerted is reported back to normal after
	// this many intervals without an alert (-resolve_after); 0 never.
	ResolveAfter int
	// MaxSources and MaxDests cap the addresses whose learned state is
	// kept (-detect_max_keys each); the least recently seen is forgotten.
	MaxSources, MaxDests int
	// MaxSavedPairs caps the pairs whose baselines the state file keeps,
	// the most active first. Default 100000.
	MaxSavedPairs int
	// Beacon scores a pair's last events (-beacon_min_events,
	// -beacon_threshold); defaults 10 events, regularity 0.8.
	Beacon anomaly.BeaconConfig
	// BeaconMaxBytes: an interval in which a pair sends more than this
	// is no beacon's check-in (-beacon_max_bytes). Default 20 kB.
	BeaconMaxBytes float64
	// BeaconMaxHosts: a beacon's destination is contacted by at most this
	// many local hosts (-beacon_max_hosts). Default 2.
	BeaconMaxHosts int
	// BeaconMaxPairs caps the pairs the beacon detector follows
	// (-beacon_max_pairs). Default 16384.
	BeaconMaxPairs int
}

// Validate applies the defaults and reports the first bad field by its flag.
func (c *Config) Validate() error {
	if c.Interval <= 0 {
		return fmt.Errorf("detect: interval %s must be positive", c.Interval)
	}
	if c.Shards < 1 {
		return fmt.Errorf("detect: shards %d must be at least 1", c.Shards)
	}
	if c.RiskKeyHours == 0 {
		c.RiskKeyHours = DefaultRiskKeyHours
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Window < c.Interval {
		return fmt.Errorf("-detect_window %s: must be at least one -transfer_interval (%s)", c.Window, c.Interval)
	}
	pooled := c.pooledConfig()
	if err := pooled.Validate(); err != nil {
		return fmt.Errorf("-detect_risk %g: too small for %s intervals (one false alert per that many key-hours; try 1000 or more): %w", c.RiskKeyHours, c.Interval, err)
	}
	for _, v := range []struct {
		p    *float64
		flag string
		def  float64
	}{
		{&c.PairMinBytes, "-surge_min_bytes", DefaultPairMinBytes},
		{&c.NewDestMinBytes, "-new_dest_min_bytes", DefaultNewDestMinBytes},
		{&c.HostMinBytes, "-host_surge_min_bytes", DefaultHostMinBytes},
		{&c.TunnelMinBytes, "-tunnel_min_bytes", DefaultTunnelMinBytes},
		{&c.VScanFloor, "-vscan_ports", anomaly.DefaultVScanFloor},
		{&c.HScanFloor, "-hscan_hosts", anomaly.DefaultHScanFloor},
		{&c.FanOutFloor, "-fanout_dsts", anomaly.DefaultFanOutFloor},
		{&c.FanInFloor, "-fanin_srcs", anomaly.DefaultFanInFloor},
		{&c.BruteForceFloor, "-bruteforce_conns", anomaly.DefaultBruteForceFloor},
		{&c.BeaconMaxBytes, "-beacon_max_bytes", DefaultBeaconMaxBytes},
	} {
		switch {
		case *v.p == 0:
			*v.p = v.def
		case !(*v.p > 0) || math.IsInf(*v.p, 0):
			return fmt.Errorf("%s %g: must be a positive number (0 means the default, %g)", v.flag, *v.p, v.def)
		}
	}
	if c.Ramp.Intervals == 0 {
		c.Ramp.Intervals = DefaultRampIntervals
	}
	if c.Ramp.Growth == 0 {
		c.Ramp.Growth = DefaultRampGrowth
	}
	if c.Ramp.MinValue == 0 {
		c.Ramp.MinValue = DefaultRampMinBytes
	}
	if err := c.Ramp.Validate(); err != nil {
		return fmt.Errorf("-ramp_*: %w", err)
	}
	if c.BruteForcePorts == nil {
		c.BruteForcePorts, _ = ParsePorts(DefaultBruteForcePorts)
	}
	if err := c.validateBeacon(); err != nil {
		return err
	}
	if c.ResolveAfter < 0 {
		return fmt.Errorf("-resolve_after %d: must be 0 (off) or a number of intervals", c.ResolveAfter)
	}
	for _, v := range []struct {
		p    *int
		flag string
		def  int
	}{
		{&c.MaxSources, "-detect_max_keys", DefaultMaxKeys},
		{&c.MaxDests, "-detect_max_keys", DefaultMaxKeys},
		{&c.MaxSavedPairs, "-detect_max_saved_pairs", DefaultMaxSavedPairs},
	} {
		switch {
		case *v.p == 0:
			*v.p = v.def
		case *v.p < 0 || *v.p > 1<<26:
			return fmt.Errorf("%s %d: must be 0 (the default, %d) or a number of keys up to 2^26", v.flag, *v.p, v.def)
		}
	}
	return nil
}

// ParsePorts reads a comma-separated list of port numbers.
func ParsePorts(s string) ([]uint16, error) {
	ports := []uint16{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p int
		if _, err := fmt.Sscanf(f, "%d", &p); err != nil || p < 1 || p > 65535 || fmt.Sprint(p) != f {
			return nil, fmt.Errorf("-bruteforce_ports: %q is not a port number (1-65535)", f)
		}
		ports = append(ports, uint16(p))
	}
	return ports, nil
}

// windowIntervals is Window in whole intervals, at least 1.
func (c *Config) windowIntervals() float64 {
	return max(1, math.Round(float64(c.Window)/float64(c.Interval)))
}

func (c *Config) pooledConfig() anomaly.PooledConfig {
	return anomaly.PooledConfig{Risk: anomaly.RiskForKeyHours(c.RiskKeyHours, c.Interval)}
}

func (c *Config) volumeBaseline() anomaly.BaselineConfig {
	b := anomaly.BaselineConfig{}
	b.Validate() //nolint:errcheck // defaults are valid
	return b
}

func (c *Config) countBaseline() anomaly.BaselineConfig {
	b := anomaly.BaselineConfig{MinSpread: anomaly.DefaultCountMinSpread}
	b.Validate() //nolint:errcheck // defaults are valid
	return b
}

func (c *Config) on(d Detector) bool { return c.Detectors&d != 0 }
