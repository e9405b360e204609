package main

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// -h lists every flag exactly once, under one group, and the README's
// "Flags" section is what -h prints.
func TestHelpGroupsEveryFlagOnceAndMatchesREADME(t *testing.T) {
	fs := newFlagSet(new(options))
	seen := map[string]string{}
	for _, g := range helpGroups() {
		for _, canonical := range g.names {
			if fs.Lookup(canonical) == nil {
				t.Errorf("group %s lists -%s, which is not a flag", g.title, canonical)
				continue
			}
			for _, n := range namesOf(canonical) {
				if prev, dup := seen[n]; dup {
					t.Errorf("-%s is listed under %s and %s", n, prev, g.title)
				}
				seen[n] = g.title
			}
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if seen[f.Name] == "" {
			t.Errorf("-h has no group for -%s", f.Name)
		}
	})

	r := runWherefore(t, "-h")
	if r.code != 0 || !strings.HasSuffix(r.stderr, flagHelp(fs)) {
		t.Fatalf("-h exit %d, does not end with the grouped list:\n%s", r.code, r.stderr)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Flags\n")
	_, block, ok2 := strings.Cut(section, "```\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no code block under \"## Flags\"")
	}
	if block != flagHelp(fs) {
		t.Fatalf("README's flag list differs from -h; paste the output of wherefore -h from \"Input:\" on.\nREADME:\n%s\n-h:\n%s", block, flagHelp(fs))
	}
}

// -example_config names every key -config accepts (an alias in the comment
// of its setting), and -config refuses the one-off actions.
func TestExampleConfigListsEveryKey(t *testing.T) {
	example := exampleConfig()
	fs := newFlagSet(new(options))
	fs.VisitAll(func(f *flag.Flag) {
		if !configKey(f.Name) {
			return
		}
		key := "\n# " + f.Name + ": "
		alias := "also accepted as "
		if !strings.Contains(example, key) && !strings.Contains(example, alias+f.Name) &&
			!strings.Contains(example, ", "+f.Name+")") {
			t.Errorf("-example_config lacks key %q", f.Name)
		}
	})
	for _, k := range []string{"host", "cpuprofile", "log_dir"} {
		if !strings.Contains(example, k) {
			t.Errorf("-example_config lacks %q", k)
		}
	}
	r := runWherefore(t, "-config", writeConfig(t, "version: true\n"), "-pcapfile", "testdata/demo.pcap")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown key "version"`) {
		t.Fatalf("config key version: exit %d, %s", r.code, r.stderr)
	}
}
