package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{} }

// startDaemon runs the built binary with args in the background, its
// output captured, and standard input a pipe when stdin is set; the end of
// the test kills it if it is still running.
func startDaemon(t *testing.T, stdin bool, args ...string) (cmd *exec.Cmd, in io.WriteCloser, stdout, stderr *syncBuffer) {
	t.Helper()
	cmd = exec.Command(binary, args...)
	if stdin {
		var err error
		if in, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr = newSyncBuffer(), newSyncBuffer()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, in, stdout, stderr
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLiveCaptureOnLoopback captures from the loopback interface with
// libpcap while the test sends a steady trickle of UDP to itself and then one
// burst: the burst's interval raises one alert, SIGTERM stops the daemon
// cleanly, and the kernel counters are reported. Traffic goes to 127.0.0.1
// only, bounded in count and time.
func TestLiveCaptureOnLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (or cap_net_raw,cap_net_admin on the binary); skipped")
	}
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	go func() { // drain, so the socket buffer never fills
		buf := make([]byte, 2048)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	port := sink.LocalAddr().(*net.UDPAddr).Port

	cmd, _, stdout, stderr := startDaemon(t, false, "-i", "lo", "-f", "udp and dst port "+strconv.Itoa(port), "-transfer_interval", "1s",
		"-w", "200ms", "-alert_min_bytes", "100000", "-anom_methods", anomalyzerMethods, "-alerts_file", "-", "-l", t.TempDir(), "-host", "live-test",
		"-metrics_addr", "127.0.0.1:0")
	waitFor(t, stderr, "wherefore started", 10*time.Second)

	conn, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	payload := make([]byte, 1400)
	send := func(n int) {
		for range n {
			if _, err := conn.Write(payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Eight intervals of about 28 kB, then 400 packets (about 577 kB) in one.
	alignToSecond()
	for range 8 {
		send(20)
		time.Sleep(time.Second)
	}
	burstStart := time.Now().Truncate(time.Second)
	send(400)
	time.Sleep(2500 * time.Millisecond) // let the interval close on the wall clock

	// The kernel's counters reach the metrics while capture runs.
	m := scrape(t, metricsURL(t, stderr)+"/metrics")
	for _, name := range []string{"wherefore_kernel_received_total", "wherefore_kernel_dropped_total", "wherefore_kernel_interface_dropped_total"} {
		if _, ok := m[name]; !ok {
			t.Errorf("metric %s missing in live mode", name)
		}
	}
	if m["wherefore_kernel_received_total"] < 400 {
		t.Errorf("kernel received %v packets, want the burst's 400 at least", m["wherefore_kernel_received_total"])
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	alerts := parseAlerts(t, stdout.String())
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want the burst's only:\n%s\n%s", len(alerts), stdout.String(), stderr.String())
	}
	a := alerts[0]
	if a.Key != "127.0.0.1->127.0.0.1" || a.Packets < 400 || a.Bytes < 400*1428 || a.Host != "live-test" || a.IntervalSeconds != 1 {
		t.Fatalf("alert %+v", a)
	}
	// The sending socket is this test's: process attribution names it.
	var mine bool
	for _, p := range a.Process {
		mine = mine || p.PID == os.Getpid()
	}
	if !mine {
		t.Errorf("process attribution did not find this test (pid %d): %+v, note %q", os.Getpid(), a.Process, a.ProcessNote)
	}
	if d := a.IntervalStart.Sub(burstStart); d < -time.Second || d > time.Second {
		t.Fatalf("alert interval %s, burst sent at %s", a.IntervalStart, burstStart)
	}
	if !strings.Contains(stderr.String(), "kernel capture counters") || !strings.Contains(stderr.String(), "received=") {
		t.Fatalf("no kernel counters at exit:\n%s", stderr.String())
	}
}

// alignToSecond sleeps to just after the next whole second, so each send
// falls well inside one interval.
func alignToSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 50*time.Millisecond).Sub(now))
}

func waitFor(t *testing.T, b *syncBuffer, text string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(b.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not seen within %s:\n%s", text, within, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A reload that turns process attribution on, or changes its cache's TTL,
// gets a fresh lookup; one that changes neither keeps the warm cache.
func TestSIGHUPAppliesProcessLookup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (or cap_net_raw,cap_net_admin on the binary); skipped")
	}
	cfg := writeConfig(t, "process_lookup: false\n")
	cmd, _, _, stderr := startDaemon(t, false, "-i", "lo", "-f", "udp and port 9", "-w", "200ms", "-l", t.TempDir(), "-config", cfg)
	waitFor(t, stderr, "wherefore started", 10*time.Second)
	const on = "process attribution on"
	reload := func(text string, reloads int) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(stderr.String(), "configuration reloaded") < reloads && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := strings.Count(stderr.String(), "configuration reloaded"); n != reloads {
			t.Fatalf("%d reloads logged, want %d:\n%s", n, reloads, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), on) {
		t.Fatalf("process attribution on at start with process_lookup: false:\n%s", stderr.String())
	}
	reload("process_lookup: true\nprocess_cache_ttl: 7s\n", 1)
	if n := strings.Count(stderr.String(), on); n != 1 || !strings.Contains(stderr.String(), "cache_ttl=7s") {
		t.Fatalf("after turning it on: %d %q lines, want 1 with cache_ttl=7s:\n%s", n, on, stderr.String())
	}
	reload("process_lookup: true\nprocess_cache_ttl: 7s\nalert_min_bytes: 2000000\n", 2)
	if n := strings.Count(stderr.String(), on); n != 1 {
		t.Fatalf("a reload that left the lookup alone rebuilt it (%d %q lines):\n%s", n, on, stderr.String())
	}
	reload("process_lookup: true\nprocess_cache_ttl: 9s\nalert_min_bytes: 2000000\n", 3)
	if n := strings.Count(stderr.String(), on); n != 2 || !strings.Contains(stderr.String(), "cache_ttl=9s") {
		t.Fatalf("after a new TTL: %d %q lines, want 2, the last with cache_ttl=9s:\n%s", n, on, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
}
