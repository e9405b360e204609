package synth_test

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"

	"github.com/wherefore/wherefore/testdata/synth"
)

// writeFile writes s to a file in a temporary directory.
func writeFile(t testing.TB, s synth.Scenario, o synth.Options) (string, synth.Summary) {
	t.Helper()
	path := filepath.Join(t.TempDir(), s.Name+".pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := synth.Write(f, s, o)
	if err != nil {
		t.Fatalf("Write(%s): %v", s.Name, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, sum
}

func writeBytes(t testing.TB, s synth.Scenario, o synth.Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := synth.Write(&b, s, o); err != nil {
		t.Fatalf("Write(%s): %v", s.Name, err)
	}
	return b.Bytes()
}

func tally(t testing.TB, path string, interval time.Duration) *synth.Tally {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tl, err := synth.ReadTally(f, interval)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// smallExfil is the exfil scenario with few hosts and cut records, so the
// 64 MiB transfer in 1500-byte frames stays a few megabytes on disk.
func smallExfil(seed uint64) (synth.Scenario, synth.Options) {
	s := synth.Exfil(seed)
	s.Hosts = 10
	s.Heavy = 1
	return s, synth.Options{Snaplen: 128}
}

func TestDeterministic(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    func(seed uint64) synth.Scenario
		o    synth.Options
	}{
		{"demo", synth.Demo, synth.Options{}},
		{"demo-pcapng-sll-ns", synth.Demo, synth.Options{Format: synth.PCAPNG, LinkType: synth.LinuxSLL, Nanosecond: true}},
		{"bench", func(seed uint64) synth.Scenario { return synth.Bench(seed, 20000, 1000) }, synth.Options{Snaplen: 96}},
		{"many", func(seed uint64) synth.Scenario { return synth.Many(seed, 3000) }, synth.Options{LinkType: synth.Raw}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := writeBytes(t, tc.s(7), tc.o), writeBytes(t, tc.s(7), tc.o)
			if !bytes.Equal(a, b) {
				t.Fatal("two writes with the same seed differ")
			}
			if c := writeBytes(t, tc.s(8), tc.o); bytes.Equal(a, c) {
				t.Fatal("seeds 7 and 8 give the same capture")
			}
		})
	}
}

// TestTrafficIndependentOfEncoding: link type, format and timestamp
// resolution change the framing, never which packets there are.
func TestTrafficIndependentOfEncoding(t *testing.T) {
	base, _ := writeFile(t, synth.Demo(1), synth.Options{})
	want := tally(t, base, 5*time.Second)
	for _, o := range []synth.Options{
		{LinkType: synth.Raw, Format: synth.PCAPNG},
		{LinkType: synth.Null, Nanosecond: true},
	} {
		path, _ := writeFile(t, synth.Demo(1), o)
		got := tally(t, path, 5*time.Second)
		if got.Packets != want.Packets || len(got.Pairs) != len(want.Pairs) {
			t.Errorf("%+v: %d packets, %d pairs; ethernet pcap has %d, %d", o, got.Packets, len(got.Pairs), want.Packets, len(want.Pairs))
		}
		for k, pc := range want.Pairs {
			if g := got.Pairs[k]; g == nil || !slices.Equal(g.Packets, pc.Packets) {
				t.Errorf("%+v: pair %s packets per interval differ", o, k)
				break
			}
		}
	}
}

func TestReadByLibpcapAndTcpdump(t *testing.T) {
	s := synth.Demo(1)
	s.Duration = 30 * time.Second
	s.Exfil.At = 4
	for _, lt := range []synth.LinkType{synth.Ethernet, synth.Raw, synth.LinuxSLL, synth.Null} {
		for _, f := range []synth.Format{synth.PCAP, synth.PCAPNG} {
			for _, ns := range []bool{false, true} {
				o := synth.Options{Format: f, LinkType: lt, Nanosecond: ns}
				name := lt.String() + "-" + f.String()
				if ns {
					name += "-ns"
				}
				t.Run(name, func(t *testing.T) {
					path, sum := writeFile(t, s, o)
					checkLibpcap(t, path, sum, lt)
					checkTcpdump(t, path, sum)
				})
			}
		}
	}
}

func checkLibpcap(t *testing.T, path string, sum synth.Summary, lt synth.LinkType) {
	h, err := pcap.OpenOffline(path)
	if err != nil {
		t.Fatalf("libpcap cannot open it: %v", err)
	}
	defer h.Close()
	want := map[synth.LinkType]layers.LinkType{synth.Ethernet: layers.LinkTypeEthernet, synth.Raw: layers.LinkTypeRaw, synth.LinuxSLL: layers.LinkTypeLinuxSLL, synth.Null: layers.LinkTypeNull}[lt]
	// libpcap reports LINKTYPE_RAW (101) as DLT_RAW, 12 on Linux.
	if got := h.LinkType(); got != want && !(lt == synth.Raw && got == 12) {
		t.Errorf("link type %v, want %v", got, want)
	}
	if h.SnapLen() != 96 {
		t.Errorf("snap length %d, want the demo's 96", h.SnapLen())
	}
	var n, wire int64
	var first, last time.Time
	for {
		_, ci, err := h.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("libpcap stops at packet %d: %v", n+1, err)
		}
		if n == 0 {
			first = ci.Timestamp
		}
		last = ci.Timestamp
		n++
		wire += int64(ci.Length)
	}
	if n != sum.Packets || wire != sum.Bytes {
		t.Errorf("libpcap reads %d packets, %d bytes; Write wrote %d, %d", n, wire, sum.Packets, sum.Bytes)
	}
	if !first.Equal(sum.First) || !last.Equal(sum.Last) {
		t.Errorf("libpcap's first/last timestamps %v/%v, Write's %v/%v", first, last, sum.First, sum.Last)
	}
}

func checkTcpdump(t *testing.T, path string, sum synth.Summary) {
	bin, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Log("tcpdump not installed: skipping the tcpdump cross-check")
		return
	}
	out, err := exec.Command(bin, "-nn", "-r", path).Output()
	if err != nil {
		t.Fatalf("tcpdump -r: %v", err)
	}
	if n := bytes.Count(out, []byte("\n")); int64(n) != sum.Packets {
		t.Errorf("tcpdump prints %d packets, want %d", n, sum.Packets)
	}
}

func labelInterval(t *testing.T, tl *synth.Tally, l synth.Label) int {
	t.Helper()
	d := l.IntervalStart.Sub(tl.Start)
	if d%tl.Interval != 0 || d < 0 {
		t.Fatalf("label interval %v is not an interval of the capture (from %v)", l.IntervalStart, tl.Start)
	}
	return int(d / tl.Interval)
}

func TestLabelMatchesRecount(t *testing.T) {
	ex, exo := smallExfil(1)
	for _, tc := range []struct {
		s synth.Scenario
		o synth.Options
	}{
		{synth.Demo(1), synth.Options{}},
		{synth.Demo(2), synth.Options{LinkType: synth.LinuxSLL, Format: synth.PCAPNG}},
		{ex, exo},
	} {
		t.Run(tc.s.Name, func(t *testing.T) {
			path, sum := writeFile(t, tc.s, tc.o)
			tl := tally(t, path, tc.s.Interval)
			if len(sum.Labels) != 1 {
				t.Fatalf("%d labels, want 1", len(sum.Labels))
			}
			l := sum.Labels[0]
			if l.Key != "10.0.1.23->203.0.113.77" || l.Src != "10.0.1.23" || l.Dst != "203.0.113.77" || l.IntervalSeconds != 5 {
				t.Errorf("label %+v", l)
			}
			pc := tl.Pairs[l.Key]
			if pc == nil {
				t.Fatalf("no packets of %s in the capture", l.Key)
			}
			i := labelInterval(t, tl, l)
			if pc.Bytes[i] != l.Bytes || pc.Packets[i] != l.Packets {
				t.Errorf("label says %d bytes, %d packets; decoding the file finds %d, %d", l.Bytes, l.Packets, pc.Bytes[i], pc.Packets[i])
			}
			if int64(len(tl.Pairs)) != int64(sum.Pairs) || tl.Packets != sum.Packets || tl.Bytes != sum.Bytes || tl.Undecoded != 0 {
				t.Errorf("summary %d pairs, %d packets, %d bytes; file has %d, %d, %d (%d undecoded)",
					sum.Pairs, sum.Packets, sum.Bytes, len(tl.Pairs), tl.Packets, tl.Bytes, tl.Undecoded)
			}
		})
	}
}

// TestExfilSeries: the labelled pair is quiet for at least 12 intervals,
// spikes in one, and is quiet again; its ACK stream stays under the
// daemon's 1 MB floor.
func TestExfilSeries(t *testing.T) {
	ex, exo := smallExfil(3)
	for _, tc := range []struct {
		s synth.Scenario
		o synth.Options
	}{{synth.Demo(3), synth.Options{}}, {ex, exo}} {
		t.Run(tc.s.Name, func(t *testing.T) {
			path, sum := writeFile(t, tc.s, tc.o)
			tl := tally(t, path, tc.s.Interval)
			l := sum.Labels[0]
			at := labelInterval(t, tl, l)
			if at < 12 {
				t.Errorf("spike in interval %d: want at least 12 quiet intervals first", at)
			}
			series := tl.Pairs[l.Key].Bytes
			for i, b := range series {
				switch {
				case i == at && b < 64<<20:
					t.Errorf("interval %d (the spike): %d bytes, want over 64 MiB", i, b)
				case i != at && (b == 0 || b > 10_000):
					t.Errorf("interval %d: %d bytes, want a trickle of 1-10 KB", i, b)
				}
			}
			back := tl.Pairs["203.0.113.77->10.0.1.23"].Bytes
			if m := slices.Max(back); m >= 1_000_000 {
				t.Errorf("the ACK stream moves %d bytes in an interval, over the 1 MB floor", m)
			}
			t.Logf("%s: %v", l.Key, series)
		})
	}
}

// TestOnlyHeavyAndLabelCrossFloor: in the demo, the only pairs with an
// interval of 1 MB or more are the labelled one and the steady heavy
// flows, which stay within +-20% of their mean; web and DNS stay under.
func TestOnlyHeavyAndLabelCrossFloor(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		s := synth.Demo(seed)
		path, sum := writeFile(t, s, synth.Options{})
		tl := tally(t, path, s.Interval)
		heavy := 0
		for k, pc := range tl.Pairs {
			if slices.Max(pc.Bytes) < 1_000_000 || k == sum.Labels[0].Key {
				continue
			}
			heavy++
			lo, hi := slices.Min(pc.Bytes), slices.Max(pc.Bytes)
			if lo < 1_000_000 || float64(hi) > 1.5*float64(lo) {
				t.Errorf("seed %d: %s crosses the floor but is not steady: %v", seed, k, pc.Bytes)
			}
		}
		if heavy != s.Heavy {
			t.Errorf("seed %d: %d pairs besides the label cross 1 MB, want the %d heavy flows", seed, heavy, s.Heavy)
		}
	}
}

func TestDemoSize(t *testing.T) {
	path, sum := writeFile(t, synth.Demo(1), synth.Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 3<<20 {
		t.Errorf("demo is %d bytes on disk, want at most 3 MiB", fi.Size())
	}
	if d := sum.Last.Sub(sum.First); d < 2*time.Minute || d > 3*time.Minute {
		t.Errorf("demo spans %v, want 2-3 minutes", d)
	}
	t.Logf("demo: %d bytes on disk, %d packets, %d pairs, %v", fi.Size(), sum.Packets, sum.Pairs, sum.Last.Sub(sum.First))
}

func TestLoadCounts(t *testing.T) {
	t.Run("bench", func(t *testing.T) {
		s := synth.Bench(3, 30001, 1001) // an odd pair count: one conversation is one-way
		path, sum := writeFile(t, s, synth.Options{Snaplen: 96})
		tl := tally(t, path, s.Interval)
		if sum.Packets != 30001 || tl.Packets != 30001 || sum.Pairs != 1001 || len(tl.Pairs) != 1001 {
			t.Errorf("summary %d packets, %d pairs; file %d, %d; want 30001, 1001", sum.Packets, sum.Pairs, tl.Packets, len(tl.Pairs))
		}
	})
	t.Run("many", func(t *testing.T) {
		s := synth.Many(3, 2001)
		path, sum := writeFile(t, s, synth.Options{})
		tl := tally(t, path, s.Interval)
		if sum.Packets != 6003 || len(tl.Pairs) != 2001 {
			t.Errorf("%d packets, %d pairs; want 6003, 2001", sum.Packets, len(tl.Pairs))
		}
		v6 := 0
		for k, pc := range tl.Pairs {
			if !slices.Equal(pc.Packets, []int64{1, 1, 1}) {
				t.Fatalf("%s: packets per interval %v, want one in each of three", k, pc.Packets)
			}
			if strings.Contains(k, ":") {
				v6++
			}
		}
		if v6 == 0 || v6 == len(tl.Pairs) {
			t.Errorf("%d of %d pairs are IPv6, want a mix", v6, len(tl.Pairs))
		}
	})
}

// TestAddressesAreReserved: generated files name only private and
// documentation addresses.
func TestAddressesAreReserved(t *testing.T) {
	var allowed []netip.Prefix
	for _, p := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "fd00::/8", "2001:db8::/32"} {
		allowed = append(allowed, netip.MustParsePrefix(p))
	}
	ok := func(a netip.Addr) bool {
		return slices.ContainsFunc(allowed, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	for _, s := range []synth.Scenario{synth.Demo(1), synth.Bench(1, 20000, 4000), synth.Many(1, 20000)} {
		path, _ := writeFile(t, s, synth.Options{Snaplen: 96})
		for k := range tally(t, path, s.Interval).Pairs {
			src, dst, _ := strings.Cut(k, "->")
			if a, b := netip.MustParseAddr(src), netip.MustParseAddr(dst); !ok(a) || !ok(b) {
				t.Fatalf("%s: %s is neither private nor documentation", s.Name, k)
			}
		}
	}
}

// TestPacketsWellFormed re-serialises every packet with gopacket, lengths
// and checksums computed afresh, and expects the same bytes.
func TestPacketsWellFormed(t *testing.T) {
	small := synth.Steady(4)
	small.Hosts, small.Duration, small.Heavy, small.V6Share = 12, 5*time.Second, 1, 0.5
	for _, lt := range []synth.LinkType{synth.Ethernet, synth.Raw, synth.LinuxSLL, synth.Null} {
		t.Run(lt.String(), func(t *testing.T) {
			kinds := map[string]int{}
			load := synth.Bench(4, 3000, 1500)
			load.V6Share = 0.5
			for _, s := range []synth.Scenario{load, small} {
				if s.Name == "steady" && lt != synth.Ethernet {
					continue // framing is what the link types test; one pass of TCP bulk is enough
				}
				var buf bytes.Buffer
				if _, err := synth.Write(&buf, s, synth.Options{LinkType: lt}); err != nil {
					t.Fatal(err)
				}
				checkPackets(t, &buf, kinds)
			}
			want := 12 // IPv4/IPv6 x TCP/UDP/ICMP x tagged or not
			if lt != synth.Ethernet {
				want = 6
			}
			if len(kinds) != want {
				t.Errorf("packet kinds %v, want %d", kinds, want)
			}
		})
	}
}

func checkPackets(t *testing.T, r io.Reader, kinds map[string]int) {
	t.Helper()
	src, err := pcapgoReader(r)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.CaptureLength != ci.Length {
			t.Fatalf("packet %d cut at %d of %d bytes without a snap length", n, ci.CaptureLength, ci.Length)
		}
		pkt := gopacket.NewPacket(data, src.LinkType(), gopacket.Default)
		// Re-serialise from the IP layer: IP, transport, and the transport's
		// payload as raw bytes (gopacket's application decoders, and its
		// ICMPv6 echo decoder, do not round-trip).
		kind := ""
		var ls []gopacket.SerializableLayer
		ipAt := -1
		for _, l := range pkt.Layers() {
			switch l := l.(type) {
			case *layers.Dot1Q:
				kind += "vlan "
			case *layers.IPv4, *layers.IPv6:
				ipAt = len(data) - len(l.LayerContents()) - len(l.LayerPayload())
				kind += l.LayerType().String() + " "
				ls = append(ls, l.(gopacket.SerializableLayer))
			case *layers.TCP, *layers.UDP, *layers.ICMPv4, *layers.ICMPv6:
				kind += l.LayerType().String()
				if c, ok := l.(interface {
					SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
				}); ok {
					if err := c.SetNetworkLayerForChecksum(pkt.NetworkLayer()); err != nil {
						t.Fatal(err)
					}
				}
				ls = append(ls, l.(gopacket.SerializableLayer), gopacket.Payload(l.LayerPayload()))
			}
		}
		if len(ls) != 3 {
			// Past the transport, zero payloads need not make sense to
			// gopacket's application decoders (NTP, DNS); before it, all must.
			t.Fatalf("packet %d: layers %v (%v), want IP and a transport", n, pkt.Layers(), pkt.ErrorLayer())
		}
		kinds[kind]++
		sb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatalf("packet %d (%s): %v", n, kind, err)
		}
		if !bytes.Equal(sb.Bytes(), data[ipAt:]) {
			t.Fatalf("packet %d (%s): lengths or checksums differ from gopacket's\n got % x\nwant % x", n, kind, data[ipAt:min(len(data), ipAt+64)], sb.Bytes()[:min(len(sb.Bytes()), 64)])
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*synth.Scenario, *synth.Options)
		field string
	}{
		{"interval", func(s *synth.Scenario, _ *synth.Options) { s.Interval = time.Microsecond }, "Interval"},
		{"duration", func(s *synth.Scenario, _ *synth.Options) { s.Duration = 0 }, "Duration"},
		{"hosts", func(s *synth.Scenario, _ *synth.Options) { s.Hosts = synth.MaxHosts + 1 }, "Hosts"},
		{"start", func(s *synth.Scenario, _ *synth.Options) { s.Start = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) }, "Start"},
		{"exfil at", func(s *synth.Scenario, _ *synth.Options) { s.Exfil.At = 30 }, "Exfil.At"},
		{"gso", func(s *synth.Scenario, _ *synth.Options) { s.BulkSegments = 45 }, "BulkSegments"},
		{"packets on background", func(s *synth.Scenario, _ *synth.Options) { s.Packets = 10 }, "Packets"},
		{"snaplen", func(_ *synth.Scenario, o *synth.Options) { o.Snaplen = -1 }, "Snaplen"},
		{"link", func(_ *synth.Scenario, o *synth.Options) { o.LinkType = 9 }, "LinkType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, o := synth.Demo(1), synth.Options{}
			tc.edit(&s, &o)
			_, err := synth.Write(io.Discard, s, o)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
	if _, err := synth.Write(io.Discard, synth.Bench(1, 10, 11), synth.Options{}); err == nil || !strings.Contains(err.Error(), "Packets") {
		t.Errorf("fewer packets than pairs: error %v, want one naming Packets", err)
	}
}

// TestAllocationsDoNotGrowWithPackets: the per-packet path allocates
// nothing, so four times the packets cost no more allocations.
func TestAllocationsDoNotGrowWithPackets(t *testing.T) {
	allocs := func(packets int) float64 {
		return testing.AllocsPerRun(1, func() {
			if _, err := synth.Write(io.Discard, synth.Bench(1, packets, 500), synth.Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, big := allocs(10000), allocs(40000)
	if big > small+20 {
		t.Errorf("%v allocations for 10,000 packets, %v for 40,000: something allocates per packet", small, big)
	}
}

// BenchmarkWrite measures generation speed; packets/s is the figure to read.
func BenchmarkWrite(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    synth.Scenario
		o    synth.Options
	}{
		{"bench-full", synth.Bench(1, 500_000, 50_000), synth.Options{}},
		{"bench-snap96", synth.Bench(1, 500_000, 50_000), synth.Options{Snaplen: 96}},
		{"many", synth.Many(1, 100_000), synth.Options{}},
		{"demo", synth.Demo(1), synth.Options{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var packets int64
			for b.Loop() {
				sum, err := synth.Write(io.Discard, bc.s, bc.o)
				if err != nil {
					b.Fatal(err)
				}
				packets += sum.Packets
			}
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}

// TestMisalignedStart: a capture starting off an interval boundary has a
// partial first interval, and labels still name epoch-aligned intervals.
func TestMisalignedStart(t *testing.T) {
	s := synth.Demo(1)
	s.Start = s.Start.Add(2500 * time.Millisecond)
	path, sum := writeFile(t, s, synth.Options{})
	if sum.First.Before(s.Start) || !sum.Last.Before(s.Start.Add(s.Duration)) {
		t.Errorf("packets from %v to %v, outside [%v, %v)", sum.First, sum.Last, s.Start, s.Start.Add(s.Duration))
	}
	if sum.Intervals != 31 {
		t.Errorf("%d intervals, want 31 (two partial)", sum.Intervals)
	}
	l := sum.Labels[0]
	if l.IntervalStart.UnixNano()%int64(s.Interval) != 0 {
		t.Errorf("label interval starts at %v, not a multiple of %v", l.IntervalStart, s.Interval)
	}
	tl := tally(t, path, s.Interval)
	if got := tl.Pairs[l.Key].Bytes[labelInterval(t, tl, l)]; got != l.Bytes {
		t.Errorf("label says %d bytes, the file has %d", l.Bytes, got)
	}
}
