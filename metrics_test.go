package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
	"github.com/wherefore/wherefore/flow/detect"
)

// scrape returns each sample of the exposition, "name{labels}" -> value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func sum(samples map[string]float64, name string) (float64, bool) {
	var total float64
	found := false
	for k, v := range samples {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
			found = true
		}
	}
	return total, found
}

// Every metric the README documents is exported, and the counters move as
// packets flow: the demo capture is fed through a pipe in two halves, with
// a scrape after each.
func TestMetricsExistAndMove(t *testing.T) {
	hook := newRecorder(t, 200)
	data, err := os.ReadFile("testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	cmd, stdin, _, stderr := startDaemon(t, true, "-pcapfile", "-", "-metrics_addr", "127.0.0.1:0", "-archive_dir", t.TempDir(),
		"-l", t.TempDir(), "-webhook_url", hook.srv.URL, "-anom_methods", anomalyzerMethods)
	// The source opens (and metrics start) once the file header arrives.
	half := len(data) / 3
	stdin.Write(data[:half])
	base := metricsURL(t, stderr)
	time.Sleep(1500 * time.Millisecond)
	first := scrape(t, base+"/metrics")
	stdin.Write(data[half:])
	time.Sleep(1500 * time.Millisecond)
	second := scrape(t, base+"/metrics")

	for _, name := range documentedMetrics(t) {
		if strings.HasPrefix(name, "wherefore_kernel_") {
			continue // live capture only: checked by the live tests
		}
		if _, ok := sum(second, name); !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	for _, name := range []string{"wherefore_packets_total", "wherefore_bytes_total", "wherefore_flows_created_total",
		"wherefore_intervals_closed_total", "wherefore_flow_intervals_scored_total", "wherefore_alerts_total",
		"wherefore_notifier_delivered_total", "wherefore_evidence_archives_total", "wherefore_capture_heartbeat_timestamp_seconds"} {
		a, _ := sum(first, name)
		b, _ := sum(second, name)
		if b <= a {
			t.Errorf("%s did not move: %v then %v", name, a, b)
		}
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
}

// /healthz fails when the capture loop stops running. A quiet gzip stream
// on standard input blocks the reader for good (gzip input is not polled),
// as a wedged capture would.
func TestHealthzFailsWhenCaptureStalls(t *testing.T) {
	cmd, stdin, _, stderr := startDaemon(t, true, "-pcapfile", "-", "-metrics_addr", "127.0.0.1:0", "-stall_after", "1s")
	raw, _ := os.ReadFile("testdata/demo.pcap")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	stdin.Write(gz.Bytes()[:gz.Len()/2])
	base := metricsURL(t, stderr)
	time.Sleep(2500 * time.Millisecond)
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "stalled") {
		t.Fatalf("/healthz %d %s; want 503 stalled", resp.StatusCode, body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// metricsURL reads the metrics listener's address from the daemon's log.
func metricsURL(t *testing.T, stderr *syncBuffer) string {
	t.Helper()
	waitFor(t, stderr, "serving /metrics", 10*time.Second)
	addr := regexp.MustCompile(`addr="?([0-9.:]+)`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("no metrics address in the log:\n%s", stderr.String())
	}
	return "http://" + addr[1]
}

// documentedMetrics returns the metric names in the README's metrics table.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "### Metrics and health")
	section, _, _ = strings.Cut(section, "\n### ")
	var names []string
	for _, m := range regexp.MustCompile("`(wherefore_[a-z_]+)").FindAllStringSubmatch(section, -1) {
		names = append(names, m[1])
	}
	if len(names) < 30 {
		t.Fatalf("the README's metrics table names only %d metrics", len(names))
	}
	return names
}

// The README's table names exactly the metrics the collectors describe.
func TestREADMEListsEveryMetric(t *testing.T) {
	var agg flow.Aggregator
	var rec archive.Recorder
	ch := make(chan *prometheus.Desc, 100)
	for _, c := range []prometheus.Collector{
		capture.NewCollector(new(capture.Counters), nil), flow.NewCollector(&agg, ""),
		alert.NewCollector(nil), archive.NewCollector(&rec), detect.NewCollector(nil),
	} {
		c.Describe(ch)
	}
	close(ch)
	described := map[string]bool{}
	for d := range ch {
		m := regexp.MustCompile(`fqName: "([a-z_]+)"`).FindStringSubmatch(d.String())
		described[m[1]] = true
	}
	documented := map[string]bool{}
	for _, n := range documentedMetrics(t) {
		documented[n] = true
		if !described[n] {
			t.Errorf("README lists %s, which no collector exports", n)
		}
	}
	for n := range described {
		if !documented[n] {
			t.Errorf("%s is exported but not in the README's table", n)
		}
	}
}
