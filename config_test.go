package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var keyPattern = regexp.MustCompile(`^[a-zA-Z_]+$`)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wherefore.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigFileSetsFlagsAndFlagsWin(t *testing.T) {
	cfg := writeConfig(t, "alert_min_bytes: 0\nanom_delay: false\nhost: from-file\ntransfer_interval: 5s\n"+anomalyTestsOnly)
	r := runWherefore(t, "-config", cfg, "-pcapfile", "testdata/demo.pcap")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	many := parseAlerts(t, r.stdout)
	if len(many) < 2 || many[0].Host != "from-file" {
		t.Fatalf("config not applied: %d alerts, host %q", len(many), many[0].Host)
	}
	r = runWherefore(t, "-config", cfg, "-pcapfile", "testdata/demo.pcap", "-alert_min_bytes", "1000000", "-anom_delay=true", "-host", "flag")
	if one := parseAlerts(t, r.stdout); len(one) != 1 || one[0].Host != "flag" {
		t.Fatalf("command-line flags did not override the file: %d alerts", len(one))
	}
}

func TestConfigFileErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"alert_min_bytes: 0\nalert_treshold: 0.7\n", `line 2: unknown key "alert_treshold"`},
		{"transfer_interval: soon\n", "transfer_interval"},
		{"anom_methods: [magnitude, diff]\n", "takes one value, not a list"},
		{"- just\n- a list\n", "want a mapping"},
		{"host: a\nhost: b\n", "given twice"},
	} {
		r := runWherefore(t, "-config", writeConfig(t, tc.body), "-pcapfile", "testdata/demo.pcap")
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %s; want %q", tc.body, r.code, r.stderr, tc.want)
		}
	}
	cfg := writeConfig(t, "webhook_url:\n  - http://127.0.0.1:1/a\n  - http://127.0.0.1:1/b\n")
	if r := runWherefore(t, "-config", cfg, "-test_alert"); !strings.Contains(r.stdout, "FAIL") || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("list key: want two webhook results, got %s", r.stdout)
	}
}

// The shipped example documents every key at its default, and every key in
// it is one wherefore accepts.
func TestExampleConfigIsCurrentAndValid(t *testing.T) {
	b, err := os.ReadFile("wherefore.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != exampleConfig() {
		t.Fatal("wherefore.example.yaml is stale: regenerate it with: go run . -example_config > wherefore.example.yaml")
	}
	// Each block is a usage comment, then the key at its default.
	var keys []string
	for _, block := range strings.Split(string(b), "\n\n")[1:] {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		k, v, ok := strings.Cut(strings.TrimPrefix(lines[len(lines)-1], "# "), ": ")
		if !ok || !keyPattern.MatchString(k) {
			t.Fatalf("block without a key: %q", block)
		}
		keys = append(keys, k+": "+v)
	}
	if len(keys) < 50 {
		t.Fatalf("only %d keys in the example", len(keys))
	}
	cfg := writeConfig(t, strings.Join(keys, "\n")+"\n")
	r := runWherefore(t, "-config", cfg, "-pcapfile", "testdata/demo.pcap", "-alerts_file", "-", "-archive_ring_mb", "0")
	if r.code != 0 || len(parseAlerts(t, r.stdout)) != 1 {
		t.Fatalf("the example's defaults do not run: exit %d\n%s", r.code, r.stderr)
	}
}

// SIGHUP rereads the config: new thresholds apply to the next interval, the
// flows keep their history, and a broken config is rejected while the
// running one stays.
func TestSIGHUPReloadKeepsFlowState(t *testing.T) {
	data, err := os.ReadFile("testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "alert_min_bytes: 1000000000\n"+anomalyTestsOnly)
	cmd, stdin, stdout, stderr := startDaemon(t, true, "-pcapfile", "-", "-config", cfg)
	// The first half of the capture: quiet history for the exfiltrating pair.
	stdin.Write(data[:len(data)/2])
	waitFor(t, stderr, "wherefore started", 10*time.Second)
	time.Sleep(500 * time.Millisecond)

	os.WriteFile(cfg, []byte("alert_min_bytes: [oops\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, stderr, "reload rejected", 10*time.Second)

	os.WriteFile(cfg, []byte("alert_min_bytes: 1000000\ni: other0\n"+anomalyTestsOnly), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, stderr, "configuration reloaded", 10*time.Second)
	for _, want := range []string{"alert_min_bytes: 1000000000 -> 1000000", "need_restart", "i: eth0 -> other0"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("reload log lacks %q:\n%s", want, stderr.String())
		}
	}
	stdin.Write(data[len(data)/2:])
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	alerts := parseAlerts(t, stdout.String())
	if len(alerts) != 1 || alerts[0].Key != "10.0.1.23->203.0.113.77" || len(alerts[0].Series) != 10 {
		t.Fatalf("after reload: %+v", alerts)
	}
}
