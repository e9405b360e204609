// Package archive keeps the packets behind alerts. It reads as one path:
// tap → spool → index → cut.
//
// # Tap
//
// Recorder.Tap runs on the capture goroutine. It copies each packet, as a
// ready pcap record (header and data), into a batch arena and hands full
// batches to the writer goroutine; it never touches a file and allocates
// nothing. Live, when every batch is queued it drops the packet and counts
// it; reading a file (Config.Block) it waits, so the evidence is whole.
//
// # Spool (-log_packets)
//
// The writer appends each batch's records to the current segment in -l
// with one write:
//
//	seg-000000000041.pcap  a complete pcap: header, whole records, original times and lengths
//	seg-000000000041.idx   its index, written when the segment is sealed
//
// A segment is sealed at SegmentMB, or when its index reaches IndexMB of
// memory; the oldest segments are deleted to keep -l under LogDirQuotaMB. A
// failed write is counted lost and the segment cut back to its last whole
// record; a segment that cannot be created is retried a second later. At
// start, segments an earlier run left are taken over: a record cut by a
// crash is trimmed and a missing index rebuilt by scanning. Nothing there
// fails the start.
//
// # Index
//
// Each segment's index lists, per connection (TCP/UDP 5-tuple both ways,
// other protocols per address pair), its first and last packet time and the
// offset and length of each of its records, grouped per connection, and
// hashes every address to its connections, so a cut or an extract about a
// few addresses reads a few small pieces of it.
//
// # Cut
//
// Archive cuts an alerted pair's connections out of the spool into
// <archive_dir>/<alert time>_<src>_<dst>/, one pcap per connection, split at
// MaxLogSizeMB/MaxRotations into at most MaxRotations files, newest packets
// kept, with alert.json; ArchiveHost does the same for every connection of
// one address. Conns narrows either to one protocol's connections (a
// tunnel's). Extract writes a pcap of the records that match a BPF
// expression within a time range, reading only the named addresses'
// records through the indexes when it can.
//
// # Flight recorder
//
// Without -log_packets, a ring of recent packets is kept in memory per
// address pair (both directions) within one global budget (RingMB) and a
// per-pair cap (RingFlowMB); the least recently active pairs give way
// first. An alert takes its pair's packets from before the end of the
// alerted interval into recent.pcap; later ones stay for a later alert.
package archive
