package capture

import (
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func gzipFile(t *testing.T, path string) string {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := filepath.Join(t.TempDir(), filepath.Base(path)+".gz")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, l := range ls {
		if n, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			for _, nl := range ls {
				if ip, ok := nl.(gopacket.NetworkLayer); ok {
					_ = n.SetNetworkLayerForChecksum(ip)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func serializeNoChecksum(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	macA = net.HardwareAddr{0, 1, 2, 3, 4, 5}
	macB = net.HardwareAddr{0, 1, 2, 3, 4, 6}
)

func tcp4Frame(t testing.TB, src, dst string, sport, dport uint16, payload int) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)},
		&layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true, ACK: true},
		gopacket.Payload(make([]byte, payload)))
}

func TestDecodeLinkTypesAndTransports(t *testing.T) {
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
	udp6 := serialize(t, ip6, &layers.UDP{SrcPort: 5353, DstPort: 53}, gopacket.Payload([]byte("hello")))

	ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP("192.0.2.1"), DstIP: net.ParseIP("192.0.2.2")}
	icmp := serialize(t, ip4, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, gopacket.Payload(make([]byte, 56)))

	vlan := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP("10.0.0.1"), DstIP: net.ParseIP("10.0.0.2")},
		&layers.UDP{SrcPort: 1000, DstPort: 2000})

	// IPv4 fragment after the first: no transport header, bytes still count.
	frag := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, FragOffset: 185, SrcIP: net.ParseIP("10.0.0.3"), DstIP: net.ParseIP("10.0.0.4")},
		gopacket.Payload(make([]byte, 100)))

	// IPv6 with a destination-options header before TCP.
	ext := serialize(t, &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Destination, SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")},
		gopacket.Payload(append([]byte{byte(layers.IPProtocolTCP), 0, 1, 4, 0, 0, 0, 0},
			serializeNoChecksum(t, &layers.TCP{SrcPort: 443, DstPort: 50000, FIN: true, DataOffset: 5})...)))

	loop := append([]byte{2, 0, 0, 0}, icmp...)          // BSD loopback, little-endian AF_INET
	sll2 := append(make([]byte, sll2HeaderLen), udp6...) // protocol 0x86dd
	sll2[0], sll2[1] = 0x86, 0xdd

	tests := []struct {
		name       string
		link       int
		data       []byte
		src, dst   string
		proto      uint8
		sport, dpt uint16
		flags      uint8
	}{
		{"ethernet tcp", int(layers.LinkTypeEthernet), tcp4Frame(t, "10.1.1.1", "203.0.113.7", 40000, 443, 100), "10.1.1.1", "203.0.113.7", 6, 40000, 443, FlagSYN | FlagACK},
		{"raw ipv6 udp", int(layers.LinkTypeRaw), udp6, "2001:db8::1", "2001:db8::2", 17, 5353, 53, 0},
		{"dlt_raw 12", 12, icmp, "192.0.2.1", "192.0.2.2", 1, 0, 0, 0},
		{"ipv4 link", int(layers.LinkTypeIPv4), icmp, "192.0.2.1", "192.0.2.2", 1, 0, 0, 0},
		{"qinq", int(layers.LinkTypeEthernet), vlan, "10.0.0.1", "10.0.0.2", 17, 1000, 2000, 0},
		{"fragment", int(layers.LinkTypeEthernet), frag, "10.0.0.3", "10.0.0.4", 17, 0, 0, 0},
		{"ipv6 ext header", int(layers.LinkTypeRaw), ext, "fd00::1", "fd00::2", 6, 443, 50000, FlagFIN},
		{"bsd loopback", int(layers.LinkTypeNull), loop, "192.0.2.1", "192.0.2.2", 1, 0, 0, 0},
		{"linux sll2", LinkTypeSLL2, sll2, "2001:db8::1", "2001:db8::2", 17, 5353, 53, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.link)
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 5), CaptureLength: len(tc.data), Length: len(tc.data) + 1000}
			var r Record
			if !d.Decode(ci, tc.data, &r) {
				t.Fatalf("not decoded; skipped %v", d.Skipped)
			}
			want := Record{TS: ci.Timestamp.UnixNano(), Src: netip.MustParseAddr(tc.src), Dst: netip.MustParseAddr(tc.dst),
				Proto: tc.proto, SrcPort: tc.sport, DstPort: tc.dpt, TCPFlags: tc.flags, WireLen: uint32(ci.Length)}
			if tc.proto == 1 {
				want.ICMPType = 8 // the ICMP frames above are echo requests
			}
			if r != want {
				t.Fatalf("got %+v\nwant %+v", r, want)
			}
		})
	}
}

func TestDecodeSkipsByReason(t *testing.T) {
	arp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			SourceHwAddress: macA, SourceProtAddress: []byte{1, 2, 3, 4}, DstHwAddress: macB, DstProtAddress: []byte{1, 2, 3, 5}})
	good := tcp4Frame(t, "10.1.1.1", "10.1.1.2", 1, 2, 0)
	badIHL := append([]byte(nil), good...)
	badIHL[14] = 0x42 // IPv4 with a 8-byte header: invalid
	cases := []struct {
		name   string
		link   int
		data   []byte
		reason SkipReason
	}{
		{"arp", int(layers.LinkTypeEthernet), arp, SkipNonIP},
		{"short ethernet", int(layers.LinkTypeEthernet), good[:10], SkipMalformed},
		{"bad ipv4 header", int(layers.LinkTypeEthernet), badIHL, SkipMalformed},
		{"ip cut in header", int(layers.LinkTypeEthernet), good[:20], SkipMalformed},
		{"empty raw", int(layers.LinkTypeRaw), nil, SkipMalformed},
		{"raw version 5", int(layers.LinkTypeRaw), []byte{0x50, 0, 0, 0}, SkipMalformed},
		{"short sll2", LinkTypeSLL2, make([]byte, 10), SkipMalformed},
		{"802.11", 105, good, SkipUnsupportedLink},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.link)
			var r Record
			if d.Decode(gopacket.CaptureInfo{CaptureLength: len(tc.data), Length: len(tc.data)}, tc.data, &r) {
				t.Fatalf("decoded %+v; want skipped as %s", r, tc.reason)
			}
			if d.Skipped[tc.reason] != 1 || d.Skipped.Total() != 1 {
				t.Fatalf("skipped %v; want one %s", d.Skipped, tc.reason)
			}
		})
	}
}

// A transport header cut by the snaplen loses the ports, not the bytes.
func TestDecodeKeepsBytesWhenTransportCut(t *testing.T) {
	frame := tcp4Frame(t, "10.1.1.1", "10.1.1.2", 1, 2, 1400)
	d := NewDecoder(int(layers.LinkTypeEthernet))
	var r Record
	ci := gopacket.CaptureInfo{CaptureLength: 40, Length: len(frame)}
	if !d.Decode(ci, frame[:40], &r) {
		t.Fatalf("skipped: %v", d.Skipped)
	}
	if r.WireLen != uint32(len(frame)) || r.Src != netip.MustParseAddr("10.1.1.1") {
		t.Fatalf("got %+v", r)
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	frame := tcp4Frame(t, "10.1.1.1", "203.0.113.7", 40000, 443, 100)
	d := NewDecoder(int(layers.LinkTypeEthernet))
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(frame), Length: len(frame)}
	var r Record
	if n := testing.AllocsPerRun(1000, func() { d.Decode(ci, frame, &r) }); n != 0 {
		t.Fatalf("Decode allocates %.1f times per packet", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(int(layers.LinkTypeEthernet), tcp4Frame(f, "10.1.1.1", "203.0.113.7", 40000, 443, 10))
	f.Add(int(layers.LinkTypeRaw), []byte{0x60, 0, 0, 0, 0, 8, 0, 64})
	f.Add(LinkTypeSLL2, make([]byte, 24))
	f.Add(int(layers.LinkTypeLinuxSLL), make([]byte, 20))
	f.Add(int(layers.LinkTypeNull), []byte{2, 0, 0, 0, 0x45})
	f.Fuzz(func(t *testing.T, link int, data []byte) {
		d := NewDecoder(link)
		var r Record
		ci := gopacket.CaptureInfo{CaptureLength: len(data), Length: len(data)}
		ok := d.Decode(ci, data, &r)
		if ok == (d.Skipped.Total() == 1) {
			t.Fatalf("decoded=%v but skipped %v", ok, d.Skipped)
		}
		if ok && (!r.Src.IsValid() || !r.Dst.IsValid()) {
			t.Fatalf("decoded a record without addresses: %+v", r)
		}
	})
}

// sinkRecorder collects what a Reader hands on.
type sinkRecorder struct {
	records []Record
	idles   int
}

func (s *sinkRecorder) Records(b []Record) { s.records = append(s.records, b...) }
func (s *sinkRecorder) Idle(time.Time)     { s.idles++ }

func TestReaderHandsOnEverythingBeforeABreak(t *testing.T) {
	path := filepath.Join(corpusDir(t), "traffic", "pcapplusplus__example.pcap")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)/2+7], 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := OpenFile(cut, "", "auto")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := &sinkRecorder{}
	c := new(Counters)
	err = (&Reader{Source: src, Sink: sink, Counters: c, BatchSize: 7}).Run(context.Background())
	if err == nil {
		t.Fatal("no error for a truncated file")
	}
	skipped := c.SkippedSnapshot()
	if got := uint64(len(sink.records)) + skipped.Total(); got != c.Packets.Load() || got == 0 {
		t.Fatalf("sink got %d records + %d skipped, reader counted %d packets", len(sink.records), skipped.Total(), c.Packets.Load())
	}
}
