package capture_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wherefore/wherefore/capture"
)

// Read a capture file and decode every packet into a compact Record, as
// the daemon's capture loop does.
func ExampleOpenFile() {
	src, err := capture.OpenFile(filepath.Join("..", "testdata", "demo.pcap"), "tcp", "auto")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	dec := capture.NewDecoder(src.LinkType())
	var r capture.Record
	var packets, decoded int
	var wire uint64
	for {
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		packets++
		if dec.Decode(ci, data, &r) {
			decoded++
			wire += uint64(r.WireLen)
		}
	}
	fmt.Printf("link type %d: %d TCP packets, %d decoded, %d bytes on the wire\n", src.LinkType(), packets, decoded, wire)
	// Output: link type 1: 18661 TCP packets, 18661 decoded, 309123612 bytes on the wire
}

// A capture cut short still yields every whole packet; the error then says
// where it broke.
func ExampleBrokenError() {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "demo.pcap"))
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cut := filepath.Join(dir, "cut.pcap")
	// The file header, one 16-byte record header and part of its packet.
	if err := os.WriteFile(cut, data[:24+16+10], 0o600); err != nil {
		fmt.Println(err)
		return
	}
	src, err := capture.OpenFile(cut, "", "auto")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	_, _, err = src.ReadPacket()
	var broken *capture.BrokenError
	if errors.As(err, &broken) {
		fmt.Println(broken.Packets, broken.Offset, errors.Is(err, capture.ErrTruncated))
	}
	// Output: 0 24 true
}
