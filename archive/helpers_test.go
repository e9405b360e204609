package archive

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
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
	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/capture"
)

// spec describes one test packet.
type spec struct {
	src, dst     string
	sport, dport uint16
	proto        uint8 // protoTCP, protoUDP or 1 (ICMP)
	flags        uint8
	payload      int
	ts           time.Time
}

// testPacket is a serialized packet with what capture would hand the tap.
type testPacket struct {
	ci   gopacket.CaptureInfo
	data []byte
	rec  capture.Record
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)

// build serializes s as Ethernet/IP/transport with gopacket's layers.
func build(tb testing.TB, rng *rand.Rand, s spec) testPacket {
	tb.Helper()
	src, dst := netip.MustParseAddr(s.src), netip.MustParseAddr(s.dst)
	eth := &layers.Ethernet{
		SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
	}
	var ip gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	ipProto := layers.IPProtocol(s.proto)
	if src.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: ipProto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ip, nl = v4, v4
	} else {
		if s.proto == 1 {
			ipProto = layers.IPProtocolICMPv6
			s.proto = 58
		}
		eth.EthernetType = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: ipProto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ip, nl = v6, v6
	}
	payload := make([]byte, s.payload)
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	ls := []gopacket.SerializableLayer{eth, ip}
	switch s.proto {
	case protoTCP:
		tcp := &layers.TCP{
			SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Window: 65535,
			FIN: s.flags&capture.FlagFIN != 0, SYN: s.flags&capture.FlagSYN != 0,
			RST: s.flags&capture.FlagRST != 0, PSH: s.flags&capture.FlagPSH != 0,
			ACK: s.flags&capture.FlagACK != 0, Seq: rng.Uint32(),
		}
		tcp.SetNetworkLayerForChecksum(nl)
		ls = append(ls, tcp)
	case protoUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
		udp.SetNetworkLayerForChecksum(nl)
		ls = append(ls, udp)
	case 1:
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1})
	case 58:
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
		icmp.SetNetworkLayerForChecksum(nl)
		ls = append(ls, icmp)
	}
	ls = append(ls, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatalf("serialize %+v: %v", s, err)
	}
	data := slices.Clone(buf.Bytes())
	rec := capture.Record{TS: s.ts.UnixNano(), Src: src, Dst: dst, Proto: s.proto, TCPFlags: s.flags, WireLen: uint32(len(data))}
	if s.proto == protoTCP || s.proto == protoUDP {
		rec.SrcPort, rec.DstPort = s.sport, s.dport
	}
	return testPacket{
		ci:   gopacket.CaptureInfo{Timestamp: s.ts, CaptureLength: len(data), Length: len(data)},
		data: data,
		rec:  rec,
	}
}

// testConfig is a small, fast configuration under dir.
func testConfig(dir string) Config {
	c := DefaultConfig()
	c.LogDir = filepath.Join(dir, "log")
	c.ArchiveDir = filepath.Join(dir, "archive")
	c.LogPackets = true
	c.Snaplen = 65535
	return c
}

func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func mustNew(tb testing.TB, cfg Config) *Recorder {
	tb.Helper()
	r, err := New(cfg, quietLogger())
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// tapAll taps packets, pausing while every batch is queued so that the test
// measures what the writer does, not what an overloaded queue drops.
func tapAll(r *Recorder, pkts []testPacket) {
	for i := range pkts {
		for len(r.free) == 0 {
			time.Sleep(50 * time.Microsecond)
		}
		r.Tap(pkts[i].ci, pkts[i].data, &pkts[i].rec)
	}
}

func closeRecorder(tb testing.TB, r *Recorder) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		tb.Fatalf("Close: %v", err)
	}
}

// readBack is one packet as libpcap returns it.
type readBack struct {
	ts     time.Time
	length int
	data   []byte
}

// readPcap reads a file with libpcap and checks its header.
func readPcap(tb testing.TB, path string, cfg Config) []readBack {
	tb.Helper()
	h, err := pcap.OpenOffline(path)
	if err != nil {
		tb.Fatalf("libpcap cannot open %s: %v", path, err)
	}
	defer h.Close()
	if fileLinkType(int(h.LinkType())) != fileLinkType(cfg.LinkType) {
		tb.Errorf("%s: link type %v, want %v", path, h.LinkType(), cfg.LinkType)
	}
	if h.SnapLen() != cfg.snaplen() {
		tb.Errorf("%s: snaplen %d, want %d", path, h.SnapLen(), cfg.snaplen())
	}
	var out []readBack
	for {
		data, ci, err := h.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatalf("libpcap reading %s after %d packets: %v", path, len(out), err)
		}
		out = append(out, readBack{ci.Timestamp, ci.Length, slices.Clone(data)})
	}
}

// want is what a file must hold for p, given the file's resolution.
func want(p testPacket, nano bool) readBack {
	ts := p.ci.Timestamp
	if !nano {
		ts = ts.Truncate(time.Microsecond)
	}
	return readBack{ts, p.ci.Length, p.data}
}

func samePackets(tb testing.TB, what string, got []readBack, pkts []testPacket, nano bool) {
	tb.Helper()
	if len(got) != len(pkts) {
		tb.Fatalf("%s: %d packets, want %d", what, len(got), len(pkts))
	}
	for i := range got {
		w := want(pkts[i], nano)
		if !got[i].ts.Equal(w.ts) || got[i].length != w.length || !slices.Equal(got[i].data, w.data) {
			tb.Fatalf("%s: packet %d differs: got ts %v len %d (%d bytes), want ts %v len %d (%d bytes)",
				what, i, got[i].ts, got[i].length, len(got[i].data), w.ts, w.length, len(w.data))
		}
	}
}

// tcpdumpTimes returns the timestamps tcpdump prints for a file; it skips
// the test when tcpdump is not installed.
func tcpdumpTimes(tb testing.TB, path string, nano bool) []string {
	tb.Helper()
	bin, err := exec.LookPath("tcpdump")
	if err != nil {
		tb.Skip("tcpdump not installed; libpcap checks ran")
	}
	args := []string{"-r", path, "-nn", "-tt"}
	if nano {
		args = append(args, "--nano")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("tcpdump -r %s: %v\n%s", path, err, out)
	}
	var ts []string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || strings.HasPrefix(line, "reading from file") {
			continue
		}
		ts = append(ts, strings.Fields(line)[0])
	}
	return ts
}

func tcpdumpTime(ts time.Time, nano bool) string {
	if nano {
		return fmt.Sprintf("%d.%09d", ts.Unix(), ts.Nanosecond())
	}
	return fmt.Sprintf("%d.%06d", ts.Unix(), ts.Nanosecond()/1000)
}

// pcapFiles lists the .pcap files under dir, recursively, sorted.
func pcapFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pcap") {
			out = append(out, p)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// eventually polls cond until it holds or a few seconds pass.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
