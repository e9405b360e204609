package anomaly

import (
	"fmt"
	"strings"
)

// Method identifies one of the anomalyzer tests. TestScores is indexed by it,
// which keeps per-test results in a fixed-size value instead of a map.
type Method uint8

// The tests, in the order the spec lists them in error messages.
const (
	MethodMagnitude Method = iota
	MethodDiff
	MethodHighRank
	MethodLowRank
	MethodFence
	MethodKS
	MethodCDF

	numMethods = iota
)

// methodNames is indexed by Method; an array, not a map, so it is immutable.
var methodNames = [numMethods]string{
	MethodMagnitude: "magnitude",
	MethodDiff:      "diff",
	MethodHighRank:  "highrank",
	MethodLowRank:   "lowrank",
	MethodFence:     "fence",
	MethodKS:        "ks",
	MethodCDF:       "cdf",
}

// validMethods is the list shown when a method name is not recognised.
const validMethods = "magnitude, diff, highrank, lowrank, fence, ks, cdf"

// String returns the name used in Config.Methods, e.g. "highrank".
func (m Method) String() string {
	if m < numMethods {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", uint8(m))
}

// ParseMethod maps a configured name to its Method. Surrounding spaces are
// ignored so that "magnitude, ks" split on commas works; names are
// case-sensitive, as in the original library.
func ParseMethod(name string) (Method, error) {
	s := strings.TrimSpace(name)
	for m, n := range methodNames {
		if s == n {
			return Method(m), nil
		}
	}
	return 0, fmt.Errorf("anomaly: unknown method %q (valid: %s)", s, validMethods)
}
