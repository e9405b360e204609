package anomaly

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestValidateErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want []string // substrings of the message
	}{
		{"unknown method", Config{ActiveSize: 1, Methods: []string{"magnitude", "fense"}},
			[]string{`anomaly: unknown method "fense" (valid: magnitude, diff, highrank, lowrank, fence, ks, cdf)`}},
		{"unknown method is trimmed", Config{ActiveSize: 1, Methods: []string{" Magnitude "}},
			[]string{`unknown method "Magnitude"`}},
		{"empty method name", Config{ActiveSize: 1, Methods: []string{"ks", ""}},
			[]string{`unknown method ""`}},
		{"method checked before sizes", Config{Methods: []string{"bogus"}},
			[]string{`"bogus"`}},
		{"ActiveSize zero", Config{}, []string{"ActiveSize 0", ">= 1"}},
		{"ActiveSize negative", Config{ActiveSize: -2}, []string{"ActiveSize -2"}},
		{"a=1 NSeasons=3", Config{ActiveSize: 1, NSeasons: 3}, []string{"NSeasons 3", "ActiveSize 1", ">= 4"}},
		{"a=3 NSeasons=1", Config{ActiveSize: 3, NSeasons: 1}, []string{"NSeasons 1", "reference window of 3", "NSeasons >= 2"}},
		{"NSeasons negative", Config{ActiveSize: 1, NSeasons: -4}, []string{"NSeasons -4"}},
		{"NSeasons huge", Config{ActiveSize: 1 << 20, NSeasons: 1 << 20}, []string{"NSeasons 1048576"}},
		{"fence, bounds unset", Config{ActiveSize: 1, Methods: []string{"fence"}},
			[]string{"fence", "UpperBound > LowerBound", "both 0"}},
		{"fence, both NA", Config{ActiveSize: 1, UpperBound: NA, LowerBound: NA, Methods: []string{"fence"}},
			[]string{"both NA"}},
		{"fence, upper below lower", Config{ActiveSize: 1, UpperBound: 3, LowerBound: 5, Methods: []string{"fence"}},
			[]string{"UpperBound 3 < LowerBound 5"}},
		{"fence, one-sided without upper", Config{ActiveSize: 1, LowerBound: NA, Methods: []string{"fence"}},
			[]string{"UpperBound 0 < LowerBound NA"}},
		{"fence, NaN upper", Config{ActiveSize: 1, UpperBound: math.NaN(), Methods: []string{"fence"}},
			[]string{"UpperBound NaN"}},
		{"fence, NaN lower", Config{ActiveSize: 1, UpperBound: 1, LowerBound: math.NaN(), Methods: []string{"fence"}},
			[]string{"LowerBound NaN"}},
		{"PermCount negative", Config{ActiveSize: 1, PermCount: -1, Methods: []string{"ks"}},
			[]string{"PermCount -1", "0 means 500"}},
		{"Sensitivity NaN", Config{ActiveSize: 1, Sensitivity: math.NaN(), Methods: []string{"magnitude"}},
			[]string{"Sensitivity NaN"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			err := cfg.Validate()
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want an error", c.cfg)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %q does not mention %q", err, w)
				}
			}
			if _, err2 := NewAnomalyzer(c.cfg, nil); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("NewAnomalyzer error %v, want %v", err2, err)
			}
		})
	}
}

func TestValidateDefaults(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Config
		want Config
	}{
		{"all defaults", Config{ActiveSize: 1},
			Config{ActiveSize: 1, NSeasons: 4, PermCount: 500, Sensitivity: 0.1, Methods: []string{"magnitude", "ks"}}},
		{"names trimmed", Config{ActiveSize: 2, NSeasons: 2, Methods: []string{" cdf", "fence ", "\tks"}, UpperBound: 1},
			Config{ActiveSize: 2, NSeasons: 2, PermCount: 500, UpperBound: 1, Methods: []string{"cdf", "fence", "ks"}}},
		{"PermCount only for permutation tests", Config{ActiveSize: 1, Methods: []string{"cdf"}},
			Config{ActiveSize: 1, NSeasons: 4, Methods: []string{"cdf"}}},
		{"rank tests take PermCount", Config{ActiveSize: 1, Methods: []string{"lowrank"}},
			Config{ActiveSize: 1, NSeasons: 4, PermCount: 500, Methods: []string{"lowrank"}}},
		{"Sensitivity only with magnitude", Config{ActiveSize: 1, Methods: []string{"diff"}},
			Config{ActiveSize: 1, NSeasons: 4, PermCount: 500, Methods: []string{"diff"}}},
		{"set values kept", Config{ActiveSize: 3, NSeasons: 5, PermCount: 77, Sensitivity: 0.4, Methods: []string{"magnitude", "highrank"}},
			Config{ActiveSize: 3, NSeasons: 5, PermCount: 77, Sensitivity: 0.4, Methods: []string{"magnitude", "highrank"}}},
		{"two-sided fence with L=0", Config{ActiveSize: 1, UpperBound: 10, Methods: []string{"fence"}},
			Config{ActiveSize: 1, NSeasons: 4, UpperBound: 10, Methods: []string{"fence"}}},
		{"one-sided fence", Config{ActiveSize: 1, UpperBound: 10, LowerBound: NA, Methods: []string{"fence"}},
			Config{ActiveSize: 1, NSeasons: 4, UpperBound: 10, LowerBound: NA, Methods: []string{"fence"}}},
		{"a=2 NSeasons=2 is enough", Config{ActiveSize: 2, NSeasons: 2, Methods: []string{"ks"}},
			Config{ActiveSize: 2, NSeasons: 2, PermCount: 500, Methods: []string{"ks"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			callerMethods := slices.Clone(c.in.Methods)
			cfg := c.in
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate(%+v): %v", c.in, err)
			}
			if !equalConfig(cfg, c.want) {
				t.Errorf("Validate(%+v) gave %+v, want %+v", c.in, cfg, c.want)
			}
			if !slices.Equal(c.in.Methods, callerMethods) {
				t.Errorf("Validate modified the caller's Methods: %q", c.in.Methods)
			}
			again := cfg
			if err := again.Validate(); err != nil || !equalConfig(again, cfg) {
				t.Errorf("Validate is not idempotent: %+v, %v", again, err)
			}
			a, err := NewAnomalyzer(c.in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Config(); !equalConfig(got, c.want) {
				t.Errorf("Anomalyzer.Config() = %+v, want %+v", got, c.want)
			}
		})
	}
}

func equalConfig(a, b Config) bool {
	return a.Delay == b.Delay && a.Sensitivity == b.Sensitivity &&
		a.UpperBound == b.UpperBound && a.LowerBound == b.LowerBound &&
		a.ActiveSize == b.ActiveSize && a.NSeasons == b.NSeasons &&
		a.PermCount == b.PermCount && slices.Equal(a.Methods, b.Methods)
}

func TestParseMethod(t *testing.T) {
	for i := range Method(numMethods) {
		m, err := ParseMethod(" " + i.String() + " ")
		if err != nil || m != i {
			t.Errorf("ParseMethod(%q) = %v, %v", i.String(), m, err)
		}
	}
	if s := Method(200).String(); s != "Method(200)" {
		t.Errorf("String of unknown method = %q", s)
	}
}
