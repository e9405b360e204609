package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped unit passes systemd-analyze verify (pointed at the test's
// binary, since verify checks that ExecStart exists) and keeps the
// hardening the daemon is documented to run with.
func TestSystemdUnitVerifies(t *testing.T) {
	unit, err := os.ReadFile("wherefore.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "User=wherefore", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN", "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
		"ReadWritePaths=/var/log/wherefore /var/lib/wherefore", "PrivateTmp=yes", "ProtectHome=yes", "Restart=on-failure",
		"ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze missing: .ci/run installs systemd")
		}
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "wherefore.service")
	body := strings.ReplaceAll(string(unit), "/usr/local/bin/wherefore", binary)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// verify also reports on units it pulls in from this machine; only
	// lines about ours matter.
	var ours []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "wherefore.service") {
			ours = append(ours, line)
		}
	}
	if len(ours) > 0 {
		t.Fatalf("systemd-analyze verify (%v):\n%s", err, strings.Join(ours, "\n"))
	}
}
