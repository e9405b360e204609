package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/wherefore/wherefore/alert"
	"gopkg.in/yaml.v3"
)

// parseFlagSet parses the command line and, with -config, the YAML config
// file: one key per flag (its name without the dash), a list for repeatable
// flags. Flags on the command line override the file. It returns the
// options, the flag set holding their values (a reload compares it flag by
// flag), and the flags given explicitly, on the command line or in the file.
func parseFlagSet(args []string) (*options, *flag.FlagSet, map[string]bool, error) {
	o := new(options)
	fs := newFlagSet(o)
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, nil, fmt.Errorf("unexpected argument %q (flags start with -; see -h)", strings.Join(fs.Args(), " "))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if err := checkAliases(fs, explicit); err != nil {
		return nil, nil, nil, err
	}
	withAliases(explicit)
	if o.configFile != "" {
		fromFile, err := applyConfigFile(fs, o.configFile, explicit)
		if err != nil {
			return nil, nil, nil, err
		}
		for k := range fromFile {
			explicit[k] = true
		}
		withAliases(explicit)
	}
	if o.flow.Host == "" {
		// Resolved here rather than as the flag's default, so -h and the
		// example config are the same on every machine.
		o.flow.Host, _ = os.Hostname()
	}
	return o, fs, explicit, nil
}

// applyConfigFile sets every flag the file names and the command line did
// not. Unknown keys are errors naming the key and its line.
func applyConfigFile(fs *flag.FlagSet, path string, explicit map[string]bool) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return map[string]bool{}, nil // an empty file sets nothing
		}
		return nil, fmt.Errorf("-config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return map[string]bool{}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("-config %s: line %d: want a mapping of flag names to values", path, root.Line)
	}
	set := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := strings.TrimPrefix(k.Value, "-")
		f := fs.Lookup(name)
		if f == nil || !configKey(name) {
			return nil, fmt.Errorf("-config %s: line %d: unknown key %q (keys are flag names, as listed by wherefore -h, except the one-off actions config, example_config, test_alert and version)", path, k.Line, k.Value)
		}
		for _, other := range namesOf(name) {
			if set[other] {
				return nil, fmt.Errorf("-config %s: line %d: key %q given twice (as %q and %q)", path, k.Line, name, other, name)
			}
		}
		set[name] = true
		if explicit[name] {
			continue // the command line wins
		}
		var values []string
		switch v.Kind {
		case yaml.ScalarNode:
			values = []string{v.Value}
		case yaml.SequenceNode:
			if _, repeatable := f.Value.(*alert.SecretList); !repeatable {
				return nil, fmt.Errorf("-config %s: line %d: %q takes one value, not a list", path, v.Line, name)
			}
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("-config %s: line %d: %q: list items must be plain values", path, item.Line, name)
				}
				values = append(values, item.Value)
			}
		default:
			return nil, fmt.Errorf("-config %s: line %d: %q: want a plain value", path, v.Line, name)
		}
		for _, val := range values {
			if err := fs.Set(name, val); err != nil {
				return nil, fmt.Errorf("-config %s: line %d: %s: %w", path, v.Line, name, err)
			}
		}
	}
	return set, nil
}

// exampleConfig renders every key a config file accepts, commented out at
// its default: the documented example shipped as wherefore.example.yaml.
// An alias is named in its setting's comment rather than given twice.
func exampleConfig() string {
	var o options
	fs := newFlagSet(&o)
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if g := namesOf(f.Name); configKey(f.Name) && g[0] == f.Name {
			names = append(names, f.Name)
		}
	})
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("# wherefore configuration: one key per flag (wherefore -h), flags on the\n")
	b.WriteString("# command line override it. Secrets belong in the environment or in files\n")
	b.WriteString("# (*_file keys), not here. Every key below is commented out at its default.\n")
	for _, n := range names {
		f := fs.Lookup(n)
		usage := strings.ReplaceAll(f.Usage, "`", "")
		if g := namesOf(n); len(g) > 1 {
			usage += " (key also accepted as " + strings.Join(g[1:], ", ") + ")"
		}
		b.WriteString("\n# " + usage + "\n")
		def := f.DefValue
		if _, repeatable := f.Value.(*alert.SecretList); repeatable {
			b.WriteString("# " + n + ": []\n")
			continue
		}
		if def == "" {
			def = `""`
		} else if _, err := strconv.ParseFloat(def, 64); err != nil && def != "true" && def != "false" {
			def = strconv.Quote(def)
		}
		b.WriteString("# " + n + ": " + def + "\n")
	}
	return b.String()
}
