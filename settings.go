package main

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/detect"
)

// settings are what the options ask of each package, validated as a whole.
// The start and every reload build them first and open nothing until they
// are complete, so a reload that fails on any of them changes nothing.
type settings struct {
	anomaly  anomaly.Config
	flow     flow.Config
	dispatch alert.DispatcherConfig
	detect   detect.Config
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
	acfg := anomalyTests(o)
	if err := checkAnomaly(o); err != nil {
		return nil, err
	}
	filter, err := flow.ParseFilter(o.filterCIDR, o.filterBool, o.filterSrc, o.filterDst)
	if err != nil {
		return nil, err
	}
	fcfg := o.flow
	fcfg.Filter = filter
	fcfg.MinBytes = anomMinBytes(o)
	fcfg.NewDetector = detectorFactory(acfg)
	fcfg.Baseline = baseline(acfg)
	if err := validateDetect(o); err != nil {
		return nil, err
	}
	if err := flowDetectSettings(o, &fcfg); err != nil {
		return nil, err
	}
	if err := fcfg.Validate(); err != nil {
		return nil, err
	}
	detectCfg, err := detectConfig(o, &fcfg)
	if err != nil {
		return nil, err
	}
	dcfg := o.dispatch
	if err := dcfg.Validate(); err != nil {
		return nil, err
	}
	return &settings{anomaly: acfg, flow: fcfg, dispatch: dcfg, detect: detectCfg, level: level}, nil
}

// reloadable returns the part of the flow settings a reload may change.
func (s *settings) reloadable() flow.Settings {
	c := s.flow
	return flow.Settings{
		MinBytes: c.MinBytes, Threshold: c.Threshold, ResolveAfter: c.ResolveAfter, Filter: c.Filter,
		NewDetector: c.NewDetector, Baseline: c.Baseline, Host: c.Host, Seed: c.Seed,
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

// validate checks the settings buildSettings does not derive itself: the
// progress line, the evidence and the report; at start and on every reload.
func validate(o *options) error {
	switch o.progress {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("-progress %q: valid values are auto, on, off", o.progress)
	}
	// Evidence settings are checked even when no evidence is kept, so a
	// mistake shows before the day it is turned on.
	acfg := archiveConfig(o)
	if err := acfg.Validate(); err != nil {
		return err
	}
	return checkReport(o)
}

// checkReport validates the report flags.
func checkReport(o *options) error {
	r := o.report
	if r.file != "" && o.capture.File == "" {
		return fmt.Errorf("-report %s: needs -pcapfile (a live daemon serves its page at / of -metrics_addr instead)", r.file)
	}
	if r.window <= 0 {
		return fmt.Errorf("-page_window %s: must be positive", r.window)
	}
	cfg := reportConfig(o)
	return cfg.Validate()
}

// checkAnomaly validates the anomaly tests' settings in the flags' terms.
func checkAnomaly(o *options) error {
	c := anomalyTests(o) // Validate fills defaults into its receiver
	if c.Sensitivity < 0 || c.Sensitivity > 1 {
		return fmt.Errorf("-anom_sensitivity %g: must be in [0,1] (the magnitude test's probability is capped at 1, so a larger gate would silence every alert)", c.Sensitivity)
	}
	if c.ActiveSize < 1 {
		return fmt.Errorf("-anom_active_size %d: must be at least 1", c.ActiveSize)
	}
	if c.NSeasons < 0 {
		return fmt.Errorf("-anom_n_seasons %d: must be positive (0 means 4)", c.NSeasons)
	}
	if c.PermCount < 0 {
		return fmt.Errorf("-anom_perm_count %d: must be positive (0 means 500)", c.PermCount)
	}
	if slices.Contains(c.Methods, "fence") && c.UpperBound == anomaly.NA {
		return errors.New("-anom_methods fence needs -anom_upper_bound (bytes per interval; -anom_lower_bound is optional)")
	}
	if slices.Contains(c.Methods, "fence") && c.LowerBound != anomaly.NA && c.LowerBound >= c.UpperBound {
		return fmt.Errorf("-anom_lower_bound %g must be below -anom_upper_bound %g", c.LowerBound, c.UpperBound)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("anomaly tests (-anom_*): %w", err)
	}
	// With -anom_delay a flow is scored once its series holds the reference
	// and the active window; a cap below that would never score anything.
	if need := c.NSeasons*c.ActiveSize + c.ActiveSize; c.Delay && o.flow.SeriesCap < need {
		return fmt.Errorf("-anom_gv_cap %d: the tests need at least %d intervals (-anom_n_seasons %d x -anom_active_size %d of reference, plus %d active); raise -anom_gv_cap to %d or lower -anom_n_seasons",
			o.flow.SeriesCap, need, c.NSeasons, c.ActiveSize, c.ActiveSize, need)
	}
	return nil
}
