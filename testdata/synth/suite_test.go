package synth_test

import (
	"errors"
	"io"
	"math"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"

	"github.com/wherefore/wherefore/testdata/synth"
)

// TestSuite: every scenario of the suite is valid and named once; both
// sets have clean backgrounds; every attack class is planted at three
// sizes; the benign events are labelled as such.
func TestSuite(t *testing.T) {
	names := map[string]bool{}
	clean := map[string]int{}
	classes := map[string]int{}
	benign := 0
	for _, e := range synth.Suite() {
		s := e.Scenario
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		if names[s.Name] {
			t.Errorf("%s: two scenarios of that name", s.Name)
		}
		names[s.Name] = true
		if e.Clean {
			clean[e.Set]++
		}
		end := s.Start.Add(s.Duration)
		for _, a := range s.Attacks() {
			if a.Start.Before(s.Start.Truncate(s.Interval)) || a.End.After(end) || !a.Start.Before(a.End) {
				t.Errorf("%s: label %+v outside the capture [%v, %v)", s.Name, a, s.Start, end)
			}
			if a.Attacker == "" && a.Victim == "" {
				t.Errorf("%s: label %+v names no host", s.Name, a)
			}
			if a.Benign {
				benign++
			} else {
				classes[a.Class]++
			}
		}
	}
	if clean[synth.SetTuning] < 3 || clean[synth.SetHeldOut] < 3 {
		t.Errorf("clean backgrounds per set %v, want at least 3 in each", clean)
	}
	for _, c := range synth.AttackClasses() {
		if classes[c] < 3 {
			t.Errorf("class %s planted %d times, want at least 3 sizes", c, classes[c])
		}
	}
	if benign != 2 {
		t.Errorf("%d benign events, want the download and the backup", benign)
	}
}

func TestPlantValidate(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		p    synth.Plant
		want string
	}{
		{synth.Plant{Class: "exfil", Src: ip("10.0.1.1"), Dst: ip("172.17.0.1"), Intervals: 1}, "unknown class"},
		{synth.Plant{Class: synth.ClassUpload, Src: ip("10.0.1.1"), Intervals: 1}, "Src and Dst"},
		{synth.Plant{Class: synth.ClassUpload, Src: ip("10.0.1.1"), Dst: ip("2001:db8::1"), Intervals: 1}, "one address family"},
		{synth.Plant{Class: synth.ClassVScan, Src: ip("10.0.1.1"), Dst: ip("10.0.0.80"), At: 30, Intervals: 1}, "At 30"},
		{synth.Plant{Class: synth.ClassBeacon, Src: ip("10.0.1.1"), Dst: ip("172.17.0.1"), Intervals: 1, Period: time.Second}, "Period"},
		{synth.Plant{Class: synth.ClassFanOut, Src: ip("10.0.1.1"), Intervals: 1, Count: 60_000}, "made-up"},
	} {
		s := synth.Demo(1)
		s.Plants = []synth.Plant{tc.p}
		if _, err := synth.Write(io.Discard, s, synth.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Plants") {
			t.Errorf("%+v: error %v, want one naming Plants and %q", tc.p, err, tc.want)
		}
	}
}

// TestPlantsLeaveBackgroundAlone: planting events changes no packet of
// the background, so a clean capture and an attacked one differ only by
// the attack.
func TestPlantsLeaveBackgroundAlone(t *testing.T) {
	base := synth.Steady(5)
	base.Hosts, base.Duration, base.Snaplen, base.BulkSegments = 8, time.Minute, 96, 44
	planted := base
	planted.Plants = []synth.Plant{
		{Class: synth.ClassFanOut, Src: netip.MustParseAddr("10.0.1.2"), At: 3, Intervals: 2, Count: 50},
		{Class: synth.ClassUpload, Src: netip.MustParseAddr("10.0.1.3"), Dst: netip.MustParseAddr("172.17.0.1"), At: 5, Intervals: 1, Size: 5_000_000},
	}
	p1, s1 := writeFile(t, base, synth.Options{})
	p2, s2 := writeFile(t, planted, synth.Options{})
	t1, t2 := tally(t, p1, base.Interval), tally(t, p2, base.Interval)
	for k, pc := range t1.Pairs {
		if g := t2.Pairs[k]; g == nil || !slices.Equal(g.Bytes, pc.Bytes) {
			t.Fatalf("background pair %s changed when events were planted", k)
		}
	}
	if n := len(t2.Pairs) - len(t1.Pairs); n != 52 {
		t.Errorf("planting added %d pairs, want 50 fan-out destinations and the upload's two directions", n)
	}
	for _, c := range []struct {
		s   synth.Summary
		tal *synth.Tally
	}{{s1, t1}, {s2, t2}} {
		var cells int64
		for _, pc := range c.tal.Pairs {
			for _, n := range pc.Packets {
				if n > 0 {
					cells++
				}
			}
		}
		if c.s.PairIntervals != cells {
			t.Errorf("summary counts %d active pair-intervals, the file has %d", c.s.PairIntervals, cells)
		}
	}
}

// packetInfo is what the signature test needs of each packet.
type packetInfo struct {
	ts       time.Time
	src, dst string
	proto    string
	dport    uint16
	syn, rst bool
	wire     int
}

func readPackets(t *testing.T, path string) []packetInfo {
	t.Helper()
	h, err := pcap.OpenOffline(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var out []packetInfo
	for {
		data, ci, err := h.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Lazy)
		nl := pkt.NetworkLayer()
		if nl == nil {
			t.Fatalf("packet without an IP layer: %v", pkt)
		}
		pi := packetInfo{ts: ci.Timestamp, src: nl.NetworkFlow().Src().String(), dst: nl.NetworkFlow().Dst().String(), wire: ci.Length}
		switch l := pkt.TransportLayer().(type) {
		case *layers.TCP:
			pi.proto, pi.dport, pi.syn, pi.rst = "tcp", uint16(l.DstPort), l.SYN, l.RST
		case *layers.UDP:
			pi.proto, pi.dport = "udp", uint16(l.DstPort)
		default:
			pi.proto = "icmp"
		}
		out = append(out, pi)
	}
}

// TestPlantSignatures: each attack class leaves the traffic it is named
// for, inside its window: ports, hosts, sources, connections, periods.
func TestPlantSignatures(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		p     synth.Plant
		check func(t *testing.T, in []packetInfo, p synth.Plant)
	}{
		{synth.Plant{Class: synth.ClassVScan, Src: ip("172.17.1.1"), Dst: ip("10.0.0.80"), At: 4, Intervals: 2, Count: 300},
			func(t *testing.T, in []packetInfo, p synth.Plant) {
				ports, rst := map[uint16]bool{}, 0
				for _, x := range in {
					if x.src == "172.17.1.1" && x.syn {
						ports[x.dport] = true
					}
					if x.src == "10.0.0.80" && x.rst {
						rst++
					}
				}
				if len(ports) != 300 || rst < 270 {
					t.Errorf("%d ports probed, %d refused; want 300 and most refused", len(ports), rst)
				}
			}},
		{synth.Plant{Class: synth.ClassHScan, Src: ip("10.0.2.9"), Dst: ip("10.0.3.1"), At: 4, Intervals: 2, Count: 120},
			func(t *testing.T, in []packetInfo, p synth.Plant) {
				hosts := map[string]bool{}
				for _, x := range in {
					if x.src == "10.0.2.9" && x.syn && x.dport == 22 {
						hosts[x.dst] = true
					}
				}
				if len(hosts) != 120 || !hosts["10.0.3.120"] {
					t.Errorf("%d hosts probed on port 22, want 10.0.3.1 to 10.0.3.120", len(hosts))
				}
			}},
		{synth.Plant{Class: synth.ClassFanIn, Dst: ip("10.0.0.81"), At: 4, Intervals: 2, Count: 2000},
			func(t *testing.T, in []packetInfo, p synth.Plant) {
				srcs := map[string]bool{}
				for _, x := range in {
					if x.dst == "10.0.0.81" && x.syn {
						srcs[x.src] = true
					}
				}
				if len(srcs) < 1900 {
					t.Errorf("%d sources flood 10.0.0.81, want nearly 2000", len(srcs))
				}
			}},
		{synth.Plant{Class: synth.ClassBruteForce, Src: ip("172.17.1.4"), Dst: ip("10.0.0.82"), At: 4, Intervals: 3, Count: 10},
			func(t *testing.T, in []packetInfo, p synth.Plant) {
				syns := 0
				for _, x := range in {
					if x.src == "172.17.1.4" && x.syn && x.dport == 22 {
						syns++
					}
				}
				if syns != 30 {
					t.Errorf("%d ssh connections, want 10 per interval for 3", syns)
				}
			}},
		{synth.Plant{Class: synth.ClassDNSTunnel, Src: ip("10.0.2.3"), Dst: ip("172.17.0.53"), At: 4, Intervals: 3, Count: 50, Size: 220},
			func(t *testing.T, in []packetInfo, p synth.Plant) {
				q := 0
				for _, x := range in {
					if x.src == "10.0.2.3" && x.dst == "172.17.0.53" && x.proto == "udp" && x.dport == 53 {
						q++
					}
				}
				if q != 150 {
					t.Errorf("%d DNS queries to the tunnel, want 150", q)
				}
			}},
		{synth.Plant{Class: synth.ClassBeacon, Src: ip("10.0.1.4"), Dst: ip("172.17.0.10"), At: 0, Intervals: 20, Size: 300, Period: 10 * time.Second},
			func(t *testing.T, in []packetInfo, p synth.Plant) {
				var at []time.Time
				for _, x := range in {
					if x.src == "10.0.1.4" && x.dst == "172.17.0.10" {
						at = append(at, x.ts)
					}
				}
				if len(at) < 9 || len(at) > 11 {
					t.Fatalf("%d beacons in 100 s, want about 10", len(at))
				}
				for i := 1; i < len(at); i++ {
					if d := at[i].Sub(at[i-1]); math.Abs(d.Seconds()-10) > 0.5 {
						t.Errorf("beacon %d comes %v after the last, want 10 s within 5%%", i, d)
					}
				}
			}},
	} {
		t.Run(tc.p.Class, func(t *testing.T) {
			s := synth.Steady(6)
			s.Name = tc.p.Class
			s.Hosts, s.Duration, s.Snaplen, s.BulkSegments, s.Heavy = 5, 100*time.Second, 96, 44, 0
			s.WebPerHost, s.WebMedian = 1, 2000 // few background packets to decode
			s.Plants = []synth.Plant{tc.p}
			path, sum := writeFile(t, s, synth.Options{})
			in := readPackets(t, path)
			l := sum.Attacks[0]
			var inside []packetInfo
			for _, x := range in {
				named := strings.Contains(" "+x.src+" "+x.dst+" ", " "+l.Attacker+" ") || strings.Contains(" "+x.src+" "+x.dst+" ", " "+l.Victim+" ")
				if named && (x.ts.Before(l.Start) || !x.ts.Before(l.End)) && tc.p.Class != synth.ClassBeacon {
					t.Errorf("packet %s->%s at %v outside the label's window [%v, %v)", x.src, x.dst, x.ts, l.Start, l.End)
					break
				}
				inside = append(inside, x)
			}
			tc.check(t, inside, tc.p)
		})
	}
}

// TestBackupAtItsHour: the nightly backup runs at the same time every day
// and only the last night is labelled, as a benign event.
func TestBackupAtItsHour(t *testing.T) {
	s := synth.Steady(7)
	s.Start = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	s.Duration = 2*24*time.Hour + 3*time.Hour
	s.Hosts, s.WebPerHost, s.DNSQueries, s.Heavy, s.Snaplen, s.BulkSegments = 1, 0, 0, 0, 96, 44
	s.Plants = []synth.Plant{{Class: synth.ClassBackup, Src: netip.MustParseAddr("10.0.0.60"), Dst: netip.MustParseAddr("172.18.0.40"),
		At: 2 * 720, Intervals: 6, Size: 10_000_000, Period: 24 * time.Hour}}
	path, sum := writeFile(t, s, synth.Options{})
	days := map[int]int64{}
	for _, x := range readPackets(t, path) {
		if x.src != "10.0.0.60" {
			continue
		}
		if h := x.ts.Hour(); h != 2 || x.ts.Minute() >= 1 {
			t.Fatalf("backup packet at %v, want 02:00-02:00:30", x.ts)
		}
		days[x.ts.Day()] += int64(x.wire)
	}
	if len(days) != 3 {
		t.Errorf("backups on days %v, want three nights", days)
	}
	if len(sum.Attacks) != 1 || !sum.Attacks[0].Benign || sum.Attacks[0].Start != time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC) {
		t.Errorf("labels %+v, want the last night's backup, benign", sum.Attacks)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
