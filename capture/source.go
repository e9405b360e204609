package capture

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcap"
)

// Source is where packets come from: a live interface or a capture file.
// ReadPacket's data is valid only until the next call (zero-copy).
type Source interface {
	// ReadPacket returns the next packet. It returns ErrTimeout when a live
	// source had nothing within its read timeout, and io.EOF at the end of
	// a file.
	ReadPacket() (data []byte, ci gopacket.CaptureInfo, err error)
	// LinkType is the LINKTYPE_ value of the frames.
	LinkType() int
	// Snaplen is the capture's snapshot length, as stated by the source.
	Snaplen() int
	// Nanosecond reports whether timestamps carry nanosecond precision.
	Nanosecond() bool
	// Stats reports the kernel's receive and drop counters (live sources);
	// ok is false when the source has none.
	Stats() (s KernelStats, ok bool)
	// Describe names the source for logs: "interface eth0", "file x.pcap".
	Describe() string
	Close() error
}

// KernelStats are libpcap's counters for a live capture.
type KernelStats struct {
	Received         uint64 // packets the filter accepted
	Dropped          uint64 // dropped for lack of buffer space
	InterfaceDropped uint64 // dropped by the interface or driver
}

// ErrTimeout is returned by a live Source's ReadPacket when no packet arrived
// within the read timeout; the caller uses it to advance the wall clock.
var ErrTimeout = errors.New("capture: read timeout")

// Config says how to open a source. Exactly one of Interface and File is used:
// File wins when set.
type Config struct {
	Interface   string        // -i
	File        string        // -pcapfile; "-" is standard input
	Snaplen     int           // -s
	ReadTimeout time.Duration // -w
	Promisc     bool          // -promisc
	BufferSize  int           // -buffer_size, bytes; 0 keeps libpcap's default
	BPF         string        // -f
	Daq         string        // -daq; only "libpcap"
	FileReader  string        // -file_reader: auto or libpcap
}

// Validate reports the first bad field, naming its flag.
func (c *Config) Validate() error {
	if c.Daq != "" && c.Daq != "libpcap" {
		return fmt.Errorf("-daq %q: only \"libpcap\" is supported", c.Daq)
	}
	if c.File == "" && strings.TrimSpace(c.Interface) == "" {
		return errors.New("-i: an interface name is needed when -pcapfile is not given")
	}
	if c.Snaplen < 64 || c.Snaplen > 262144 {
		return fmt.Errorf("-s %d: snaplen must be between 64 and 262144 bytes", c.Snaplen)
	}
	if c.File == "" && c.ReadTimeout <= 0 {
		return fmt.Errorf("-w %s: the read timeout must be positive (e.g. 1s)", c.ReadTimeout)
	}
	if c.BufferSize < 0 {
		return fmt.Errorf("-buffer_size %d: must be 0 (libpcap default) or a positive number of bytes", c.BufferSize)
	}
	return nil
}

// Open opens the configured source with its BPF filter applied.
func Open(c Config) (Source, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.File != "" {
		return OpenFile(c.File, c.BPF, c.FileReader)
	}
	return OpenLive(c)
}

// linkType returns the handle's link type as a LINKTYPE_ value. gopacket
// narrows pcap_datalink's int to a byte, which would turn
// LINKTYPE_LINUX_SLL2 (276) into 20; the link type's name, which libpcap
// also reports, is not narrowed. libpcap reports a DLT_ value, which for a
// few link types differs from the LINKTYPE_ value files carry.
func linkType(h *pcap.Handle) int {
	dlt := int(h.LinkType())
	if links, err := h.ListDataLinks(); err == nil {
		for _, l := range links {
			if v := pcap.DatalinkNameToVal(l.Name); v >= 0 && v&0xff == dlt {
				dlt = v
				break
			}
		}
	}
	return linkTypeOfDLT(dlt)
}

// linkTypeOfDLT maps the DLT_ values of this platform (Linux) that differ
// from the LINKTYPE_ value of the same link type, as libpcap's
// dlt_to_linktype does, so that both file readers, and the evidence pcaps
// written from a live capture, name a link type alike.
func linkTypeOfDLT(dlt int) int {
	switch dlt {
	case 11: // ATM RFC 1483
		return 100
	case 12: // raw IP
		return 101
	case 15: // BSD/OS SLIP
		return 102
	case 16: // BSD/OS PPP
		return 103
	case 19: // ATM classical IP
		return 106
	}
	return dlt
}
