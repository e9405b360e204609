package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func BenchmarkDecode(b *testing.B) {
	frame := tcp4Frame(b, "10.1.1.1", "203.0.113.7", 40000, 443, 1400)
	d := NewDecoder(int(layers.LinkTypeEthernet))
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(frame), Length: len(frame)}
	var r Record
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		d.Decode(ci, frame, &r)
	}
}

// BenchmarkReadAndDecode reads a classic pcap stream held in memory and
// decodes every packet: the capture goroutine's work per packet.
func BenchmarkReadAndDecode(b *testing.B) {
	frame := tcp4Frame(b, "10.1.1.1", "203.0.113.7", 40000, 443, 1400)
	var buf bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], magicMicro)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	buf.Write(hdr)
	const n = 50000 // enough that the reader's 4 MiB buffer is amortised
	rec := make([]byte, 16)
	for i := range n {
		binary.LittleEndian.PutUint32(rec[0:], uint32(1700000000+i/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		buf.Write(rec)
		buf.Write(frame)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		p, err := newPcapReader("bench", bytes.NewReader(data), nil, "")
		if err != nil {
			b.Fatal(err)
		}
		d := NewDecoder(p.LinkType())
		var r Record
		for {
			pkt, ci, err := p.ReadPacket()
			if err == io.EOF {
				break
			}
			d.Decode(ci, pkt, &r)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
