package capture

import (
	"fmt"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcap"
)

// LiveSource captures from a network interface through libpcap.
type LiveSource struct {
	iface  string
	handle *pcap.Handle
}

// OpenLive opens c.Interface with the configured snaplen, read timeout,
// promiscuous mode, kernel buffer size and BPF filter.
func OpenLive(c Config) (*LiveSource, error) {
	in, err := pcap.NewInactiveHandle(c.Interface)
	if err != nil {
		return nil, fmt.Errorf("-i %s: %w", c.Interface, err)
	}
	defer in.CleanUp()
	if err := in.SetSnapLen(c.Snaplen); err != nil {
		return nil, fmt.Errorf("-s %d: %w", c.Snaplen, err)
	}
	if err := in.SetPromisc(c.Promisc); err != nil {
		return nil, fmt.Errorf("-promisc: %w", err)
	}
	if err := in.SetTimeout(c.ReadTimeout); err != nil {
		return nil, fmt.Errorf("-w %s: %w", c.ReadTimeout, err)
	}
	if c.BufferSize > 0 {
		if err := in.SetBufferSize(c.BufferSize); err != nil {
			return nil, fmt.Errorf("-buffer_size %d: %w", c.BufferSize, err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, fmt.Errorf("-i %s: cannot capture: %w (capturing needs root or the capabilities cap_net_raw,cap_net_admin on the binary: make setcap)", c.Interface, err)
	}
	if c.BPF != "" {
		if err := h.SetBPFFilter(c.BPF); err != nil {
			h.Close()
			return nil, fmt.Errorf("-f %q: %w: %w", c.BPF, ErrFilter, err)
		}
	}
	return &LiveSource{iface: c.Interface, handle: h}, nil
}

// ReadPacket returns the next packet, or ErrTimeout when none arrived within
// the read timeout.
func (s *LiveSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.handle.ZeroCopyReadPacketData()
	if err != nil {
		if ne, ok := err.(pcap.NextError); ok {
			switch ne {
			case pcap.NextErrorTimeoutExpired:
				return nil, ci, ErrTimeout
			case pcap.NextErrorReadError:
				return nil, ci, fmt.Errorf("interface %s: %w", s.iface, s.handle.Error())
			}
		}
		return nil, ci, err
	}
	return data, ci, nil
}

// LinkType returns the interface's link type (a LINKTYPE_ value).
func (s *LiveSource) LinkType() int { return linkType(s.handle) }

// Snaplen returns the snapshot length in force.
func (s *LiveSource) Snaplen() int { return s.handle.SnapLen() }

// Nanosecond reports whether libpcap delivers nanosecond timestamps.
func (s *LiveSource) Nanosecond() bool {
	return s.handle.Resolution() == gopacket.TimestampResolutionNanosecond
}

// Stats returns libpcap's receive and drop counters.
func (s *LiveSource) Stats() (KernelStats, bool) {
	st, err := s.handle.Stats()
	if err != nil {
		return KernelStats{}, false
	}
	return KernelStats{
		Received:         uint64(st.PacketsReceived),
		Dropped:          uint64(st.PacketsDropped),
		InterfaceDropped: uint64(st.PacketsIfDropped),
	}, true
}

// Describe names the interface.
func (s *LiveSource) Describe() string { return "interface " + s.iface }

// Close stops the capture.
func (s *LiveSource) Close() error {
	s.handle.Close()
	return nil
}

// InterfaceNames lists the interfaces libpcap can capture from, for error
// messages; nil when libpcap cannot list them.
func InterfaceNames() []string {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(devs))
	for _, d := range devs {
		names = append(names, d.Name)
	}
	return names
}
