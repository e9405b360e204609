package main

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/flow"
)

// settings are what the options ask of each package, validated as a whole.
// The start and every reload build them first and open nothing until they
// are complete, so a reload that fails on any of them changes nothing.
type settings struct {
	anomaly  anomaly.Config
	flow     flow.Config
	dispatch alert.DispatcherConfig
	level    logrus.Level
}

// buildSettings validates the options and derives each package's settings.
func buildSettings(o *options) (*settings, error) {
	if err := validate(o); err != nil {
		return nil, err
	}
	if err := o.process.validate(); err != nil {
		return nil, err
	}
	level, err := parseLevel(o.logLevel)
	if err != nil {
		return nil, err
	}
	acfg := anomalyConfig(o)
	if err := checkAnomaly(o, acfg); err != nil {
		return nil, err
	}
	filter, err := flow.ParseFilter(o.filterCIDR, o.filterBool, o.filterSrc, o.filterDst)
	if err != nil {
		return nil, err
	}
	fcfg := flow.Config{
		Interval:     o.interval,
		SeriesCap:    o.gvCap,
		Shards:       o.shards,
		IdleTimeout:  o.idleTimeout,
		MaxFlows:     o.maxFlows,
		MinBytes:     o.minBytes,
		Threshold:    o.threshold,
		ResolveAfter: o.resolveAfter,
		Filter:       filter,
		Host:         o.host,
		Seed:         o.seed,
		NewDetector:  detectorFactory(acfg),
		Baseline:     baseline(acfg),
	}
	if err := fcfg.Validate(); err != nil {
		return nil, err
	}
	dcfg := dispatcherConfig(o)
	if err := dcfg.Validate(); err != nil {
		return nil, err
	}
	return &settings{anomaly: acfg, flow: fcfg, dispatch: dcfg, level: level}, nil
}

// reloadable returns the part of the flow settings a reload may change.
func (s *settings) reloadable() flow.Settings {
	c := s.flow
	return flow.Settings{
		MinBytes: c.MinBytes, Threshold: c.Threshold, ResolveAfter: c.ResolveAfter, Filter: c.Filter,
		NewDetector: c.NewDetector, Baseline: c.Baseline, Host: c.Host, Seed: c.Seed,
	}
}

// anomalyConfig maps the -anom_* flags onto the anomaly tests' settings.
func anomalyConfig(o *options) anomaly.Config {
	var methods []string
	for _, m := range strings.Split(o.methods, ",") {
		if m = strings.TrimSpace(m); m != "" {
			methods = append(methods, m)
		}
	}
	return anomaly.Config{
		Delay:       o.delay,
		Sensitivity: o.sensitivity,
		UpperBound:  o.upperBound.value(),
		LowerBound:  o.lowerBound.value(),
		ActiveSize:  o.activeSize,
		NSeasons:    o.nSeasons,
		PermCount:   o.permCount,
		Methods:     methods,
	}
}

// baseline returns what is normal for a flow: the mean of its reference
// window, or 0 while it has none (a new flow), never NaN, which no JSON
// record can carry.
func baseline(acfg anomaly.Config) func([]float64) float64 {
	return func(series []float64) float64 {
		if m := anomaly.ReferenceMean(series, acfg); !math.IsNaN(m) {
			return m
		}
		return 0
	}
}

// detectorFactory returns a constructor of the anomaly tests for flow shards.
func detectorFactory(acfg anomaly.Config) func(*rand.Rand) anomaly.Detector {
	return func(rng *rand.Rand) anomaly.Detector {
		d, err := anomaly.NewAnomalyzer(acfg, rng)
		if err != nil {
			panic(err) // the config was validated before
		}
		return d
	}
}

func parseLevel(level string) (logrus.Level, error) {
	lvl, err := logrus.ParseLevel(level)
	if err != nil || lvl < logrus.ErrorLevel {
		return 0, fmt.Errorf("-loglevel %q: valid levels are debug, info, warn, error", level)
	}
	return lvl, nil
}

// validate checks every flag that does not belong to one package's Config.
func validate(o *options) error {
	if o.sensitivity < 0 || o.sensitivity > 1 {
		return fmt.Errorf("-anom_sensitivity %g: must be in [0,1] (the magnitude test's probability is capped at 1, so a larger gate would silence every alert)", o.sensitivity)
	}
	if o.activeSize < 1 {
		return fmt.Errorf("-anom_active_size %d: must be at least 1", o.activeSize)
	}
	if o.nSeasons < 0 {
		return fmt.Errorf("-anom_n_seasons %d: must be positive (0 means 4)", o.nSeasons)
	}
	if o.permCount < 0 {
		return fmt.Errorf("-anom_perm_count %d: must be positive (0 means 500)", o.permCount)
	}
	switch o.progress {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("-progress %q: valid values are auto, on, off", o.progress)
	}
	if o.maxPcapLogSize < 1 {
		return fmt.Errorf("-max_pcap_log_size %d: must be at least 1 MB", o.maxPcapLogSize)
	}
	if o.maxPcapRotations < 1 {
		return fmt.Errorf("-max_pcap_rotations %d: must be at least 1", o.maxPcapRotations)
	}
	return nil
}

// checkAnomaly validates the anomaly tests' settings in the flags' terms.
func checkAnomaly(o *options, acfg anomaly.Config) error {
	fence := false
	for _, m := range acfg.Methods {
		fence = fence || m == "fence"
	}
	if fence && !o.upperBound.set {
		return errors.New("-anom_methods fence needs -anom_upper_bound (bytes per interval; -anom_lower_bound is optional)")
	}
	if fence && o.lowerBound.set && o.lowerBound.v >= o.upperBound.v {
		return fmt.Errorf("-anom_lower_bound %g must be below -anom_upper_bound %g", o.lowerBound.v, o.upperBound.v)
	}
	if err := acfg.Validate(); err != nil {
		return fmt.Errorf("anomaly tests (-anom_*): %w", err)
	}
	// With -anom_delay a flow is scored once its series holds the reference
	// and the active window; a cap below that would never score anything.
	if need := acfg.NSeasons*acfg.ActiveSize + acfg.ActiveSize; o.delay && o.gvCap < need {
		return fmt.Errorf("-anom_gv_cap %d: the tests need at least %d intervals (-anom_n_seasons %d x -anom_active_size %d of reference, plus %d active); raise -anom_gv_cap to %d or lower -anom_n_seasons",
			o.gvCap, need, acfg.NSeasons, acfg.ActiveSize, acfg.ActiveSize, need)
	}
	return nil
}
