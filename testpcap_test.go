package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// testPcap writes a capture of Ethernet/IPv4 frames for the command's
// tests: each frame is built from the addresses and transport layer given
// and recorded with the wire length asked for.
type testPcap struct {
	t   *testing.T
	f   *os.File
	w   *pcapgo.Writer
	buf gopacket.SerializeBuffer
}

// newTestPcap creates name in a temporary directory, writes its header
// with snaplen and returns the writer; the file is closed when the test ends.
func newTestPcap(t *testing.T, name string, snaplen uint32) (*testPcap, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(snaplen, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return &testPcap{t: t, f: f, w: w, buf: gopacket.NewSerializeBuffer()}, path
}

// transport is a TCP or UDP layer, whose checksum covers the IP header.
type transport interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}

// write records one frame from src to dst at ts, wire bytes long on the wire.
func (p *testPcap) write(ts time.Time, wire int, src, dst string, proto layers.IPProtocol, l4 transport, payload []byte) {
	p.t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	l4.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(p.buf, gopacket.SerializeOptions{FixLengths: true}, eth, ip, l4, gopacket.Payload(payload)); err != nil {
		p.t.Fatal(err)
	}
	data := p.buf.Bytes()
	if err := p.w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: wire}, data); err != nil {
		p.t.Fatal(err)
	}
}
