package anomaly

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultMethods are the tests -anom_methods ran by default before the
// detectors of flow/detect took over volume; the evaluation in README
// found them adding false alerts and no detections, so the flag's default
// is now MethodsNone.
const DefaultMethods = "magnitude,highrank,lowrank,diff"

// MethodsNone, as -anom_methods, turns the anomaly tests off.
const MethodsNone = "none"

// RegisterFlags defines the -anom_* flags on fs, with their defaults,
// writing straight into c. Method names are checked by Validate.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Methods = []string{MethodsNone}
	c.UpperBound, c.LowerBound = NA, NA
	fs.Var((*methodsValue)(&c.Methods), "anom_methods", "anomaly tests on each flow's own series (Wherefore's), comma-separated `list`: magnitude, diff, highrank, lowrank, fence, ks, cdf; none leaves volume to the detectors (-detectors), which the evaluation found catch more with fewer false alerts (previous default: magnitude,highrank,lowrank,diff)")
	fs.IntVar(&c.ActiveSize, "anom_active_size", 1, "intervals in the active window")
	fs.IntVar(&c.NSeasons, "anom_n_seasons", 4, "reference window = this many active windows")
	fs.Float64Var(&c.Sensitivity, "anom_sensitivity", 0.5, "magnitude gate in [0,1]: a flow whose newest interval differs from the reference mean by less than this share never alerts")
	fs.Var((*boundValue)(&c.UpperBound), "anom_upper_bound", "fence test's upper bound in `bytes` per interval (needed with fence)")
	fs.Var((*boundValue)(&c.LowerBound), "anom_lower_bound", "fence test's lower bound in `bytes` per interval (unset: one-sided fence)")
	fs.BoolVar(&c.Delay, "anom_delay", true, "score a flow only once it has a full reference and active window of history")
	fs.IntVar(&c.PermCount, "anom_perm_count", 500, "permutations for the Monte Carlo tests (diff, ks on long series)")
}

// methodsValue is a comma-separated list of test names.
type methodsValue []string

func (m *methodsValue) String() string { return strings.Join(*m, ",") }

// Get returns the list as given, so it is shown quoted like a string.
func (m *methodsValue) Get() any { return m.String() }

func (m *methodsValue) Set(s string) error {
	var names []string // a fresh slice: a Config copied earlier keeps its list
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	*m = names
	return nil
}

// boundValue is a fence bound; "unset" (or empty) is NA, no bound.
type boundValue float64

func (b *boundValue) String() string {
	if b == nil || float64(*b) == NA {
		return "unset"
	}
	return strconv.FormatFloat(float64(*b), 'g', -1, 64)
}

func (b *boundValue) Set(s string) error {
	if s == "unset" || s == "" {
		*b = NA
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a number (or \"unset\")", s)
	}
	*b = boundValue(v)
	return nil
}
