// Command eval measures how well a wherefore binary detects what matters.
//
// It generates the labelled scenario suite of package synth (clean
// backgrounds in a tuning and a held-out set, each attack class planted at
// several sizes, benign events that must not alert), reads the labelled
// public captures in ../shared/pcaps/attacks and ../shared/pcaps/traffic,
// runs the binary over every file once per configuration row (flags passed
// through), and prints per row: recall per attack class, the median delay
// in intervals from an attack's start to its first matching alert, false
// alerts per 1000 flow-hours on the held-out clean backgrounds, and per
// public capture the alerts with their keys. An alert matches a label when
// its interval overlaps the attack's window and its src, dst, key or
// subject names the attacker or the victim.
//
//	go run ./testdata/eval -wherefore bin/wherefore \
//	    -row 'Wherefore original defaults=-f tcp -anom_sensitivity 1' -row 'defaults='
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wherefore/wherefore/testdata/synth"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "eval:", err)
		os.Exit(1)
	}
}

// row is one configuration: a name and the flags given to wherefore.
type row struct {
	Name  string   `json:"name"`
	Flags []string `json:"flags"`
}

// rowList collects repeated -row NAME=FLAGS values.
type rowList []row

func (r *rowList) String() string { return fmt.Sprint(*r) }

func (r *rowList) Set(v string) error {
	name, flags, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("row %q: want NAME=FLAGS, e.g. 'defaults=' or 'no delay=-anom_delay=false'", v)
	}
	*r = append(*r, row{Name: strings.TrimSpace(name), Flags: strings.Fields(flags)})
	return nil
}

// config is what run was asked to do.
type config struct {
	bin      string
	rows     rowList
	pcaps    string
	suite    bool
	public   bool
	jobs     int
	asJSON   bool
	keys     int
	work     string
	scenario []synth.SuiteEntry // nil: synth.Suite()
}

// report is everything measured, per row.
type report struct {
	Rows      []row           `json:"rows"`
	Scenarios []scenarioFile  `json:"scenarios,omitempty"`
	Suite     []suiteScore    `json:"suite,omitempty"`  // per row
	Public    [][]publicScore `json:"public,omitempty"` // per row, per capture
	Captures  []publicCapture `json:"captures,omitempty"`
	Elapsed   string          `json:"elapsed"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	rep, err := evaluate(ctx, c, stderr)
	if err != nil {
		return err
	}
	if c.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeMarkdown(stdout, rep, c.keys)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.bin, "wherefore", "", "wherefore binary to evaluate (required)")
	fs.Var(&c.rows, "row", "configuration row NAME=FLAGS (flags split at spaces, passed to wherefore; repeatable; default: one row \"defaults=\")")
	fs.StringVar(&c.pcaps, "pcaps", "../shared/pcaps", "folder of the public captures (attacks/ and traffic/ with README.md tables); empty: skip them")
	fs.BoolVar(&c.suite, "suite", true, "run the generated scenario suite")
	fs.BoolVar(&c.public, "public", true, "run the public captures")
	fs.IntVar(&c.jobs, "j", runtime.GOMAXPROCS(0), "captures analysed at once")
	fs.BoolVar(&c.asJSON, "json", false, "print the report as JSON instead of Markdown")
	fs.IntVar(&c.keys, "keys", 3, "alerted keys listed per public capture in the Markdown report")
	fs.StringVar(&c.work, "work", "", "keep the generated captures in this folder (default: a temporary folder, removed)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q: flags for wherefore go in -row NAME=FLAGS", fs.Args())
	case c.bin == "":
		return c, errors.New("-wherefore: the binary to evaluate is required (make build puts it in bin/wherefore)")
	case c.jobs < 1:
		return c, fmt.Errorf("-j %d: want at least 1", c.jobs)
	case c.keys < 0:
		return c, fmt.Errorf("-keys %d: want 0 or more", c.keys)
	}
	if _, err := os.Stat(c.bin); err != nil {
		return c, fmt.Errorf("-wherefore: %w", err)
	}
	if len(c.rows) == 0 {
		c.rows = rowList{{Name: "defaults"}}
	}
	if c.pcaps == "" {
		c.public = false
	}
	return c, nil
}

// evaluate generates the suite, runs every row over every file, c.jobs at
// a time, and scores the results.
func evaluate(ctx context.Context, c config, progress io.Writer) (*report, error) {
	start := time.Now()
	rep := &report{Rows: c.rows}
	work := c.work
	if work == "" {
		dir, err := os.MkdirTemp("", "wherefore-eval-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		work = dir
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	scratch := filepath.Join(work, "scratch")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)

	if c.suite {
		entries := c.scenario
		if entries == nil {
			entries = synth.Suite()
		}
		files, err := generate(ctx, entries, work, c.jobs)
		if err != nil {
			return nil, err
		}
		rep.Scenarios = files
		fmt.Fprintf(progress, "eval: %d scenarios generated in %v\n", len(files), time.Since(start).Round(time.Millisecond))
	}
	if c.public {
		for _, set := range []struct {
			dir    string
			attack bool
		}{{"attacks", true}, {"traffic", false}} {
			cs, err := readPublic(filepath.Join(c.pcaps, set.dir), set.attack)
			if err != nil {
				return nil, err
			}
			rep.Captures = append(rep.Captures, cs...)
		}
	}

	// One job per row and file; results land in their own slots.
	nf := len(rep.Scenarios) + len(rep.Captures)
	alerts := make([][]alert, len(c.rows)*nf)
	errs := make([]error, len(alerts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.jobs)
	for ri, r := range c.rows {
		for fi := range nf {
			path := ""
			if fi < len(rep.Scenarios) {
				path = rep.Scenarios[fi].Path
			} else {
				path = rep.Captures[fi-len(rep.Scenarios)].Path
			}
			slot := ri*nf + fi
			g.Go(func() error {
				dir, err := scratchDir(scratch)
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				rctx, cancel := context.WithTimeout(gctx, 10*time.Minute)
				defer cancel()
				alerts[slot], errs[slot] = runWherefore(rctx, c.bin, r.Flags, path, dir)
				if fi < len(rep.Scenarios) && errs[slot] != nil {
					// A generated capture must always be readable: the
					// configuration itself is wrong.
					return fmt.Errorf("row %q: %w", r.Name, errs[slot])
				}
				return gctx.Err()
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for ri := range c.rows {
		base := ri * nf
		if c.suite {
			rep.Suite = append(rep.Suite, scoreSuite(rep.Scenarios, alerts[base:base+len(rep.Scenarios)]))
		}
		if c.public {
			var ps []publicScore
			for i, pc := range rep.Captures {
				slot := base + len(rep.Scenarios) + i
				ps = append(ps, scorePublic(pc, alerts[slot], errs[slot]))
			}
			rep.Public = append(rep.Public, ps)
		}
	}
	rep.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return rep, nil
}

// generate writes the suite's captures into dir, jobs at a time.
func generate(ctx context.Context, entries []synth.SuiteEntry, dir string, jobs int) ([]scenarioFile, error) {
	files := make([]scenarioFile, len(entries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, e := range entries {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			s := e.Scenario
			path := filepath.Join(dir, s.Name+".pcap")
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			sum, err := synth.Write(f, s, synth.Options{})
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("generating %s: %w", s.Name, err)
			}
			files[i] = scenarioFile{
				Name: s.Name, Path: path, Set: e.Set, Clean: e.Clean, Interval: s.Interval,
				FlowHours: float64(sum.PairIntervals) * s.Interval.Hours(),
				Packets:   sum.Packets, Labels: sum.Attacks,
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return files, nil
}
