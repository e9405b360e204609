package archive

import (
	"fmt"

	"github.com/google/gopacket/layers"
)

// Config holds everything the recorder needs. main fills it from flags; the
// flag each field comes from is named in its comment and in Validate's errors.
type Config struct {
	// LogDir holds the spool: pcap segments and their indexes (-l).
	LogDir string
	// ArchiveDir receives the evidence of alerted flows (-archive_dir).
	ArchiveDir string
	// LogPackets turns on the spool (-log_packets).
	LogPackets bool
	// MaxLogSizeMB bounds the bytes archived per connection for one alert,
	// all files together (-max_pcap_log_size).
	MaxLogSizeMB int
	// MaxRotations is the number of files a connection's archived packets
	// are split into at most (-max_pcap_rotations); each holds at most
	// MaxLogSizeMB/MaxRotations, and the newest packets are kept.
	MaxRotations int
	// SegmentMB is the size at which a spool segment is sealed and the
	// next one started (-archive_segment_mb).
	SegmentMB int
	// IndexMB bounds the memory of the current segment's index; a segment
	// whose index reaches it is sealed early, and counted
	// (-archive_index_mb).
	IndexMB int
	// LogDirQuotaMB bounds the spool; the oldest segments are deleted first
	// (-archive_log_quota_mb).
	LogDirQuotaMB int
	// ArchiveQuotaMB bounds ArchiveDir; oldest alert folders go first
	// (-archive_quota_mb).
	ArchiveQuotaMB int
	// RingMB is the flight recorder's global memory budget when LogPackets
	// is off; 0 turns it off (-archive_ring_mb).
	RingMB int
	// RingFlowMB caps one address pair's share of the ring
	// (-archive_ring_flow_mb).
	RingFlowMB int
	// QueueSize is the number of packet batches that may wait for the writer
	// (-archive_queue); when all are in use, packets are counted and dropped
	// (or, with Block, Tap waits).
	QueueSize int
	// Block makes Tap wait for the writer when QueueSize batches are queued,
	// instead of dropping. main sets it when reading a capture file, which
	// has no kernel buffer to overflow and whose evidence should be whole;
	// live capture must never wait on a disk.
	Block bool
	// Snaplen, LinkType and Nanosecond describe the capture; every file's
	// header carries them (-s and the source's link type and resolution).
	Snaplen    int
	LinkType   int // a LINKTYPE_ value; an int, since LINUX_SLL2 is 276
	Nanosecond bool
}

// DefaultConfig returns the defaults of the flags; main overrides what the
// user set.
func DefaultConfig() Config {
	return Config{
		MaxLogSizeMB:   1,
		MaxRotations:   10,
		SegmentMB:      128,
		IndexMB:        32,
		LogDirQuotaMB:  1024,
		ArchiveQuotaMB: 4096,
		RingMB:         0,
		RingFlowMB:     2,
		QueueSize:      32,
		Snaplen:        maxSnaplen,
		LinkType:       int(layers.LinkTypeEthernet),
	}
}

// maxSnaplen is libpcap's largest snapshot length; 0 means this too.
const maxSnaplen = 262144

// maxSegmentMB keeps every offset in a segment within the index's 32 bits.
const maxSegmentMB = 4095

// Validate reports the first unusable setting, naming its flag.
func (c *Config) Validate() error {
	switch {
	case c.LogPackets && c.LogDir == "":
		return fmt.Errorf("archive: -log_packets needs -l (the directory for the packet spool)")
	case c.RingMB < 0:
		return fmt.Errorf("archive: -archive_ring_mb=%d: must be >= 0", c.RingMB)
	case c.RingMB > 0 && c.ArchiveDir == "":
		return fmt.Errorf("archive: -archive_ring_mb=%d needs -archive_dir", c.RingMB)
	case c.RingMB > 0 && (c.RingFlowMB <= 0 || c.RingFlowMB > c.RingMB):
		return fmt.Errorf("archive: -archive_ring_flow_mb=%d: must be in 1..-archive_ring_mb (%d)", c.RingFlowMB, c.RingMB)
	case c.MaxLogSizeMB <= 0:
		return fmt.Errorf("archive: -max_pcap_log_size=%d: must be > 0 (MB per connection)", c.MaxLogSizeMB)
	case c.MaxRotations <= 0:
		return fmt.Errorf("archive: -max_pcap_rotations=%d: must be > 0", c.MaxRotations)
	case int64(c.MaxLogSizeMB)*mib/int64(c.MaxRotations) < pcapHeaderLen+pcapRecordHeaderLen+64:
		return fmt.Errorf("archive: -max_pcap_log_size=%d split into -max_pcap_rotations=%d files leaves too little per file", c.MaxLogSizeMB, c.MaxRotations)
	case c.SegmentMB <= 0 || c.SegmentMB > maxSegmentMB:
		return fmt.Errorf("archive: -archive_segment_mb=%d: must be in 1..%d", c.SegmentMB, maxSegmentMB)
	case c.IndexMB <= 0:
		return fmt.Errorf("archive: -archive_index_mb=%d: must be > 0", c.IndexMB)
	case c.LogPackets && c.LogDirQuotaMB < c.SegmentMB:
		return fmt.Errorf("archive: -archive_log_quota_mb=%d: must be at least -archive_segment_mb (%d)", c.LogDirQuotaMB, c.SegmentMB)
	case c.ArchiveQuotaMB <= 0:
		return fmt.Errorf("archive: -archive_quota_mb=%d: must be > 0", c.ArchiveQuotaMB)
	case c.QueueSize < 2:
		return fmt.Errorf("archive: -archive_queue=%d: must be >= 2 batches", c.QueueSize)
	case c.Snaplen < 0 || c.Snaplen > maxSnaplen:
		return fmt.Errorf("archive: -s=%d: snaplen must be in 0..%d", c.Snaplen, maxSnaplen)
	}
	return nil
}

// snaplen is the effective snapshot length (libpcap reads 0 as the maximum).
func (c *Config) snaplen() int {
	if c.Snaplen == 0 {
		return maxSnaplen
	}
	return c.Snaplen
}

// partMax is the size one archived file of a connection may reach.
func (c *Config) partMax() int64 {
	return int64(c.MaxLogSizeMB) * mib / int64(c.MaxRotations)
}

const mib = 1 << 20
