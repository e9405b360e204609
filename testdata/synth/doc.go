// Package synth writes deterministic synthetic packet captures for testing
// and demonstrating wherefore: background traffic of many hosts, steady heavy
// flows, a labelled exfiltration, and large captures for benchmarks.
//
// A background scenario can also carry Plants: labelled attacks (uploads,
// surges, ramps, scans, fan-out, floods, brute force, tunnels, beacons),
// benign events that must not alert (a big download, a nightly backup) and
// background shapes (software updates, video calls, P2P, busy servers,
// keep-alives). Suite is the evaluation suite built from them, split into
// a tuning and a held-out set; Summary.Attacks holds the labels.
//
// A Scenario says what traffic to make (constructors Demo, Steady, Exfil,
// Bench and Many give the standard ones; their fields can be adjusted), and
// Write writes it as pcap or pcapng with one of several link types. The same
// scenario and options always give the same bytes, on any platform.
//
// Packets are built from header templates serialised once with
// gopacket/layers and patched in place (addresses, lengths, sequence
// numbers, checksums), with zero payloads, so millions of packets take
// seconds. Labels report, for each planted anomaly, the exact bytes on the
// wire (original lengths) of its pair in its interval, so tests can compare
// a detector's figures exactly; ReadTally recounts any capture by decoding it.
package synth
