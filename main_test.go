package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
)

// binary is the wherefore command built once for the tests that run it as a
// user would: flags, exit codes, stdout and stderr.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wherefore-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wherefore")
	// Built without -race: these tests exercise the command line; the
	// packages' own tests run under the race detector.
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building wherefore:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runWherefore(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func parseAlerts(t *testing.T, stdout string) []alert.Alert {
	t.Helper()
	var alerts []alert.Alert
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var a alert.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("stdout line is not an alert record: %q: %v", sc.Text(), err)
		}
		alerts = append(alerts, a)
	}
	return alerts
}

func corpus(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "shared", "pcaps"))
	// A missing corpus fails rather than skips: a skip would pass the
	// tests that matter most without running them.
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("capture corpus missing at %s: %v", dir, err)
	}
	return dir
}

func TestHelpListsEveryFlagWithDefault(t *testing.T) {
	r := runWherefore(t, "-h")
	if r.code != 0 {
		t.Fatalf("-h exit %d", r.code)
	}
	var o options
	fs := newFlagSet(&o)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(r.stderr, "-"+f.Name) {
			t.Errorf("-h does not mention -%s", f.Name)
		}
	})
	for _, want := range []string{"default 5s", "default \"none\"", "default 0.6", "-pcapfile FILE"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
	if n < 40 {
		t.Errorf("only %d flags", n)
	}
}

func TestBadFlagsNameTheFlagAndValidValues(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"-anom_methods", "magnitude,fense"}, []string{"fense", "magnitude", "highrank"}},
		{[]string{"-transfer_interval", "0s"}, []string{"-transfer_interval"}},
		{[]string{"-transfer_interval", "soon"}, []string{"-transfer_interval", "a duration such as 5s or 1m"}},
		{[]string{"-l", "/tmp/a", "-log_dir", "/tmp/b"}, []string{"-l /tmp/a", "-log_dir /tmp/b"}},
		{[]string{"-anom_gv_cap", "4"}, []string{"-anom_gv_cap 4", "at least 5"}},
		{[]string{"-anom_gv_cap", "6", "-anom_n_seasons", "6"}, []string{"-anom_gv_cap 6", "at least 7"}},
		{[]string{"-loglevel", "loud"}, []string{"-loglevel", "debug, info, warn, error"}},
		{[]string{"-anom_sensitivity", "2"}, []string{"-anom_sensitivity"}},
		{[]string{"-anom_n_seasons", "3", "-anom_active_size", "1"}, []string{"NSeasons"}},
		{[]string{"-anom_methods", "fence"}, []string{"needs -anom_upper_bound"}},
		{[]string{"-anom_upper_bound", "lots"}, []string{"anom_upper_bound"}},
		{[]string{"-filter_ip_CIDR", "10.0.0.0/40"}, []string{"-filter_ip_CIDR"}},
		{[]string{"-alert_threshold", "0"}, []string{"-alert_threshold"}},
		{[]string{"-anom_gv_cap", "1"}, []string{"-anom_gv_cap"}},
		{[]string{"-daq", "afpacket"}, []string{"-daq", "libpcap"}},
		{[]string{"-file_reader", "mmap"}, []string{"-file_reader", "auto, libpcap"}},
		{[]string{"-progress", "maybe"}, []string{"-progress", "auto, on, off"}},
		{[]string{"-f", "tcp and and"}, []string{"-f"}},
		{[]string{"extra"}, []string{"unexpected argument"}},
	}
	dir := corpus(t)
	file := filepath.Join(dir, "traffic", "pcapplusplus__example.pcap")
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := runWherefore(t, append([]string{"-pcapfile", file}, c.args...)...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr %s", r.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %s", r.stdout)
			}
		})
	}
}

func TestEveryPublicCaptureRuns(t *testing.T) {
	dir := corpus(t)
	for _, set := range []string{"traffic", "attacks"} {
		entries, _ := os.ReadDir(filepath.Join(dir, set))
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".md") {
				continue
			}
			t.Run(e.Name(), func(t *testing.T) {
				t.Parallel()
				r := runWherefore(t, "-pcapfile", filepath.Join(dir, set, e.Name()), "-alert_min_bytes", "0", "-loglevel", "warn")
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				parseAlerts(t, r.stdout)
				if !strings.Contains(r.stderr, "wherefore summary") || !strings.Contains(r.stderr, "packets/s") {
					t.Fatalf("no summary: %s", r.stderr)
				}
			})
		}
	}
}

func TestUnreadableCapturesExitNonZero(t *testing.T) {
	dir := corpus(t)
	for _, name := range []string{
		"libpcap__pcap-invalid-version-1.pcap",
		"pcapng-testgen__le-test002.pcapng",
		"pcapplusplus__solaris.snoop",
		"pcapplusplus__pcapng-example.pcapng.zst",
	} {
		t.Run(name, func(t *testing.T) {
			r := runWherefore(t, "-pcapfile", filepath.Join(dir, "malformed", name))
			if r.code == 0 {
				t.Fatalf("exit 0 for an unreadable capture")
			}
			if !strings.Contains(r.stderr, name) {
				t.Fatalf("error does not name the file: %s", r.stderr)
			}
		})
	}
}

func TestTruncatedCaptureReportsWhereAndWhatWasAnalysed(t *testing.T) {
	dir := corpus(t)
	data, err := os.ReadFile(filepath.Join(dir, "traffic", "elcabezzonn__aug16_part2.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)/2+3], 0o600); err != nil {
		t.Fatal(err)
	}
	r := runWherefore(t, "-pcapfile", cut, "-alert_min_bytes", "0", "-anom_methods", anomalyzerMethods)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	for _, want := range []string{"INCOMPLETE", "broke after packet", "cut.pcap", "everything before that point was analysed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, r.stderr)
		}
	}
	if len(parseAlerts(t, r.stdout)) == 0 {
		t.Errorf("no alerts from the part that was read")
	}
}

// SIGTERM while reading a pipe: the interval in flight is closed, its alert
// written, and the process exits 0.
func TestSIGTERMClosesIntervalInFlight(t *testing.T) {
	const capture = "testdata/demo.pcap"
	data, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "-pcapfile", "-", "-alert_min_bytes", "0", "-anom_delay=false", "-anom_methods", anomalyzerMethods, "-metrics_addr", "127.0.0.1:0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	errb := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = &out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write(data); err != nil {
		t.Fatal(err)
	}
	// The pipe stays open, as with a live tcpdump upstream; wait until the
	// whole file was read (the packet counter says so), then stop.
	url := metricsURL(t, errb) + "/metrics"
	want := float64(countPackets(t, capture))
	deadline := time.Now().Add(30 * time.Second)
	for scrape(t, url)["wherefore_packets_total"] < want {
		if time.Now().After(deadline) {
			t.Fatalf("the whole capture was not read within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; stderr %s", err, errb.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("did not stop within 20s of SIGTERM")
	}
	stdin.Close()
	alerts := parseAlerts(t, out.String())
	full := runWherefore(t, "-pcapfile", capture, "-alert_min_bytes", "0", "-anom_delay=false", "-anom_methods", anomalyzerMethods)
	if want := parseAlerts(t, full.stdout); len(alerts) != len(want) || len(want) < 10 {
		t.Fatalf("%d alerts after SIGTERM, %d reading the file to its end", len(alerts), len(want))
	}
}

func countPackets(t *testing.T, path string) int {
	t.Helper()
	src, err := capture.OpenFile(path, "", "auto")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		if _, _, err := src.ReadPacket(); err != nil {
			return n
		}
		n++
	}
}

func TestSameCaptureSameAlerts(t *testing.T) {
	dir := corpus(t)
	file := filepath.Join(dir, "attacks", "elcabezzonn__cerber.pcap")
	a := runWherefore(t, "-pcapfile", file, "-alert_min_bytes", "0", "-shards", "3")
	b := runWherefore(t, "-pcapfile", file, "-alert_min_bytes", "0", "-shards", "1", "-file_reader", "libpcap")
	if a.code != 0 || b.code != 0 || a.stdout != b.stdout || len(a.stdout) == 0 {
		t.Fatalf("runs differ or failed (exit %d, %d; %d vs %d bytes)", a.code, b.code, len(a.stdout), len(b.stdout))
	}
}

// Every odd file of the robustness corpus ends, without a panic, in one of
// the documented exits: 0 read, 1 broke part-way, 2 unreadable.
func TestMalformedCapturesNeverCrash(t *testing.T) {
	dir := filepath.Join(corpus(t), "malformed")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			r := runWherefore(t, "-pcapfile", filepath.Join(dir, e.Name()), "-alert_min_bytes", "0", "-loglevel", "error")
			if r.code > 2 || strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Fatalf("exit %d:\n%s", r.code, r.stderr)
			}
			parseAlerts(t, r.stdout)
		})
	}
}
