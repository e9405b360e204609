package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wherefore/wherefore/testdata/synth"
)

// browser starts a headless Chromium with a fresh profile and no network
// chatter of its own. Without Chromium the test is skipped, except in CI
// (CI set), where .ci/run installs it and its absence is a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found: install Debian's chromium package (.ci/run does)")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// pageFacts is what a reader of the page sees, gathered in the browser.
type pageFacts struct {
	Charts []struct {
		Key       string `json:"key"`
		Legend    bool   `json:"legend"`    // a "threshold" legend entry
		Line      int    `json:"line"`      // dashed red strokes: the line and its legend sample
		Threshold string `json:"threshold"` // data-threshold
	} `json:"charts"`
	Pairs        string `json:"pairs"`
	Sources      string `json:"sources"`
	Destinations string `json:"destinations"`
	Timeline     int    `json:"timeline"` // svg elements in the timeline figure
	Refresh      bool   `json:"refresh"`
}

const gatherFacts = `(() => {
	const text = id => (document.getElementById(id) || {innerText: ""}).innerText;
	return {
		charts: [...document.querySelectorAll("figure.alert-chart")].map(f => ({
			key: f.dataset.key,
			threshold: f.dataset.threshold,
			legend: [...f.querySelectorAll("svg text")].some(t => t.textContent.trim() === "threshold"),
			line: [...f.querySelectorAll("svg path")].filter(p => p.style.stroke === "rgb(204, 0, 0)" && p.style.strokeDasharray).length,
		})),
		pairs: text("top-pairs"), sources: text("top-sources"), destinations: text("top-destinations"),
		timeline: document.querySelectorAll("#timeline-chart svg").length,
		refresh: !!document.querySelector('meta[http-equiv="refresh"]'),
	};
})()`

// browse loads url, fails the test on any console error, failed load or
// uncaught exception, saves a full-page screenshot under the test's temp
// dir, and returns what the page shows.
func browse(t *testing.T, ctx context.Context, url, shot string) pageFacts {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	messages := chromedp.Console(cctx) // subscribed from here on
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady("#talkers")); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[pageFacts](gatherFacts))
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", url, err)
	}
	// A last message of our own marks the end of the page's messages.
	const done = "wherefore-test-done"
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`console.log("`+done+`"), true`)); err != nil {
		t.Fatal(err)
	}
	var problems []string
	for m, err := range messages {
		if err != nil {
			t.Fatalf("console of %s: %v", url, err)
		}
		if m.Text == done {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			problems = append(problems, m.String()+" "+m.URL)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s: console errors: %v", url, problems)
	}
	out := filepath.Join(t.TempDir(), shot)
	if err := os.WriteFile(out, img, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := pngSize(img)
	if err != nil || cfg.Width < 800 || cfg.Height < 900 {
		t.Fatalf("screenshot %s: %v, %dx%d", out, err, cfg.Width, cfg.Height)
	}
	t.Logf("screenshot: %s (%dx%d)", out, cfg.Width, cfg.Height)
	return facts
}

// pngSize reads a screenshot's size (quality 100 makes Chromium write PNG).
func pngSize(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }

func demoLabel(t *testing.T) synth.Label {
	t.Helper()
	var labels []synth.Label
	b, err := os.ReadFile("testdata/demo.labels.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &labels); err != nil || len(labels) != 1 {
		t.Fatalf("labels: %v %v", labels, err)
	}
	return labels[0]
}

// checkDemoPage asserts what the demo capture's page must show: one chart
// for its one alert, with the threshold line, and the exfiltrating pair
// among the top talkers.
func checkDemoPage(t *testing.T, f pageFacts, want synth.Label) {
	t.Helper()
	if len(f.Charts) != 1 || f.Charts[0].Key != want.Key {
		t.Fatalf("alert charts %+v; want one, for %s", f.Charts, want.Key)
	}
	c := f.Charts[0]
	if !c.Legend || c.Line < 2 || c.Threshold == "" || c.Threshold == "0" {
		t.Errorf("chart of %s: threshold legend %v, dashed red strokes %d, data-threshold %q; want the line drawn", c.Key, c.Legend, c.Line, c.Threshold)
	}
	if f.Timeline != 1 {
		t.Errorf("%d timeline charts, want 1", f.Timeline)
	}
	for _, tc := range []struct{ table, text, want string }{
		{"pairs", f.Pairs, want.Key}, {"sources", f.Sources, want.Src}, {"destinations", f.Destinations, want.Dst},
		// The demo's two steady bulk transfers are its heaviest pairs.
		{"pairs", f.Pairs, "10.0.0.10->172.16.0.101"}, {"pairs", f.Pairs, "2001:db8::3ea->fd00::b"},
	} {
		if !strings.Contains(tc.text, tc.want) {
			t.Errorf("top %s table lacks %s:\n%s", tc.table, tc.want, tc.text)
		}
	}
}

func TestReportOfTheDemoCaptureInABrowser(t *testing.T) {
	want := demoLabel(t)
	out := filepath.Join(t.TempDir(), "demo.html")
	r := runWherefore(t, "-pcapfile", "testdata/demo.pcap", "-host", "demo", "-report", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^  top pairs +10\.0\.0\.10->172\.16\.0\.101 117\.1 MB, .*`+regexp.QuoteMeta(want.Key)).MatchString(r.stderr) ||
		!strings.Contains(r.stderr, "  top sources   10.0.0.10 ") || !strings.Contains(r.stderr, "  top dests     172.16.0.101 ") {
		t.Errorf("summary lacks the top talkers:\n%s", r.stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, remote := range []string{"<script", `src="http`, `href="http`, "url(http"} {
		if bytes.Contains(page, []byte(remote)) {
			t.Fatalf("the report contains %q: it must open offline", remote)
		}
	}
	f := browse(t, browser(t), "file://"+out, "report.png")
	checkDemoPage(t, f, want)
	if f.Refresh {
		t.Error("a report file must not reload itself")
	}
}

// metricsAddr reads the daemon's log until it says where it serves.
func metricsAddr(t *testing.T, stderr io.Reader, logs *bytes.Buffer, mu *sync.Mutex) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`serving /metrics.*addr="?([0-9.:]+)`)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-found:
		return a
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the daemon never said where it serves:\n%s", logs)
	}
	return ""
}

func TestLivePageWhileTheDaemonRuns(t *testing.T) {
	want := demoLabel(t)
	ctx := browser(t)
	capture, err := os.ReadFile("testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	// The capture arrives on standard input, which stays open: the daemon
	// is still running, waiting for packets, while the page is read.
	cmd := exec.Command(binary, "-pcapfile", "-", "-host", "live", "-metrics_addr", "127.0.0.1:0",
		"-alerts_file", filepath.Join(t.TempDir(), "alerts.jsonl"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	// libpcap reads the file header before the daemon starts serving.
	wrote := make(chan error, 1)
	go func() {
		_, err := stdin.Write(capture)
		wrote <- err
	}()
	addr := metricsAddr(t, stderr, &logs, &mu)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr + "/"
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`class="chart alert-chart"`)) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live page never showed the alert (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	f := browse(t, ctx, url, "live.png")
	checkDemoPage(t, f, want)
	if !f.Refresh {
		t.Error("the live page must reload itself")
	}
	if resp, err := http.Get(url + "missing"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /missing: %v %v; want 404", resp, err)
	} else {
		resp.Body.Close()
	}
	stdin.Close()
	err = cmd.Wait()
	exited = true
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("daemon: %v\n%s", err, logs.String())
	}
}

func TestReportFlagsAreCheckedBeforeAnalysis(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "lo", "-report", filepath.Join(dir, "r.html")}, "-report " + filepath.Join(dir, "r.html") + ": needs -pcapfile"},
		{[]string{"-pcapfile", "testdata/demo.pcap", "-report_points", "1"}, "-report_points 1: must be between 2 and 100000"},
		{[]string{"-pcapfile", "testdata/demo.pcap", "-report_top", "0"}, ""},
		{[]string{"-pcapfile", "testdata/demo.pcap", "-report_alerts", "-3"}, "-report_alerts -3: must be between 1 and 10000"},
		{[]string{"-pcapfile", "testdata/demo.pcap", "-page_window", "0s"}, "-page_window 0s: must be positive"},
		{[]string{"-pcapfile", "testdata/demo.pcap", "-report", filepath.Join(dir, "missing", "r.html")}, "-report " + filepath.Join(dir, "missing", "r.html")},
	} {
		r := runWherefore(t, append(tc.args, "-alerts_file", os.DevNull)...)
		if tc.want == "" {
			// 0 means the default, as for the other size flags.
			if r.code != 0 {
				t.Errorf("%v: exit %d: %s", tc.args, r.code, r.stderr)
			}
			continue
		}
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused run left files behind: %v", entries)
	}
}

// A capture with a planted horizontal scan: the report lists the scanner
// among the sources by failed tries and by distinct destinations, with
// its counts, and loads cleanly in a browser.
func TestReportListsAPlantedScannerWithItsCounts(t *testing.T) {
	const scanner = "172.17.1.3"
	s := synth.Demo(1)
	s.Plants = append(s.Plants, synth.Plant{Class: synth.ClassHScan, Src: netip.MustParseAddr(scanner),
		Dst: netip.MustParseAddr("10.0.3.1"), At: 10, Intervals: 2, Count: 200})
	pcap, _ := writeScenario(t, "scan.pcap", s, synth.Options{})
	out := filepath.Join(t.TempDir(), "scan.html")
	r := runWherefore(t, "-pcapfile", pcap, "-host", "scan", "-report", out, "-alerts_file", os.DevNull)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	ctx := browser(t)
	browse(t, ctx, "file://"+out, "scan.png")
	// The scanner's row in each table, as the reader sees its cells.
	const rowOf = `(id => {
		const row = [...document.querySelectorAll("#" + id + " tbody tr")].find(r => r.cells.length > 1 && r.cells[1].innerText === %q);
		return row ? [...row.cells].map(c => c.innerText) : [];
	})`
	for _, tc := range []struct {
		table string
		first bool // the scanner leads the table
	}{{"top-failed", true}, {"top-ports", true}, {"top-peers-out", true}} {
		cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(rowOf, scanner)+`("`+tc.table+`")`))
		if err != nil {
			t.Fatal(err)
		}
		// Columns: #, address, count, interval, bytes, destinations,
		// tries, failed, refused, sample ports, sample peers. The scan
		// probes port 22 on 100 hosts per interval; about a tenth answer.
		if len(cells) != 11 {
			t.Fatalf("table %s has no row for the scanner %s", tc.table, scanner)
		}
		if tc.first && cells[0] != "1" {
			t.Errorf("table %s: the scanner is row %s, want the first", tc.table, cells[0])
		}
		tries, _ := strconv.Atoi(cells[6])
		failed, _ := strconv.Atoi(cells[7])
		if cells[5] != "100" || tries != 100 || failed < 70 || failed >= 100 || cells[9] != "22" {
			t.Errorf("table %s, scanner's row %q: want 100 destinations, 100 tries, most failed, port 22", tc.table, cells)
		}
	}
}
