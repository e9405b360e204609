// Package capture reads packets from a live interface or a capture file and
// turns each one into a compact Record, handed on in batches.
package capture

import (
	"net/netip"

	"github.com/google/gopacket"
)

// Record is the compact form of one packet: what flow accounting needs and
// nothing more, so a batch of them is cheap to pass between goroutines.
type Record struct {
	TS       int64 // packet time, nanoseconds since the Unix epoch
	Src, Dst netip.Addr
	SrcPort  uint16
	DstPort  uint16
	Proto    uint8  // IP protocol number of the transport (after IPv6 extension headers)
	TCPFlags uint8  // FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80
	ICMPType uint8  // ICMP or ICMPv6 type, when Proto is 1 or 58 (e.g. 3 / 1: destination unreachable)
	ICMPCode uint8  // ICMP or ICMPv6 code
	WireLen  uint32 // original length on the wire, not cut by snaplen
}

// TCP flag bits as stored in Record.TCPFlags.
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Tap sees each decoded packet together with its raw bytes before the buffer
// is reused. A tap that keeps data must copy it.
type Tap func(ci gopacket.CaptureInfo, data []byte, r *Record)
