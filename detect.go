package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/detect"
)

// detectOptions are the detection stage's flags.
type detectOptions struct {
	detectors                               string
	localNets                               string
	risk                                    float64
	window                                  time.Duration
	pairMin, newDestMin, hostMin, tunnelMin float64
	rampIntervals                           int
	rampGrowth, rampMin                     float64
	vscan, hscan, fanout, fanin, brute      float64
	brutePorts                              string
	ceilingBytes, ceilingPackets            uint64
	maxKeys                                 int
	beaconEvents, beaconHosts, beaconPairs  int
	beaconThreshold, beaconBytes            float64
	stateFile                               string
	stateEvery                              time.Duration
}

func registerDetectFlags(fs *flag.FlagSet, d *detectOptions) {
	fs.StringVar(&d.detectors, "detectors", detect.DefaultDetectors, "detectors on, comma-separated: surge (pair and host upload volume, new destinations), ramp, vscan, hscan, fanout, fanin, bruteforce, tunnel, beacon; none turns them off (the anomaly tests of -anom_methods run apart)")
	fs.StringVar(&d.localNets, "local_nets", "", "comma-separated CIDR `blocks` of local hosts: their sends are uploads (empty: private, shared, link-local, unique-local and loopback ranges)")
	fs.Float64Var(&d.risk, "detect_risk", detect.DefaultRiskKeyHours, "learned thresholds aim at about one false alert per this many key-`hours` (higher: fewer, larger alerts)")
	fs.DurationVar(&d.window, "detect_window", detect.DefaultWindow, "scan, fan-out, fan-in and brute-force counts are summed over about this `duration` (Zeek counts within 5 minutes)")
	fs.Float64Var(&d.pairMin, "surge_min_bytes", detect.DefaultPairMinBytes, "a pair's volume surge alerts only past this many `bytes` per interval")
	fs.Float64Var(&d.newDestMin, "new_dest_min_bytes", detect.DefaultNewDestMinBytes, "a pair with no history is judged against its source's usual upload only past this many `bytes` per interval")
	fs.Float64Var(&d.hostMin, "host_surge_min_bytes", detect.DefaultHostMinBytes, "a local host's upload surge alerts only past this many `bytes` per interval")
	fs.Float64Var(&d.tunnelMin, "tunnel_min_bytes", detect.DefaultTunnelMinBytes, "a host's DNS or ICMP volume alerts only past this many `bytes` per interval (four times it with no history)")
	fs.IntVar(&d.rampIntervals, "ramp_intervals", detect.DefaultRampIntervals, "a ramp rises every interval for this many `intervals`")
	fs.Float64Var(&d.rampGrowth, "ramp_growth", detect.DefaultRampGrowth, "a ramp's last interval is at least this many `times` its first")
	fs.Float64Var(&d.rampMin, "ramp_min_bytes", detect.DefaultRampMinBytes, "a ramp alerts only once a pair moves this many `bytes` per interval")
	fs.Float64Var(&d.vscan, "vscan_ports", anomaly.DefaultVScanFloor, "vertical scan: more than this many `ports` of one host tried without answer within -detect_window")
	fs.Float64Var(&d.hscan, "hscan_hosts", anomaly.DefaultHScanFloor, "horizontal scan: more than this many `hosts` tried without answer within -detect_window (or far more than the source's usual)")
	fs.Float64Var(&d.fanout, "fanout_dsts", anomaly.DefaultFanOutFloor, "fan-out: a local host contacting more than this many new `destinations` within -detect_window (or far more than its usual)")
	fs.Float64Var(&d.fanin, "fanin_srcs", anomaly.DefaultFanInFloor, "fan-in: more than this many unanswered or refused `attempts` towards one host, or sources answering requests it never made (reflection), within -detect_window (or far more than its usual)")
	fs.Float64Var(&d.brute, "bruteforce_conns", anomaly.DefaultBruteForceFloor, "brute force: more than this many `connections` from one source to one service of -bruteforce_ports within -detect_window")
	fs.StringVar(&d.brutePorts, "bruteforce_ports", detect.DefaultBruteForcePorts, "comma-separated `ports` of services brute force is looked for on")
	fs.Uint64Var(&d.ceilingBytes, "ceiling_bytes", 0, "static ceiling: any pair or local host sending this many `bytes` in one interval alerts (0: off)")
	fs.Uint64Var(&d.ceilingPackets, "ceiling_packets", 0, "static ceiling: any pair or local host sending this many `packets` in one interval alerts (0: off)")
	fs.IntVar(&d.beaconEvents, "beacon_min_events", anomaly.DefaultBeaconMinEvents, "beacon: a pair is judged once it contacted its destination this many `times` (4 to 16), each after an idle interval")
	fs.Float64Var(&d.beaconThreshold, "beacon_threshold", anomaly.DefaultBeaconThreshold, "beacon: regularity of gaps and sizes (0 to 1, as RITA scores it) above which a pair is a beacon")
	fs.Float64Var(&d.beaconBytes, "beacon_max_bytes", detect.DefaultBeaconMaxBytes, "beacon: an interval in which a pair sends more than this many `bytes` is no check-in")
	fs.IntVar(&d.beaconHosts, "beacon_max_hosts", detect.DefaultBeaconMaxHosts, "beacon: alert only when at most this many local `hosts` contact the outside destination (more: a shared service)")
	fs.IntVar(&d.beaconPairs, "beacon_max_pairs", detect.DefaultBeaconMaxPairs, "most `pairs` the beacon detector follows, about 450 bytes each; new pairs past it are dropped (counted)")
	fs.IntVar(&d.maxKeys, "detect_max_keys", detect.DefaultMaxKeys, "most source and destination addresses whose learned state is kept, each; past it the least recently seen are forgotten (counted)")
	fs.StringVar(&d.stateFile, "state_file", "", "learned-state `file`, loaded at start and saved periodically and at shutdown (default: <-l>/wherefore_state.json live; none with -pcapfile, so a capture gives the same alerts every run)")
	fs.DurationVar(&d.stateEvery, "state_save_every", 10*time.Minute, "how often the learned state is saved while running")
}

// detectReloadable reports whether SIGHUP applies a detection flag.
func detectReloadable(name string) bool {
	switch name {
	case "detectors", "surge_min_bytes", "new_dest_min_bytes", "host_surge_min_bytes", "tunnel_min_bytes",
		"ramp_intervals", "ramp_growth", "ramp_min_bytes", "vscan_ports", "hscan_hosts", "fanout_dsts",
		"fanin_srcs", "bruteforce_conns", "bruteforce_ports", "ceiling_bytes", "ceiling_packets",
		"beacon_min_events", "beacon_threshold", "beacon_max_bytes", "beacon_max_hosts":
		return true
	}
	return false
}

// detectConfig maps the flags onto the stage's settings; fcfg must have
// been validated (shards, interval).
func detectConfig(o *options, fcfg *flow.Config) (detect.Config, error) {
	d := &o.detect
	set, err := detect.ParseDetectors(d.detectors)
	if err != nil {
		return detect.Config{}, err
	}
	ports, err := detect.ParsePorts(d.brutePorts)
	if err != nil {
		return detect.Config{}, err
	}
	c := detect.Config{
		Interval: fcfg.Interval, Shards: fcfg.Shards, Host: fcfg.Host, Detectors: set,
		RiskKeyHours: d.risk, Window: d.window,
		PairMinBytes: d.pairMin, NewDestMinBytes: d.newDestMin, HostMinBytes: d.hostMin, TunnelMinBytes: d.tunnelMin,
		Ramp:       anomaly.RampConfig{Intervals: d.rampIntervals, Growth: d.rampGrowth, MinValue: d.rampMin},
		VScanFloor: d.vscan, HScanFloor: d.hscan, FanOutFloor: d.fanout, FanInFloor: d.fanin, BruteForceFloor: d.brute,
		BruteForcePorts: ports, CeilingBytes: d.ceilingBytes, CeilingPackets: d.ceilingPackets,
		ResolveAfter: fcfg.ResolveAfter, MaxSources: d.maxKeys, MaxDests: d.maxKeys,
		Beacon:         anomaly.BeaconConfig{MinEvents: d.beaconEvents, Threshold: d.beaconThreshold},
		BeaconMaxBytes: d.beaconBytes, BeaconMaxHosts: d.beaconHosts, BeaconMaxPairs: d.beaconPairs,
	}
	if err := c.Validate(); err != nil {
		return detect.Config{}, err
	}
	return c, nil
}

// flowDetectSettings fills the flow settings the detection stage needs.
func flowDetectSettings(o *options, fcfg *flow.Config) error {
	nets, err := flow.ParseLocalNets(o.detect.localNets)
	if err != nil {
		return err
	}
	fcfg.LocalNets = nets
	return nil
}

// statePath is where learned state lives: -state_file, else under -l for a
// live capture, else nowhere.
func statePath(o *options, fileMode bool) string {
	switch {
	case o.detect.stateFile != "":
		return o.detect.stateFile
	case fileMode:
		return ""
	}
	return filepath.Join(o.logDir, "wherefore_state.json")
}

// learnedState loads and saves the detection stage's learned state.
type learnedState struct {
	path  string
	every time.Duration
	log   *logrus.Logger
	stage *detect.Stage
	mu    sync.Mutex
	last  time.Time
}

// load restores the saved state; a missing file is a first start, a
// corrupt, foreign or unusable one is reported and ignored.
func (l *learnedState) load() {
	if l.path == "" {
		return
	}
	st, err := anomaly.LoadStateFile(l.path)
	if err == nil {
		err = l.stage.Restore(st)
	}
	switch {
	case err == nil:
		l.log.WithFields(logrus.Fields{"file": l.path, "baselines": len(st.Baselines)}).Info("learned state loaded")
	case errors.Is(err, fs.ErrNotExist):
		l.log.WithField("file", l.path).Info("no learned state yet: thresholds start from the built-in floors")
	default:
		l.log.WithError(err).WithField("file", l.path).Warn("learned state ignored: starting afresh")
	}
	l.last = time.Now()
}

// save writes the state; with periodic set it does so only when
// -state_save_every has passed. It runs on the goroutine that owns the
// stage's learned state (its ObserveInterval), or after the flow
// aggregator closed.
func (l *learnedState) save(periodic bool) {
	if l.path == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if periodic && time.Since(l.last) < l.every {
		return
	}
	l.last = time.Now()
	if err := anomaly.SaveStateFile(l.path, l.stage.State()); err != nil {
		l.log.WithError(err).Warn("could not save the learned state")
	}
}

// savingObserver saves the learned state periodically, between intervals.
type savingObserver struct {
	*detect.Stage
	state *learnedState
}

func (s savingObserver) ObserveInterval(iv flow.Interval, agg *flow.Aggregates) {
	s.Stage.ObserveInterval(iv, agg)
	s.state.save(true)
}

// validateDetect checks the detection flags that flowDetectSettings and
// detectConfig, which parse the rest, do not look at.
func validateDetect(o *options) error {
	if o.detect.stateEvery <= 0 {
		return fmt.Errorf("-state_save_every %s: must be positive", o.detect.stateEvery)
	}
	if strings.TrimSpace(o.detect.brutePorts) == "" {
		return errors.New("-bruteforce_ports: give at least one port (e.g. 22)")
	}
	return nil
}

// anomalyzerMethods are the anomaly tests the previous defaults ran.
const anomalyzerMethods = anomaly.DefaultMethods

// anomalyOff reports -anom_methods none: the anomaly tests never run and
// volume is left to the detectors.
func anomalyOff(o *options) bool {
	m := o.anomaly.Methods
	return len(m) == 1 && strings.TrimSpace(m[0]) == anomaly.MethodsNone
}

// anomalyTests returns the anomaly tests' settings to build: with
// -anom_methods none the previous defaults are built (so every shard has
// a valid detector) but never run, since flows are then scored from no
// volume at all (see anomMinBytes).
func anomalyTests(o *options) anomaly.Config {
	c := o.anomaly
	if anomalyOff(o) {
		c.Methods = strings.Split(anomalyzerMethods, ",")
	}
	return c
}

// anomMinBytes is the flow volume from which the anomaly tests score a
// flow: -alert_min_bytes, or never with -anom_methods none.
func anomMinBytes(o *options) uint64 {
	if anomalyOff(o) {
		return math.MaxUint64
	}
	return o.flow.MinBytes
}

// anomLogMethods names the anomaly tests that run, for the start-up log.
func anomLogMethods(o *options) string {
	if anomalyOff(o) {
		return "none"
	}
	return strings.Join(o.anomaly.Methods, ",")
}
