package archive

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tcpdumpFilter returns the times tcpdump prints for the packets of path
// that match filter.
func tcpdumpFilter(t *testing.T, path, filter string) []string {
	t.Helper()
	bin, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed")
	}
	out, err := exec.Command(bin, "-r", path, "-nn", "-tt", filter).Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s %q: %v", path, filter, err)
	}
	var ts []string
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" {
			ts = append(ts, strings.Fields(line)[0])
		}
	}
	return ts
}

// Extract with a BPF filter and a time range returns exactly the records
// tcpdump finds in the segments with that filter, within the range; a
// filter naming addresses is served through the indexes, and the segment
// still being written (no index) is read whole.
func TestExtractMatchesTcpdump(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SegmentMB = 1
	cfg.Block = true
	r := mustNew(t, cfg)
	f := newTraffic(t, 21)
	f.mix(6000, 1000)
	tapAll(r, f.all)
	closeRecorder(t, r)
	segs := segments(t, cfg.LogDir)
	// The newest segment as a running daemon leaves it: no index yet.
	os.Remove(idxPath(segs[len(segs)-1]))

	// Whole microseconds, as the segments hold them.
	from := f.all[len(f.all)/5].ci.Timestamp.Truncate(time.Microsecond)
	to := f.all[len(f.all)*4/5].ci.Timestamp.Truncate(time.Microsecond)
	for _, tc := range []struct {
		filter  string
		indexed bool
	}{
		{"host " + hostC + " and udp", true},
		{"src " + hostA + " and dst port 443", true},
		{"net 198.51.100.0/24 or host " + hostB, true},
		{"udp", false},
		{"not host " + hostA, false},
		{"", false},
	} {
		var buf bytes.Buffer
		st, err := Extract(context.Background(), Query{Dir: cfg.LogDir, Filter: tc.filter, From: from, To: to}, &buf)
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		out := filepath.Join(t.TempDir(), "x.pcap")
		os.WriteFile(out, buf.Bytes(), 0o640)
		got := tcpdumpFilter(t, out, "")
		var want []string
		for _, s := range segs {
			for _, ts := range tcpdumpFilter(t, s, tc.filter) {
				if ts >= tcpdumpTime(from, false) && ts < tcpdumpTime(to, false) {
					want = append(want, ts)
				}
			}
		}
		if !slices.Equal(got, want) || len(want) == 0 {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Logf("first difference at %d: %s vs %s", i, got[i], want[i])
					break
				}
			}
			t.Errorf("%q: extract gives %d packets, tcpdump %d", tc.filter, len(got), len(want))
		}
		if tc.indexed && (st.Indexed == 0 || st.Scanned != 1) || !tc.indexed && st.Indexed != 0 {
			t.Errorf("%q: %d segments through the index, %d read whole", tc.filter, st.Indexed, st.Scanned)
		}
		if st.Packets != len(got) {
			t.Errorf("%q: reports %d packets, wrote %d", tc.filter, st.Packets, len(got))
		}
	}
	if _, err := Extract(context.Background(), Query{Dir: cfg.LogDir, Filter: "host and"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "filter") {
		t.Errorf("a bad filter: %v, want an error naming it", err)
	}
	if _, err := Extract(context.Background(), Query{Dir: t.TempDir()}, &bytes.Buffer{}); err == nil {
		t.Errorf("an empty directory: no error")
	}
}

func TestFilterPrefixes(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string // prefixes joined by space; "" for none
	}{
		{"host 10.0.0.5", "10.0.0.5/32"},
		{"src host 10.0.0.5 and tcp port 443", "10.0.0.5/32"},
		{"(host 10.0.0.5 or host 10.0.0.6) and udp", "10.0.0.5/32 10.0.0.6/32"},
		{"host 10.0.0.5 or 10.0.0.6", "10.0.0.5/32 10.0.0.6/32"},
		{"ip6 host 2001:db8::5", "2001:db8::5/128"},
		{"dst net 10.1.0.0/16", "10.1.0.0/16"},
		{"host 10.0.0.5 or port 53", ""},
		{"not host 10.0.0.5", ""},
		{"tcp and not host 10.0.0.5", ""},
		{"host example.com", ""},
		{"ether host 02:00:00:00:00:01", ""},
		{"net 10.0.0.0 mask 255.0.0.0", ""},
		{"host 10.0.0.5 and (port 80", ""},
		{"", ""},
	} {
		var got []string
		for _, p := range filterPrefixes(tc.expr) {
			got = append(got, p.String())
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("filterPrefixes(%q) = %q, want %q", tc.expr, g, tc.want)
		}
	}
}
