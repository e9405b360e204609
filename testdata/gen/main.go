// Command gen writes the synthetic captures of package synth.
//
// The committed demo capture and its labels were made with this command,
// run from the module root; it rewrites them bit for bit on any platform,
// and `go test ./testdata/gen` fails if they no longer match the code:
//
//	go run ./testdata/gen -scenario demo -o testdata/demo.pcap -labels testdata/demo.labels.json
//
// Other examples (-tally N prints the per-interval bytes of the labelled
// pairs and of the N busiest others, recounted by decoding the file):
//
//	go run ./testdata/gen -scenario demo -o /tmp/demo.pcap -tally 5
//	go run ./testdata/gen -scenario exfil -snaplen 128 -o /tmp/exfil.pcap -labels /tmp/exfil.json
//	go run ./testdata/gen -scenario bench -snaplen 96 -o /tmp/bench.pcap       # 5 M packets
//	go run ./testdata/gen -scenario many -format pcapng -linktype sll -o /tmp/many.pcapng
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wherefore/wherefore/testdata/synth"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h printed the usage: not a failure.
	case err != nil:
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: gen -scenario NAME -o FILE [flags]

Writes a deterministic synthetic capture: the same flags give the same bytes.
Scenarios:
  demo    the committed demo: 50 hosts, 150 s, a labelled 64 MiB exfiltration
          in interval 20, records cut at 96 bytes, bulk TCP as 64 KB GRO packets
  steady  background only: 100 hosts, 180 s, web/QUIC/DNS/ping and 3 heavy flows
  exfil   steady plus the labelled exfiltration in interval 24, 1500-byte frames
  bench   5,000,000 packets over 50,000 src->dst pairs in 180 s, full-size frames
  many    1,000,000 src->dst pairs, each active in all three intervals (15 s)
Flags left unset keep the scenario's values.

`)
		fs.PrintDefaults()
	}
	var (
		scenario = fs.String("scenario", "demo", "scenario: demo, steady, exfil, bench or many")
		out      = fs.String("o", "", "output capture file, - for stdout (required)")
		labels   = fs.String("labels", "", "write the labelled anomalies as JSON to this file")
		seed     = fs.Uint64("seed", 1, "random seed")
		packets  = fs.Int("packets", 0, "bench, many: exact number of packets")
		flows    = fs.Int("flows", 0, "bench, many: exact number of distinct src->dst pairs")
		hosts    = fs.Int("hosts", 0, fmt.Sprintf("internal hosts, 1 to %d", synth.MaxHosts))
		duration = fs.Duration("duration", 0, "packet time the capture spans")
		interval = fs.Duration("interval", 0, "transfer interval the traffic is shaped by (default 5s)")
		start    = fs.String("start", "", "RFC 3339 time of the capture's start (default 2026-11-22T10:00:00Z)")
		snaplen  = fs.Int("snaplen", 0, "cut records at this many bytes, original lengths kept (default: scenario's; demo 96, others 262144)")
		gso      = fs.Int("gso", 0, "demo, steady, exfil: TCP segments per bulk packet, 1 to 44 (demo 44, others 1)")
		format   = fs.String("format", "pcap", "file format: pcap or pcapng")
		linktype = fs.String("linktype", "ethernet", "link type: ethernet, raw, sll or null")
		nanos    = fs.Bool("nanosecond", false, "nanosecond timestamps (nanosecond pcap)")
		tally    = fs.Int("tally", 0, "after writing, decode the file and print per-interval bytes of the labelled pairs and of this many top other pairs")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *out == "" {
		return errors.New("-o is required (- for stdout)")
	}
	s, err := synth.ByName(*scenario, *seed)
	if err != nil {
		return err
	}
	var opts synth.Options
	if opts.Format, err = synth.ParseFormat(*format); err != nil {
		return err
	}
	if opts.LinkType, err = synth.ParseLinkType(*linktype); err != nil {
		return err
	}
	opts.Snaplen, opts.Nanosecond = *snaplen, *nanos
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["packets"] {
		s.Packets = *packets
	}
	if set["flows"] {
		s.Pairs = *flows
		if s.Name == "many" && !set["packets"] {
			s.Packets = 3 * s.Pairs // still one packet per pair per interval
		}
	}
	if set["hosts"] {
		s.Hosts = *hosts
	}
	if set["duration"] {
		s.Duration = *duration
	}
	if set["interval"] {
		s.Interval = *interval
	}
	if set["gso"] {
		s.BulkSegments = *gso
	}
	if set["start"] {
		t, err := time.Parse(time.RFC3339Nano, *start)
		if err != nil {
			return fmt.Errorf("-start: %w", err)
		}
		s.Start = t.UTC()
	}
	if err := s.Validate(); err != nil {
		return err
	}

	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	began := time.Now()
	sum, err := synth.Write(w, s, opts)
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	took := time.Since(began)
	fmt.Fprintf(stderr, "gen: %s seed %d: %d packets, %d bytes on the wire, %d captured, %d pairs, %d intervals, %s to %s; %.2fs, %.0f packets/s\n",
		s.Name, s.Seed, sum.Packets, sum.Bytes, sum.CapturedBytes, sum.Pairs, sum.Intervals,
		sum.First.Format(time.RFC3339Nano), sum.Last.Format(time.RFC3339Nano), took.Seconds(), float64(sum.Packets)/took.Seconds())

	if *labels != "" {
		if err := writeLabels(*labels, sum.Labels); err != nil {
			return err
		}
	}
	if *tally > 0 {
		if *out == "-" {
			return errors.New("-tally needs -o to name a file")
		}
		return printTally(stderr, *out, s.Interval, sum.Labels, *tally)
	}
	return nil
}

func writeLabels(path string, ls []synth.Label) error {
	if ls == nil {
		ls = []synth.Label{} // an empty list, not null: there is nothing to find
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "->" in keys readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(ls); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// printTally decodes the written capture and prints, per pair, its bytes in
// each interval: the labelled pairs first, then the top others by peak.
func printTally(w io.Writer, path string, interval time.Duration, ls []synth.Label, n int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := synth.ReadTally(bufio.NewReader(f), interval)
	if err != nil {
		return err
	}
	var keys []string
	for _, l := range ls {
		keys = append(keys, l.Key)
	}
	fmt.Fprintf(w, "tally: %d packets, %d bytes, %d pairs, intervals of %v from %s\n",
		t.Packets, t.Bytes, len(t.Pairs), interval, t.Start.Format(time.RFC3339))
	for i, k := range append(keys, t.Top(n, keys...)...) {
		pc := t.Pairs[k]
		if pc == nil {
			continue
		}
		tag := "top"
		if i < len(keys) {
			tag = "label"
		}
		vals := make([]string, len(pc.Bytes))
		for j, b := range pc.Bytes {
			vals[j] = fmt.Sprint(b)
		}
		fmt.Fprintf(w, "%s %s: %s\n", tag, k, strings.Join(vals, " "))
	}
	return nil
}
