package archive

import "flag"

// DefaultRingMB is -archive_ring_mb's default. The flight recorder is
// used only with -archive_dir and without -log_packets, so main passes
// it on (as RingMB) only then; DefaultConfig leaves the ring off.
const DefaultRingMB = 64

// RegisterFlags defines the evidence flags on fs, with their defaults,
// writing straight into c. LogDir is not among them: -l also holds the
// alert record, so main owns that flag and sets LogDir from it.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.ArchiveDir, "archive_dir", "", "`directory` that keeps the packets of flows that raised an alert (empty: no archive)")
	fs.BoolVar(&c.LogPackets, "log_packets", false, "append every packet to a spool of pcap segments with indexes in -l; alerted flows' connections are cut into -archive_dir; see 'wherefore extract -h'")
	fs.IntVar(&c.MaxLogSizeMB, "max_pcap_log_size", d.MaxLogSizeMB, "size in `MB` of an archived connection's pcaps, all rotations together (the newest packets kept)")
	fs.IntVar(&c.MaxRotations, "max_pcap_rotations", d.MaxRotations, "number of files an archived connection's pcaps are split into at most")
	fs.IntVar(&c.SegmentMB, "archive_segment_mb", d.SegmentMB, "with -log_packets: size in `MB` at which a spool segment in -l is sealed (its index written beside it) and the next begun")
	fs.IntVar(&c.IndexMB, "archive_index_mb", d.IndexMB, "with -log_packets: memory in `MB` for the current segment's index; a segment whose index reaches it is sealed early (counted)")
	fs.IntVar(&c.LogDirQuotaMB, "archive_log_quota_mb", d.LogDirQuotaMB, "disk quota in `MB` for the packet spool in -l (oldest segments deleted first)")
	fs.IntVar(&c.ArchiveQuotaMB, "archive_quota_mb", d.ArchiveQuotaMB, "disk quota in `MB` for -archive_dir (oldest alert folders deleted first)")
	fs.IntVar(&c.RingMB, "archive_ring_mb", DefaultRingMB, "flight recorder: memory in `MB` for the recent packets of every flow, archived with its alert (used with -archive_dir and without -log_packets; 0: off)")
	fs.IntVar(&c.RingFlowMB, "archive_ring_flow_mb", d.RingFlowMB, "flight recorder: most `MB` of recent packets kept per flow")
	fs.IntVar(&c.QueueSize, "archive_queue", d.QueueSize, "batches of packets waiting for the evidence writer; beyond it live packets are dropped from the evidence (counted), never from capture")
}
