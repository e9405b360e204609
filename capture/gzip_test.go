package capture

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// writeTestPcap writes n Ethernet/IPv4/UDP packets of varied sizes to a
// classic pcap file and returns its path.
func writeTestPcap(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flows.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	buf := gopacket.NewSerializeBuffer()
	for i := range n {
		payload := make([]byte, 20+rng.IntN(1400))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IPv4(10, 0, 0, byte(1+i%7)), DstIP: net.IPv4(203, 0, 113, byte(1+i%5))}
		udp := &layers.UDP{SrcPort: layers.UDPPort(40000 + i%100), DstPort: 443}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(data), Length: len(data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// gzipBytes compresses data with the gzip program when there is one (the
// tool users have), else with compress/gzip.
func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("gzip"); err == nil {
		cmd := exec.Command("gzip", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gzip -c: %v", err)
		}
		return out
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gunzipWhatCan returns what `gzip -dc` recovers from a damaged file:
// everything it can decompress, before its error. Without the gzip
// program, Go's decompressor stands in.
func gunzipWhatCan(t *testing.T, path string) []byte {
	t.Helper()
	if _, err := exec.LookPath("gzip"); err == nil {
		var out bytes.Buffer
		cmd := exec.Command("gzip", "-dc", path)
		cmd.Stdout = &out
		err := cmd.Run()
		var exit *exec.ExitError
		if err == nil || !errors.As(err, &exit) {
			t.Fatalf("gzip -dc %s: %v; want it to fail on the damaged file", path, err)
		}
		return out.Bytes()
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err == nil {
		t.Fatalf("%s decompressed without an error", path)
	}
	return out
}

// countPackets reads a plain capture to its end or break and returns the
// packets read.
func countPackets(t *testing.T, data []byte) uint64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "recovered.pcap")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := OpenFile(path, "", "libpcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	return readAll(src).packets
}

// TestDamagedGzipReadsWhatGzipRecovers: a gzip capture cut short, missing
// only its trailer or part of its compressed data, yields every packet that
// `gzip -dc` recovers, then an error saying where and why it broke.
func TestDamagedGzipReadsWhatGzipRecovers(t *testing.T) {
	plain, err := os.ReadFile(writeTestPcap(t, 3000))
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipBytes(t, plain)
	for _, c := range []struct {
		name string
		keep int // bytes of the compressed file kept
	}{
		{"no trailer", len(gz) - 8},
		{"half the trailer", len(gz) - 4},
		{"cut mid-stream", len(gz) * 3 / 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.pcap.gz")
			if err := os.WriteFile(path, gz[:c.keep], 0o600); err != nil {
				t.Fatal(err)
			}
			recovered := gunzipWhatCan(t, path)
			want := countPackets(t, recovered)
			if want == 0 {
				t.Fatal("nothing recovered: the test capture is too small")
			}
			for _, reader := range []string{"auto", "libpcap"} {
				src, err := OpenFile(path, "", reader)
				if err != nil {
					t.Fatalf("%s: %v", reader, err)
				}
				res := readAll(src)
				src.Close()
				if res.packets != want {
					t.Errorf("%s: read %d packets; gzip -dc recovers %d", reader, res.packets, want)
				}
				var broken *BrokenError
				if !errors.As(res.err, &broken) || !errors.Is(res.err, ErrTruncated) || !errors.Is(res.err, io.ErrUnexpectedEOF) {
					t.Fatalf("%s: error %v, want a *BrokenError wrapping ErrTruncated and io.ErrUnexpectedEOF", reader, res.err)
				}
				if broken.Packets != want || broken.File != path {
					t.Errorf("%s: broke after packet %d of %s, want %d of %s", reader, broken.Packets, broken.File, want, path)
				}
				// The Go reader says where: the end of the last whole record.
				if _, isGo := src.(*PcapReader); isGo && c.keep >= len(gz)-8 && broken.Offset != int64(len(plain)) {
					t.Errorf("%s: broke at byte offset %d, want %d (the end of the last record)", reader, broken.Offset, len(plain))
				}
			}
		})
	}
}
