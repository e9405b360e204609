// Package archive keeps the packets of tracked connections as pcap files and
// moves the evidence of alerted flows to an archive directory.
//
// # Per-connection logging (-log_packets)
//
// A connection is a 5-tuple for TCP and UDP and a protocol and address pair
// otherwise; both directions share one set of files in -l:
//
//	<proto>_<addrA>_<portA>_<addrB>_<portB>.<part>.pcap
//	tcp_10.0.1.23_51234_203.0.113.77_443.1.pcap
//	udp_2001-db8--5_53_2001-db8--9_41000.3.pcap
//	icmp_10.0.0.1_10.0.0.2.1.pcap
//
// The client comes first when a SYN shows it, else the sender of the first
// packet seen. IPv6 colons become '-' and a zone's '%' becomes 's', so the
// names are valid on every common file system; '_' only separates fields.
// Parts count up from 1 and are never renamed. A connection's log is at most
// -max_pcap_log_size MB in -max_pcap_rotations files: a part is closed
// before a record would take it past size/rotations bytes (a part always
// takes one record, so only a single record larger than that can exceed
// it), and when a new part makes one too many the oldest is deleted. Every
// part is a complete pcap: global header with the capture's link type and
// snaplen, whole records, original timestamps (nanosecond when the capture
// has them) and original lengths.
//
// A connection ends on a TCP RST, on FIN from both sides, or after
// ConnIdleTimeout without packets, measured in packet time so a capture file
// gives the same result as the live link. Its files then wait out Linger, in
// packet time and in wall time, so the alert for the interval it ended in
// can still claim them; unclaimed, they are deleted. A SYN (or, for other
// protocols, any packet) on a lingering tuple revives the connection.
//
// # Flight recorder
//
// Without -log_packets, a ring of recent packets is kept in memory per
// address pair (both directions) within one global budget (RingMB) and a
// per-pair cap (RingFlowMB); the least recently active pairs give way first.
//
// # Archive
//
// Archive moves a flow's evidence to
//
//	<archive_dir>/<alert time, UTC, 20061122T100005Z>_<src>_<dst>/
//
// with the connection files under their -l names, recent.pcap for the
// flight recorder, and alert.json.
//
// # Start and stop
//
// A connection's newest records wait in memory (PendingMB in all, an
// eighth of it for records on their way to the disk; when it is spent, the
// buffer with the most bytes times age is written first) until its part is
// full, it is archived, or Close: a short connection that ends with no
// alert never costs a file. A crash loses what was waiting. The file
// system calls run on a goroutine of their own, beside the bookkeeping.
//
// Close writes what is waiting, closes every file, each a valid pcap, and
// deletes the files and waiting records of ended connections. Part files found in -l at start (left by a
// crash, which can cut at most the last record, or by live connections at
// the last stop) are deleted (the first become header-only spares), or
// with KeepLeftovers repaired and moved to
// <archive_dir>/<start time>_leftover/. A start never fails over them.
//
// # Spare files
//
// A part that is deleted (rotated out, over the quota, or of a connection
// that ended unclaimed) is cut back to its 24-byte header and kept in
// -l/.spare/, up to 1024 of them; a new part takes a spare before it
// creates a file. Churning through inodes is what costs a file system most
// when connections come and go by the thousand. Spares hold no packets;
// the next start takes over the ones a run leaves.
//
// # Bounds
//
// The writer holds at most MaxOpenFiles descriptors (least recently written
// closed first, reopened in append mode) and tracks at most MaxConnections
// connections (least recently active dropped with its files). -l is held
// under LogDirQuotaMB and -archive_dir under ArchiveQuotaMB, oldest files
// (or alert folders) deleted first. On a live link Tap never blocks: when
// the writer falls behind, packets are dropped and counted. Reading a
// capture file (Config.Block), Tap waits for the writer instead, so the
// logs hold every packet. Failed file operations are
// counted and logged at most once per kind every 10 seconds.
package archive
