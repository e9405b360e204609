package anomaly

import (
	"errors"
	"fmt"
	"math"
)

// NA marks a value as unset or not applicable: a test returns NA when the
// series is too short for it, and LowerBound == NA makes the fence one-sided.
// It is the original library's sentinel, kept so configurations carry over.
const NA = math.SmallestNonzeroFloat64

// Defaults the spec applies to zero fields.
const (
	DefaultNSeasons    = 4
	DefaultPermCount   = 500
	DefaultSensitivity = 0.1
)

// Config configures an Anomalyzer. Zero fields take the spec's defaults when
// Validate runs.
type Config struct {
	// Delay makes Score return 0 until the series holds a full reference
	// window plus a full active window (NSeasons*ActiveSize + ActiveSize points).
	Delay bool
	// Sensitivity gates the result: when magnitude is listed and its value is
	// below Sensitivity, the score is 0. Default 0.1 when magnitude is listed.
	Sensitivity float64
	// UpperBound and LowerBound configure the fence test. LowerBound == NA
	// gives a one-sided fence (value/UpperBound); any other LowerBound,
	// including the zero value, gives a two-sided fence around the midpoint.
	UpperBound, LowerBound float64
	// ActiveSize is the number of newest points under test (>= 1).
	ActiveSize int
	// NSeasons sets the reference window to NSeasons*ActiveSize points
	// (which must be >= 4). Default 4.
	NSeasons int
	// PermCount is the number of random permutations of the Monte Carlo
	// paths of diff and ks. Default 500 when one of highrank, lowrank, ks,
	// diff is listed.
	PermCount int
	// Methods lists the tests to run by name (magnitude, diff, highrank,
	// lowrank, fence, ks, cdf); a name listed twice runs once. Default
	// magnitude, ks.
	Methods []string
}

// Validate applies the spec's defaults in the spec's order and reports the
// first problem, naming the field and the accepted values. Method names are
// stored with surrounding spaces trimmed, in a new slice, so the caller's
// slice is never modified. Validate is idempotent.
func (c *Config) Validate() error {
	// 1. Methods.
	if len(c.Methods) == 0 {
		c.Methods = []string{"magnitude", "ks"}
	} else {
		methods := make([]string, len(c.Methods))
		for i, name := range c.Methods {
			m, err := ParseMethod(name)
			if err != nil {
				return err
			}
			methods[i] = m.String()
		}
		c.Methods = methods
	}
	set := c.methodSet()

	// 2. NSeasons.
	if c.NSeasons == 0 {
		c.NSeasons = DefaultNSeasons
	}

	// 3, 4. Window sizes.
	if c.ActiveSize < 1 {
		return fmt.Errorf("anomaly: ActiveSize %d invalid (must be >= 1)", c.ActiveSize)
	}
	if c.NSeasons < 1 || c.NSeasons > math.MaxInt32/c.ActiveSize {
		return fmt.Errorf("anomaly: NSeasons %d invalid (must be >= 1 and NSeasons*ActiveSize >= 4)", c.NSeasons)
	}
	if r := c.NSeasons * c.ActiveSize; r < 4 {
		return fmt.Errorf("anomaly: NSeasons %d with ActiveSize %d gives a reference window of %d points (NSeasons*ActiveSize must be >= 4, so NSeasons >= %d)",
			c.NSeasons, c.ActiveSize, r, (4+c.ActiveSize-1)/c.ActiveSize)
	}

	// 5. Fence bounds. NaN compares false with everything, so it would slip
	// through the ordering checks and silently make every fence score 0.
	if set[MethodFence] {
		switch {
		case math.IsNaN(c.UpperBound):
			return errors.New("anomaly: UpperBound NaN invalid for fence (must be a number)")
		case math.IsNaN(c.LowerBound):
			return errors.New("anomaly: LowerBound NaN invalid for fence (must be a number, or NA for a one-sided fence)")
		case c.UpperBound == c.LowerBound:
			return fmt.Errorf("anomaly: fence needs UpperBound > LowerBound, got both %s (set UpperBound; LowerBound NA gives a one-sided fence)",
				fmtBound(c.UpperBound))
		case c.UpperBound < c.LowerBound:
			return fmt.Errorf("anomaly: fence needs UpperBound > LowerBound, got UpperBound %s < LowerBound %s",
				fmtBound(c.UpperBound), fmtBound(c.LowerBound))
		}
	}

	// 6. Permutations.
	if set[MethodHighRank] || set[MethodLowRank] || set[MethodKS] || set[MethodDiff] {
		if c.PermCount < 0 {
			return fmt.Errorf("anomaly: PermCount %d invalid (must be >= 0; 0 means %d)", c.PermCount, DefaultPermCount)
		}
		if c.PermCount == 0 {
			c.PermCount = DefaultPermCount
		}
	}

	// 7. Sensitivity.
	if set[MethodMagnitude] {
		if math.IsNaN(c.Sensitivity) {
			return fmt.Errorf("anomaly: Sensitivity NaN invalid (must be a number; 0 means %g)", DefaultSensitivity)
		}
		if c.Sensitivity == 0 {
			c.Sensitivity = DefaultSensitivity
		}
	}
	return nil
}

// refSize is the spec's r, the magnitude/rank/ks reference window size.
func (c *Config) refSize() int {
	ns := c.NSeasons
	if ns == 0 {
		ns = DefaultNSeasons
	}
	return ns * c.ActiveSize
}

// methodSet reports which methods are listed; unknown names are ignored
// (Validate rejects them).
func (c *Config) methodSet() [numMethods]bool {
	var set [numMethods]bool
	for _, name := range c.Methods {
		if m, err := ParseMethod(name); err == nil {
			set[m] = true
		}
	}
	return set
}

// fmtBound prints NA by name rather than as 5e-324.
func fmtBound(x float64) string {
	if x == NA {
		return "NA"
	}
	return fmt.Sprintf("%g", x)
}
