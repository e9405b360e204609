package synth_test

import (
	"bufio"
	"io"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// pcapgoReader opens a pcap or pcapng stream with pcapgo.
func pcapgoReader(r io.Reader) (interface {
	gopacket.PacketDataSource
	LinkType() layers.LinkType
}, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, err
	}
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		return pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	}
	return pcapgo.NewReader(br)
}
