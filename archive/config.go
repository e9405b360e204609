package archive

import (
	"fmt"
	"time"

	"github.com/google/gopacket/layers"
)

// Config holds everything the recorder needs. main fills it from flags; the
// flag each field comes from is named in its comment and in Validate's errors.
type Config struct {
	// LogDir is where per-connection pcaps are written (-l).
	LogDir string
	// ArchiveDir receives the evidence of alerted flows (-archive_dir).
	ArchiveDir string
	// LogPackets turns on per-connection pcap logging (-log_packets).
	LogPackets bool
	// MaxLogSizeMB bounds the bytes kept per connection, all parts together
	// (-max_pcap_log_size).
	MaxLogSizeMB int
	// MaxRotations is the number of files a connection's log is split into
	// (-max_pcap_rotations); each holds at most MaxLogSizeMB/MaxRotations.
	MaxRotations int
	// MaxOpenFiles caps file descriptors held by the writer
	// (-archive_max_open_files); New lowers it to half the process's
	// open-file limit.
	MaxOpenFiles int
	// MaxConnections caps tracked connections; beyond it the least recently
	// active one is dropped with its files (-archive_max_connections).
	MaxConnections int
	// LogDirQuotaMB bounds all files in LogDir; oldest parts go first
	// (-archive_log_quota_mb).
	LogDirQuotaMB int
	// PendingMB is the memory for records not yet written to -l: each
	// connection's newest records wait there, so a short connection that
	// ends with no alert costs no file; an eighth of it (512 KiB at least)
	// holds records on their way to the disk (-archive_pending_mb).
	PendingMB int
	// ArchiveQuotaMB bounds ArchiveDir; oldest alert folders go first
	// (-archive_quota_mb).
	ArchiveQuotaMB int
	// RingMB is the flight recorder's global memory budget when LogPackets
	// is off; 0 turns it off (-archive_ring_mb).
	RingMB int
	// RingFlowMB caps one address pair's share of the ring
	// (-archive_ring_flow_mb).
	RingFlowMB int
	// ConnIdleTimeout ends a connection that has sent nothing for this long
	// in packet time (-archive_conn_idle).
	ConnIdleTimeout time.Duration
	// Linger keeps an ended connection's files this long, in packet time and
	// in wall time, so the alert for the interval it ended in can still claim
	// them. main sets it to -transfer_interval plus a margin.
	Linger time.Duration
	// QueueSize is the number of packet batches that may wait for the writer
	// (-archive_queue); when all are in use, packets are counted and dropped
	// (or, with Block, Tap waits).
	QueueSize int
	// Block makes Tap wait for the writer when QueueSize batches are queued,
	// instead of dropping. main sets it when reading a capture file, which
	// has no kernel buffer to overflow and whose evidence should be whole;
	// live capture must never wait on a disk.
	Block bool
	// KeepLeftovers moves files a previous run left in LogDir into ArchiveDir
	// instead of deleting them (-archive_keep_leftovers).
	KeepLeftovers bool
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
		MaxLogSizeMB:    1,
		MaxRotations:    10,
		MaxOpenFiles:    8192,
		MaxConnections:  65536,
		LogDirQuotaMB:   1024,
		ArchiveQuotaMB:  4096,
		PendingMB:       64,
		RingMB:          0,
		RingFlowMB:      2,
		ConnIdleTimeout: 2 * time.Minute,
		Linger:          70 * time.Second,
		QueueSize:       32,
		Snaplen:         maxSnaplen,
		LinkType:        int(layers.LinkTypeEthernet),
	}
}

// maxSnaplen is libpcap's largest snapshot length; 0 means this too.
const maxSnaplen = 262144

// Validate reports the first unusable setting, naming its flag.
func (c *Config) Validate() error {
	switch {
	case c.LogPackets && c.LogDir == "":
		return fmt.Errorf("archive: -log_packets needs -l (the directory for per-connection pcaps)")
	case c.LogPackets && c.ArchiveDir == "":
		return fmt.Errorf("archive: -log_packets needs -archive_dir: files of connections that raise no alert are deleted when they end")
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
	case c.MaxOpenFiles <= 0:
		return fmt.Errorf("archive: -archive_max_open_files=%d: must be > 0", c.MaxOpenFiles)
	case c.MaxConnections <= 0:
		return fmt.Errorf("archive: -archive_max_connections=%d: must be > 0", c.MaxConnections)
	case c.LogDirQuotaMB < c.MaxLogSizeMB:
		return fmt.Errorf("archive: -archive_log_quota_mb=%d: must be at least -max_pcap_log_size (%d)", c.LogDirQuotaMB, c.MaxLogSizeMB)
	case c.LogPackets && c.PendingMB <= 0:
		return fmt.Errorf("archive: -archive_pending_mb=%d: must be > 0", c.PendingMB)
	case c.ArchiveQuotaMB <= 0:
		return fmt.Errorf("archive: -archive_quota_mb=%d: must be > 0", c.ArchiveQuotaMB)
	case c.ConnIdleTimeout <= 0:
		return fmt.Errorf("archive: -archive_conn_idle=%v: must be > 0", c.ConnIdleTimeout)
	case c.Linger <= 0:
		return fmt.Errorf("archive: Linger=%v: must be > 0 (set it to -transfer_interval plus a margin)", c.Linger)
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

// partMax is the size one file of a connection may reach.
func (c *Config) partMax() int64 {
	return int64(c.MaxLogSizeMB) * mib / int64(c.MaxRotations)
}

const mib = 1 << 20
