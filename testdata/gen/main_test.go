package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoIsCurrent regenerates the committed demo capture and labels with
// the command documented at the top of main.go and expects identical bytes:
// the files in testdata/ are what the code makes.
func TestDemoIsCurrent(t *testing.T) {
	dir := t.TempDir()
	pcap, labels := filepath.Join(dir, "demo.pcap"), filepath.Join(dir, "demo.labels.json")
	var stderr bytes.Buffer
	if err := run([]string{"-scenario", "demo", "-o", pcap, "-labels", labels}, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, f := range []struct{ got, want string }{{pcap, "../demo.pcap"}, {labels, "../demo.labels.json"}} {
		got, err := os.ReadFile(f.got)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(f.want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator makes now; regenerate it with the command at the top of testdata/gen/main.go", f.want)
		}
	}
}

func TestHelpNamesEveryFlag(t *testing.T) {
	var stderr bytes.Buffer
	err := run([]string{"-h"}, &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	for _, name := range []string{"scenario", "o", "labels", "seed", "packets", "flows", "hosts", "duration", "interval", "snaplen", "start", "format", "linktype", "nanosecond", "gso", "tally"} {
		if !strings.Contains(stderr.String(), "-"+name+" ") && !strings.Contains(stderr.String(), "-"+name+"\n") {
			t.Errorf("-h does not document -%s", name)
		}
	}
}

func TestBadFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.pcap")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "demo"}, "-o is required"},
		{[]string{"-scenario", "nope", "-o", out}, "unknown scenario"},
		{[]string{"-linktype", "ppp", "-o", out}, "unknown link type"},
		{[]string{"-format", "snoop", "-o", out}, "unknown format"},
		{[]string{"-scenario", "steady", "-packets", "10", "-o", out}, "Packets"},
		{[]string{"-start", "yesterday", "-o", out}, "-start"},
		{[]string{"-scenario", "bench", "-packets", "10", "-flows", "20", "-o", out}, "Packets"},
	} {
		err := run(tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

// TestFlagsReachTheScenario: -flows on many keeps one packet per pair per
// interval; -start and -format are honoured.
func TestFlagsReachTheScenario(t *testing.T) {
	out := filepath.Join(t.TempDir(), "many.pcapng")
	var stderr bytes.Buffer
	if err := run([]string{"-scenario", "many", "-flows", "1000", "-format", "pcapng", "-start", "2030-01-02T03:04:05Z", "-o", out}, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3000 packets", "1000 pairs", "2030-01-02T03:04:05"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("report %q lacks %q", stderr.String(), want)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Errorf("%s is not pcapng (%v)", out, err)
	}
}
