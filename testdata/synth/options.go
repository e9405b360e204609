package synth

import (
	"fmt"

	"github.com/google/gopacket/layers"
)

// LinkType is the link layer the packets are framed in.
type LinkType int

const (
	// Ethernet (DLT_EN10MB); hosts on one VLAN carry an 802.1Q tag.
	Ethernet LinkType = iota
	// Raw is bare IPv4/IPv6 (LINKTYPE_RAW), as from tun devices.
	Raw
	// LinuxSLL is the Linux cooked header of "-i any" captures.
	LinuxSLL
	// Null is the BSD loopback header (DLT_NULL) with a 4-byte family.
	Null
)

// linkNames are the link types' names, by value.
func linkNames() [4]string { return [4]string{"ethernet", "raw", "sll", "null"} }

func (l LinkType) String() string {
	if l >= 0 && int(l) < len(linkNames()) {
		return linkNames()[l]
	}
	return fmt.Sprintf("LinkType(%d)", int(l))
}

// ParseLinkType parses ethernet, raw, sll or null.
func ParseLinkType(s string) (LinkType, error) {
	for i, n := range linkNames() {
		if s == n {
			return LinkType(i), nil
		}
	}
	return 0, fmt.Errorf("synth: unknown link type %q (want ethernet, raw, sll or null)", s)
}

func (l LinkType) layers() layers.LinkType {
	return [...]layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL, layers.LinkTypeNull}[l]
}

// Format is the capture file format.
type Format int

const (
	// PCAP is the classic libpcap format, little-endian.
	PCAP Format = iota
	// PCAPNG is pcapng with one section and one interface.
	PCAPNG
)

func (f Format) String() string {
	switch f {
	case PCAP:
		return "pcap"
	case PCAPNG:
		return "pcapng"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat parses pcap or pcapng.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "pcap":
		return PCAP, nil
	case "pcapng":
		return PCAPNG, nil
	}
	return 0, fmt.Errorf("synth: unknown format %q (want pcap or pcapng)", s)
}

// Options says how to encode a scenario. The zero value writes pcap over
// Ethernet with microsecond timestamps and the scenario's snap length.
type Options struct {
	Format   Format
	LinkType LinkType
	// Snaplen cuts records at this many bytes (original lengths stay);
	// 0 takes Scenario.Snaplen. Below about 100 bytes headers get cut too.
	Snaplen int
	// Nanosecond draws timestamps at nanosecond resolution (and writes
	// nanosecond pcap); otherwise they are whole microseconds. pcapng always
	// stores nanoseconds, but only this option makes use of them.
	Nanosecond bool
}

// Validate reports the first field that cannot work, by name.
func (o Options) Validate() error {
	switch {
	case o.Format != PCAP && o.Format != PCAPNG:
		return fmt.Errorf("synth: Options.Format %d: want PCAP or PCAPNG", o.Format)
	case o.LinkType < 0 || int(o.LinkType) >= len(linkNames()):
		return fmt.Errorf("synth: Options.LinkType %d: want Ethernet, Raw, LinuxSLL or Null", o.LinkType)
	case o.Snaplen < 0:
		return fmt.Errorf("synth: Options.Snaplen %d: want 0 (scenario's) or more", o.Snaplen)
	}
	return nil
}
