package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"
)

// alert is what the evaluator reads from one line of wherefore's alert
// record: today's fields and, when present, the detectors' kind, scope and
// reason. Addresses are every address the alert names in src, dst, key and
// subject, however the key is spelled ("a->b", a host, "a:port").
type alert struct {
	IntervalStart time.Time `json:"interval_start"`
	Key           string    `json:"key"`
	Src           string    `json:"src,omitempty"`
	Dst           string    `json:"dst,omitempty"`
	Detector      string    `json:"detector,omitempty"`
	Kind          string    `json:"kind,omitempty"`
	Scope         string    `json:"scope,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Addrs         []string  `json:"-"`
}

// parseAlert reads one JSON line of the alert record.
func parseAlert(line []byte) (alert, error) {
	var raw struct {
		alert
		Subject any `json:"subject"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return alert{}, err
	}
	a := raw.alert
	if a.IntervalStart.IsZero() {
		return alert{}, errors.New("no interval_start")
	}
	text := a.Src + " " + a.Dst + " " + a.Key
	if raw.Subject != nil {
		b, _ := json.Marshal(raw.Subject)
		text += " " + string(b)
	}
	for _, f := range strings.FieldsFunc(text, func(r rune) bool {
		return r == ' ' || r == '>' || r == '"' || r == ',' || r == '{' || r == '}' || r == '[' || r == ']' || r == '/'
	}) {
		f = strings.TrimSuffix(f, "-")
		if ap, err := netip.ParseAddrPort(f); err == nil {
			f = ap.Addr().String()
		}
		if ad, err := netip.ParseAddr(f); err == nil && !contains(a.Addrs, ad.String()) {
			a.Addrs = append(a.Addrs, ad.String())
		}
	}
	return a, nil
}

// names says whether the alert names one of addrs (addresses, or
// prefixes such as 192.0.2.0/24 naming every address in them).
func (a alert) names(addrs ...string) bool {
	for _, x := range addrs {
		if x == "" {
			continue
		}
		if p, err := netip.ParsePrefix(x); err == nil {
			for _, y := range a.Addrs {
				if ad, err := netip.ParseAddr(y); err == nil && p.Contains(ad) {
					return true
				}
			}
			continue
		}
		if contains(a.Addrs, x) {
			return true
		}
	}
	return false
}

// runWherefore analyses one capture with the given flags and returns the
// alerts it wrote. The record goes to standard output; the log and the
// summary (standard error) are kept for the error message.
func runWherefore(ctx context.Context, bin string, flags []string, pcap, scratch string) ([]alert, error) {
	args := append([]string{}, flags...)
	args = append(args, "-pcapfile", pcap, "-alerts_file", "-", "-progress", "off", "-host", "eval", "-l", scratch)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	var alerts []alert
	var perr error
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		a, err := parseAlert(sc.Bytes())
		if err != nil && perr == nil {
			perr = fmt.Errorf("alert line %d: %w", n, err)
		}
		if err == nil {
			alerts = append(alerts, a)
		}
	}
	if err := sc.Err(); err != nil && perr == nil {
		perr = fmt.Errorf("reading alerts: %w", err)
	}
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return alerts, fmt.Errorf("wherefore %s on %s: %w: %s", strings.Join(flags, " "), pcap, err, msg)
	}
	return alerts, perr
}

// scratchDir makes a directory for one run's -l.
func scratchDir(parent string) (string, error) {
	return os.MkdirTemp(parent, "run-")
}
