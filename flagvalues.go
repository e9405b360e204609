package main

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// aliasGroups lists flags that are one setting under several names, the
// canonical (Wherefore's) name first.
func aliasGroups() [][]string {
	return [][]string{
		{"l", "log_dir"},
		{"filter_ip_CIDR", "filter_cidr_mask"},
		{"filter_bool", "filter_cidr"},
	}
}

// formValue gives a value's parse errors the form it accepts: the flag
// package's own says only "parse error".
type formValue struct {
	flag.Value
	form string
}

func (v *formValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return fmt.Errorf("want %s", v.form)
	}
	return nil
}

// boolFormValue is a formValue that, like a bool flag, needs no argument.
type boolFormValue struct{ formValue }

func (*boolFormValue) IsBoolFlag() bool { return true }

// explainValues wraps every typed flag so a bad value names the accepted
// form, e.g. "-transfer_interval: want a duration such as 5s or 1m".
func explainValues(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok {
			return
		}
		switch g.Get().(type) {
		case time.Duration:
			f.Value = &formValue{f.Value, "a duration such as 5s or 1m"}
		case int, int64:
			f.Value = &formValue{f.Value, "a whole number such as 10"}
		case uint, uint64:
			f.Value = &formValue{f.Value, "a whole number, 0 or more"}
		case float64:
			f.Value = &formValue{f.Value, "a number such as 0.5 or 5e8"}
		case bool:
			f.Value = &boolFormValue{formValue{f.Value, "true or false"}}
		}
	})
}

// aliasValue remembers the value an alias was given, so two names of one
// setting given different values are refused instead of the last winning.
type aliasValue struct {
	flag.Value
	given string
}

func (v *aliasValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return err
	}
	v.given = v.Value.String()
	return nil
}

// IsBoolFlag keeps -filter_cidr usable without an argument.
func (v *aliasValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func trackAliases(fs *flag.FlagSet) {
	for _, g := range aliasGroups() {
		for _, name := range g {
			f := fs.Lookup(name)
			f.Value = &aliasValue{Value: f.Value}
		}
	}
}

// checkAliases refuses two names of one setting given different values;
// set holds the flags given.
func checkAliases(fs *flag.FlagSet, set map[string]bool) error {
	for _, g := range aliasGroups() {
		first := ""
		for _, name := range g {
			if !set[name] {
				continue
			}
			if first == "" {
				first = name
				continue
			}
			a, b := fs.Lookup(first).Value.(*aliasValue), fs.Lookup(name).Value.(*aliasValue)
			if a.given != b.given {
				return fmt.Errorf("-%s %s and -%s %s: both name one setting (-%s); give it once",
					first, a.given, name, b.given, strings.Join(g, ", -"))
			}
		}
	}
	return nil
}

// withAliases marks every name of a setting as given when one of them is.
func withAliases(set map[string]bool) {
	for _, g := range aliasGroups() {
		for _, name := range g {
			if set[name] {
				for _, other := range g {
					set[other] = true
				}
				break
			}
		}
	}
}

// namesOf returns every name of the setting name belongs to, name included.
func namesOf(name string) []string {
	for _, g := range aliasGroups() {
		for _, n := range g {
			if n == name {
				return g
			}
		}
	}
	return []string{name}
}

// configKey reports whether a config file may set the flag: every flag but
// the one-off actions of the command line.
func configKey(name string) bool {
	switch name {
	case "config", "example_config", "test_alert", "version":
		return false
	}
	return true
}

// unwrap returns the value explainValues and trackAliases wrapped.
func unwrap(v flag.Value) flag.Value {
	for {
		switch w := v.(type) {
		case *aliasValue:
			v = w.Value
		case *boolFormValue:
			v = w.Value
		case *formValue:
			v = w.Value
		default:
			return v
		}
	}
}
