package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wherefore/wherefore/archive"
)

// runExtract is `wherefore extract`: a pcap of the spool's packets that
// match a BPF expression within a time range, from a running daemon's -l
// or a stopped one's.
func runExtract(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wherefore extract", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("l", "/var/log/wherefore", "the daemon's -l `directory`, which holds the packet spool")
	fs.StringVar(dir, "log_dir", "/var/log/wherefore", "alias of -l")
	fromS := fs.String("from", "", "first packet `time` to include: RFC 3339 (2026-11-22T10:00:00Z), or Unix seconds; empty: the oldest retained")
	toS := fs.String("to", "", "`time` before which packets are included: RFC 3339, Unix seconds, or a duration after -from (5m); empty: the newest")
	out := fs.String("o", "-", "output pcap `file`; - writes to standard output")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wherefore extract [-l dir] [-from time] [-to time|duration] [-o file] [BPF expression]")
		fmt.Fprintln(stderr, "Writes one pcap of the spooled packets that match the expression (as tcpdump takes it) within the time range.")
		fmt.Fprintln(stderr, "Example: wherefore extract -l /var/log/wherefore -from 2026-11-22T10:00:00Z -to 5m -o host.pcap host 10.0.0.5")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	q := archive.Query{Dir: *dir, Filter: strings.Join(fs.Args(), " ")}
	var err error
	if q.From, err = parseExtractTime(*fromS, time.Time{}); err != nil {
		fmt.Fprintf(stderr, "wherefore extract: -from %q: %v\n", *fromS, err)
		return 2
	}
	if q.To, err = parseExtractTime(*toS, q.From); err != nil {
		fmt.Fprintf(stderr, "wherefore extract: -to %q: %v\n", *toS, err)
		return 2
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		fmt.Fprintf(stderr, "wherefore extract: -to (%s) must be after -from (%s)\n", q.To.Format(time.RFC3339Nano), q.From.Format(time.RFC3339Nano))
		return 2
	}
	w := stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640); err != nil {
			fmt.Fprintf(stderr, "wherefore extract: -o: %v\n", err)
			return 1
		}
		w = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := archive.Extract(ctx, q, w)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "wherefore extract: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "wherefore extract: %d packets from %d segments (%d through their index, %d read whole, %d skipped)\n",
		st.Packets, st.Segments, st.Indexed, st.Scanned, st.Skipped)
	return 0
}

// parseExtractTime reads an RFC 3339 time, Unix seconds (with a
// fraction), or, when base is set, a duration after base.
func parseExtractTime(s string, base time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	if d, err := time.ParseDuration(s); err == nil && !base.IsZero() {
		return base.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time such as 2026-11-22T10:00:00Z, Unix seconds, or (for -to, after -from) a duration such as 5m")
}
