package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tcpdumpTimes returns the times tcpdump prints for the packets of path
// that match filter, and whether it read the file without complaint.
func tcpdumpTimes(t *testing.T, path, filter string) ([]string, bool) {
	t.Helper()
	bin, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed")
	}
	args := []string{"-r", path, "-nn", "-tt"}
	if filter != "" {
		args = append(args, filter)
	}
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ts []string
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" {
			ts = append(ts, strings.Fields(line)[0])
		}
	}
	return ts, err == nil && !strings.Contains(stderr.String(), "truncated")
}

func spoolSegments(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "seg-*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(segs)
	return segs
}

// A daemon's spool answers `wherefore extract` with exactly the packets
// tcpdump finds in it for the same filter and time range.
func TestExtractFromADaemonsSpool(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	r := runWherefore(t, "-pcapfile", "testdata/demo.pcap", "-log_packets", "-l", logDir, "-archive_dir", filepath.Join(dir, "archive"), "-archive_segment_mb", "1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	segs := spoolSegments(t, logDir)
	if len(segs) < 2 {
		t.Fatalf("%d segments, want several of 1 MB", len(segs))
	}
	const from, to = "2026-11-22T10:01:00Z", "2026-11-22T10:01:45Z"
	unix := func(s string) string {
		tm, _ := time.Parse(time.RFC3339, s)
		return fmt.Sprintf("%d.000000", tm.Unix())
	}
	fromU, toU := unix(from), unix(to)
	for _, filter := range []string{"host 203.0.113.77 and tcp", "udp"} {
		out := filepath.Join(dir, "x.pcap")
		x := runWherefore(t, "extract", "-l", logDir, "-from", from, "-to", to, "-o", out, filter)
		if x.code != 0 {
			t.Fatalf("extract %q: exit %d: %s", filter, x.code, x.stderr)
		}
		got, ok := tcpdumpTimes(t, out, "")
		if !ok {
			t.Fatalf("tcpdump cannot read the extract of %q", filter)
		}
		var want []string
		for _, s := range segs {
			ts, ok := tcpdumpTimes(t, s, filter)
			if !ok {
				t.Fatalf("tcpdump cannot read %s", s)
			}
			for _, v := range ts {
				if v >= fromU && v < toU {
					want = append(want, v)
				}
			}
		}
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("extract %q: %d packets, tcpdump finds %d", filter, len(got), len(want))
		}
	}
	// To standard output, with -to as a duration.
	x := runWherefore(t, "extract", "-l", logDir, "-from", from, "-to", "45s", "host 203.0.113.77 and tcp")
	if x.code != 0 || len(x.stdout) < 24 {
		t.Errorf("extract to stdout: exit %d, %d bytes: %s", x.code, len(x.stdout), x.stderr)
	}
	for _, bad := range [][]string{{"-from", "yesterday"}, {"-from", to, "-to", from}, {"host and"}} {
		x := runWherefore(t, append([]string{"extract", "-l", logDir}, bad...)...)
		if x.code == 0 || !strings.Contains(x.stderr, "wherefore extract") {
			t.Errorf("extract %v: exit %d, stderr %q; want an error", bad, x.code, x.stderr)
		}
	}
}

// SIGKILL while the spool is being written, then a restart: the segments
// are all whole pcaps again, each with its index, and they hold the first
// packets of the capture, in order, losing at most the record the kill cut.
func TestSIGKILLMidWriteLosesAtMostOneRecord(t *testing.T) {
	data, err := os.ReadFile("testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	cmd, stdin, _, stderr := startDaemon(t, true, "-pcapfile", "-", "-log_packets", "-l", logDir, "-archive_segment_mb", "1", "-alerts_file", os.DevNull)
	go func() {
		// Feed the capture in small pieces so the daemon is writing when
		// it is killed.
		for off := 0; off < len(data); off += 64 << 10 {
			if _, err := stdin.Write(data[off:min(off+64<<10, len(data))]); err != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(spoolSegments(t, logDir)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no second segment within 30s: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	stdin.Close()
	var before int
	for _, s := range spoolSegments(t, logDir) {
		ts, _ := tcpdumpTimes(t, s, "") // whole records, a cut one ignored
		before += len(ts)
	}

	// A restart that reads nothing new: it only takes over the spool.
	r := runWherefore(t, "-pcapfile", "testdata/demo.pcap", "-f", "host 192.0.2.99", "-log_packets", "-l", logDir, "-alerts_file", os.DevNull)
	if r.code != 0 {
		t.Fatalf("restart: exit %d: %s", r.code, r.stderr)
	}
	var after []string
	for _, s := range spoolSegments(t, logDir) {
		ts, ok := tcpdumpTimes(t, s, "")
		if !ok {
			t.Errorf("%s is not a whole pcap after the restart", s)
		}
		if _, err := os.Stat(strings.TrimSuffix(s, ".pcap") + ".idx"); err != nil {
			t.Errorf("%s has no index after the restart: %v", s, err)
		}
		after = append(after, ts...)
	}
	if len(after) < before-1 || len(after) == 0 {
		t.Fatalf("%d records after the restart, %d whole before it", len(after), before)
	}
	all, _ := tcpdumpTimes(t, "testdata/demo.pcap", "")
	if !slices.Equal(after, all[:len(after)]) {
		t.Errorf("the spool is not the capture's first %d packets in order", len(after))
	}
}
