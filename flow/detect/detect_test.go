package detect

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// history gives src a steady upload of per bytes to peer for n intervals.
func history(t *traffic, n int, src, peer string, per int) {
	for i := range n {
		t.send(i, src, peer, per)
	}
}

// edgeCase builds traffic whose judged value is v, at interval 10.
type edgeCase struct {
	detector string
	kind     string
	below    int // the largest value that must stay silent
	above    int // the smallest tested value that must alert
	build    func(v int) []captureRecs
	// subject is the key the alert names.
	subject string
	reason  string // a phrase of the reason sentence
	variant string // tells apart cases of one detector and kind
}

type captureRecs = traffic

func edgeCases() []edgeCase {
	// The learned threshold before calibration: 8 spreads of 0.5 above a
	// steady level, e^4 times it.
	lvl := func(x float64) int { return int(math.Expm1(math.Log1p(x) + 4)) }
	return []edgeCase{
		{detector: "surge", kind: "surge", below: lvl(10_000) - 1000, above: lvl(10_000) + 1000,
			subject: "10.0.0.7->198.51.100.1", reason: "times its usual 10.0 kB per 5s",
			build: func(v int) []traffic {
				var t traffic
				history(&t, 10, "10.0.0.7", "198.51.100.1", 10_000)
				t.send(10, "10.0.0.7", "198.51.100.1", v)
				return []traffic{t}
			}},
		{detector: "surge", kind: "new-destination", below: lvl(30_000) - 1000, above: lvl(30_000) + 1000,
			subject: "10.0.0.7->198.51.100.23", reason: "a destination it never used before, in 5s; its uploads usually total 30.0 kB per 5s",
			build: func(v int) []traffic {
				var t traffic
				history(&t, 10, "10.0.0.7", "198.51.100.1", 30_000)
				t.send(10, "10.0.0.7", "198.51.100.23", v)
				return []traffic{t}
			}},
		{detector: "surge", kind: "surge", below: lvl(20_000) - 5000, above: lvl(20_000) + 5000,
			subject: "10.0.0.9", reason: "uploaded",
			build: func(v int) []traffic {
				// Spread over twenty known peers, so no pair surges alone.
				var t traffic
				for i := range 11 {
					for p := range 20 {
						n := 1_000
						if i == 10 {
							n = v / 20
						}
						t.send(i, "10.0.0.9", fmt.Sprintf("198.51.100.%d", 50+p), n)
					}
				}
				return []traffic{t}
			}},
		{detector: "vscan", kind: "vscan", below: 15, above: 16, subject: "198.51.100.7->10.0.0.5", reason: "ports of 10.0.0.5",
			build: func(v int) []traffic {
				var t traffic
				for p := range v {
					t.syn(10, "198.51.100.7", "10.0.0.5", 40000, uint16(1+p))
				}
				return []traffic{t}
			}},
		{detector: "hscan", kind: "hscan", below: 25, above: 26, subject: "198.51.100.8", reason: "hosts that did not answer",
			build: func(v int) []traffic {
				var t traffic
				for h := range v {
					t.syn(10, "198.51.100.8", fmt.Sprintf("10.0.2.%d", 1+h), 40000, 22)
				}
				return []traffic{t}
			}},
		{detector: "fanout", kind: "fanout", below: 25, above: 26, subject: "10.0.0.12", reason: "new destinations",
			build: func(v int) []traffic {
				var t traffic
				for h := range v {
					peer := fmt.Sprintf("203.0.113.%d", 1+h)
					t.udp(10, "10.0.0.12", peer, 50000, 6892, 120)
					t.udp(10, peer, "10.0.0.12", 6892, 50000, 120) // answered: not a scan
				}
				return []traffic{t}
			}},
		{detector: "fanin", kind: "fanin", below: 100, above: 101, subject: "10.0.0.80", reason: "unanswered or were refused",
			build: func(v int) []traffic {
				var t traffic
				for h := range v {
					t.syn(10, fmt.Sprintf("198.18.%d.%d", h/250, 1+h%250), "10.0.0.80", 40000, 80)
				}
				return []traffic{t}
			}},
		{detector: "fanin", kind: "fanin", variant: "reflection", below: 100, above: 101, subject: "10.0.0.81", reason: "answers to requests it never made (reflection",
			build: func(v int) []traffic {
				// Servers answer requests spoofed in the victim's name:
				// SYN-ACKs and SNMP replies it never asked for.
				var t traffic
				for h := range v {
					server := fmt.Sprintf("198.18.%d.%d", h/250, 1+h%250)
					if h%2 == 0 {
						t.synAck(10, "10.0.0.81", server, uint16(40000+h), 80)
					} else {
						t.udp(10, server, "10.0.0.81", 161, uint16(40000+h), 400)
					}
				}
				return []traffic{t}
			}},
		{detector: "bruteforce", kind: "bruteforce", below: 30, above: 31, subject: "198.51.100.9->10.0.0.22", reason: "password guessing",
			build: func(v int) []traffic {
				var t traffic
				for c := range v {
					t.syn(10, "198.51.100.9", "10.0.0.22", uint16(40000+c), 22)
					t.synAck(10, "198.51.100.9", "10.0.0.22", uint16(40000+c), 22)
				}
				return []traffic{t}
			}},
		{detector: "tunnel", kind: "tunnel", below: 50_000, above: 51_000, subject: "10.0.0.14", reason: "of DNS traffic",
			build: func(v int) []traffic {
				var t traffic
				for v > 0 {
					n := min(v, 1000)
					v -= n
					t.udp(10, "10.0.0.14", "198.51.100.53", 50000, 53, n)
				}
				return []traffic{t}
			}},
		{detector: "ramp", kind: "ramp", below: 49_999, above: 60_000, subject: "10.0.0.15->198.51.100.60", reason: "grew every interval for 6 intervals",
			build: func(v int) []traffic {
				// Rising six times from v/9, past the growth of 8: only
				// the floor of 50 kB decides.
				var t traffic
				history(&t, 4, "10.0.0.15", "198.51.100.60", 4_000)
				for i := range 7 {
					t.send(4+i, "10.0.0.15", "198.51.100.60", v/9+i*(v-v/9)/6)
				}
				return []traffic{t}
			}},
	}
}

func TestDetectorsAtTheirThresholds(t *testing.T) {
	for _, c := range edgeCases() {
		name := c.detector + "-" + c.kind
		if c.variant != "" {
			name += "-" + c.variant
		}
		t.Run(name, func(t *testing.T) {
			for _, v := range []int{c.below, c.above} {
				tr := c.build(v)[0]
				alerts, _ := run(t, testConfig(2), tr.recs, nil)
				got := only(alerts, c.detector)
				if v == c.below {
					if len(got) != 0 {
						t.Errorf("value %d (at the threshold): want silence, got %s", v, got[0].Reason)
					}
					continue
				}
				if len(got) == 0 {
					t.Fatalf("value %d (past the threshold): no %s alert; got %d others", v, c.detector, len(alerts))
				}
				a := got[0]
				if a.Kind != c.kind || a.Key != c.subject {
					t.Errorf("alert kind %q key %q, want %q %q", a.Kind, a.Key, c.kind, c.subject)
				}
				if !strings.Contains(a.Reason, c.reason) {
					t.Errorf("reason %q lacks %q", a.Reason, c.reason)
				}
				if a.Probability <= 0.5 {
					t.Errorf("probability %g of a hit", a.Probability)
				}
				golden(t, name+"-"+a.Scope, a)
			}
		})
	}
}

// golden compares a's JSON with testdata/<name>.json.
func golden(t *testing.T, name string, a *alert.Alert) {
	t.Helper()
	got, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("alert JSON differs from %s (go test -update rewrites it):\ngot  %s\nwant %s", path, got, want)
	}
}
