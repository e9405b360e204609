package main

import (
	"strings"
	"testing"
)

// buildSettings is the check that both the start and every SIGHUP run, so
// the report and evidence flags are refused there, naming the flag, before
// anything is opened.
func TestBuildSettingsChecksReportAndEvidenceFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-pcapfile", "x.pcap", "-page_window", "0s"}, "-page_window 0s: must be positive"},
		{[]string{"-i", "lo", "-report", "r.html"}, "-report r.html: needs -pcapfile"},
		{[]string{"-pcapfile", "x.pcap", "-report_points", "1"}, "-report_points 1"},
		{[]string{"-archive_queue", "1"}, "-archive_queue=1: must be >= 2"},
		{[]string{"-max_pcap_log_size", "0"}, "-max_pcap_log_size=0"},
		{[]string{"-archive_dir", "a", "-archive_ring_flow_mb", "65"}, "-archive_ring_flow_mb=65"},
		{[]string{"-log_packets", "-l", ""}, "-log_packets needs -l"},
	} {
		o, _, _, err := parseFlagSet(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if _, err := buildSettings(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: buildSettings = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	// The flight recorder's default budget is not an error without
	// -archive_dir: it is simply not used.
	o, _, _, err := parseFlagSet([]string{"-i", "lo"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buildSettings(o); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}
