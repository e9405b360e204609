package archive

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
)

// pairTraffic is two TCP connections between A and B (both directions),
// one UDP exchange between them, and noise between other hosts, before
// and after the alert time.
func pairTraffic(t *testing.T, n, payload int) (f *traffic, alertAt time.Time) {
	f = newTraffic(t, 11)
	for i := range n {
		switch i % 5 {
		case 0:
			f.add(spec{src: hostA, dst: hostB, sport: 40001, dport: 443, proto: protoTCP, flags: capture.FlagACK, payload: payload})
		case 1:
			f.add(spec{src: hostB, dst: hostA, sport: 443, dport: 40001, proto: protoTCP, flags: capture.FlagACK, payload: payload / 4})
		case 2:
			f.add(spec{src: hostA, dst: hostB, sport: 40002, dport: 443, proto: protoTCP, flags: capture.FlagACK, payload: payload})
		case 3:
			f.add(spec{src: hostB, dst: hostA, sport: 53, dport: 5353, proto: protoUDP, payload: 80})
		case 4:
			f.add(spec{src: hostA, dst: hostC, sport: 40003, dport: 443, proto: protoTCP, flags: capture.FlagACK, payload: payload})
		}
		if i == n*3/4 {
			alertAt = f.ts.Add(time.Microsecond)
		}
	}
	return f, alertAt
}

// byConn groups the packets of the A-B pair before until by connection
// file name (A first).
func byConn(f *traffic, since, until time.Time) map[string][]testPacket {
	out := map[string][]testPacket{}
	pair := makePair(mustAddr(hostA), mustAddr(hostB))
	for _, p := range f.all {
		if makePair(p.rec.Src, p.rec.Dst) != pair || p.ci.Timestamp.Before(since) || !p.ci.Timestamp.Before(until) {
			continue
		}
		k := makeConnKey(&p.rec)
		a, pa, b, pb := k.a, k.pa, k.b, k.pb
		if b == mustAddr(hostA) {
			a, pa, b, pb = b, pb, a, pa
		}
		base := baseName(k.proto, a, pa, b, pb)
		out[base] = append(out[base], p)
	}
	return out
}

// readArchive groups an archive's pcaps by connection, parts in order.
func readArchive(t *testing.T, paths []string, cfg Config) map[string][]readBack {
	t.Helper()
	out := map[string][]readBack{}
	for _, p := range paths { // sorted: part 1 before 2 ... up to 9
		name := filepath.Base(p)
		base := strings.TrimSuffix(name, ".pcap")
		base = base[:strings.LastIndexByte(base, '.')]
		info, _ := os.Stat(p)
		if info.Size() > cfg.partMax() {
			t.Errorf("%s: %d bytes, over %d per file", name, info.Size(), cfg.partMax())
		}
		out[base] = append(out[base], readPcap(t, p, cfg)...)
		if ts := tcpdumpTimes(t, p, false); len(ts) != len(readPcap(t, p, cfg)) {
			t.Errorf("%s: tcpdump reads %d packets", name, len(ts))
		}
	}
	return out
}

// An alert archives exactly the alerted pair's connections, one set of
// files per connection, with the packets before the alert time; a repeat
// alert archives only what came since.
func TestArchiveCutsTheAlertedConnections(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SegmentMB = 1 // the connections span segments
	cfg.MaxLogSizeMB = 8
	cfg.Block = true
	r := mustNew(t, cfg)
	f, at := pairTraffic(t, 6000, 400)
	tapAll(r, f.all)
	a := &alert.Alert{Time: at, Key: hostA + "->" + hostB, Src: hostA, Dst: hostB}
	paths, err := r.Archive(context.Background(), a, AllConns)
	if err != nil {
		t.Fatal(err)
	}
	if len(segments(t, cfg.LogDir)) < 2 {
		t.Fatalf("want the spool to span segments")
	}
	want := byConn(f, time.Time{}, at)
	got := readArchive(t, paths, cfg)
	if len(got) != len(want) || len(want) != 3 {
		t.Fatalf("archived connections %d, want %d (3)", len(got), len(want))
	}
	for base, pkts := range want {
		samePackets(t, base, got[base], pkts, false)
	}
	js, err := os.ReadFile(filepath.Join(filepath.Dir(paths[0]), alertFile))
	if err != nil || !strings.Contains(string(js), filepath.Base(paths[0])) {
		t.Errorf("alert.json missing or without the archive paths: %v", err)
	}
	// A repeat alert of the flow, later: only what came since the first.
	a2 := &alert.Alert{Time: f.ts.Add(time.Second), Key: a.Key, Src: hostA, Dst: hostB}
	paths2, err := r.Archive(context.Background(), a2, AllConns)
	if err != nil {
		t.Fatal(err)
	}
	got2 := readArchive(t, paths2, cfg)
	for base, pkts := range byConn(f, at, a2.Time) {
		samePackets(t, "repeat "+base, got2[base], pkts, false)
	}
	if st := r.Stats(); st.Archives != 2 || st.ArchivesFailed != 0 {
		t.Errorf("stats: %d archives, %d failed", st.Archives, st.ArchivesFailed)
	}
}

// A connection larger than -max_pcap_log_size is split into files of
// size/rotations, at most rotations of them, and the newest packets kept.
func TestArchiveRotationKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxLogSizeMB = 1
	cfg.MaxRotations = 4
	cfg.Block = true
	r := mustNew(t, cfg)
	f := newTraffic(t, 12)
	var conn []testPacket
	for range 2500 { // about 3 MB
		conn = append(conn, f.add(spec{src: hostA, dst: hostB, sport: 40001, dport: 443, proto: protoTCP, flags: capture.FlagACK, payload: 1200}))
	}
	tapAll(r, f.all)
	paths, err := r.Archive(context.Background(), &alert.Alert{Time: f.ts.Add(time.Second), Key: "k", Src: hostA, Dst: hostB}, AllConns)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != cfg.MaxRotations {
		t.Fatalf("%d files, want %d", len(paths), cfg.MaxRotations)
	}
	got := readArchive(t, paths, cfg)["tcp_10.0.0.5_40001_203.0.113.9_443"]
	// The newest packets, all of the last one included; the cut falls on a
	// record boundary within one file's size of the limit.
	samePackets(t, "newest", got, conn[len(conn)-len(got):], false)
	if kept := int64(len(got)) * recordLen(len(conn[0].data)); kept < mib-cfg.partMax() {
		t.Errorf("kept %d bytes, want about %d", kept, mib)
	}
	if r.Stats().RotationDrops == 0 {
		t.Errorf("older packets left out but not counted")
	}
}

// A scan or fan-in alert archives every connection of its address.
func TestArchiveHost(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Block = true
	r := mustNew(t, cfg)
	f, _ := pairTraffic(t, 1000, 100)
	tapAll(r, f.all)
	paths, err := r.ArchiveHost(context.Background(), &alert.Alert{Time: f.ts.Add(time.Second), Key: hostC}, mustAddr(hostC), AllConns)
	if err != nil || len(paths) != 1 {
		t.Fatalf("ArchiveHost: %v, %v; want one connection's file", paths, err)
	}
	if !strings.Contains(paths[0], "_"+hostC+"_all/tcp_"+hostC+"_443_"+hostA+"_40003.1.pcap") {
		t.Errorf("file %s: want the host first, in <time>_%s_all", paths[0], hostC)
	}
	var want []testPacket
	for _, p := range f.all {
		if p.rec.Dst == mustAddr(hostC) || p.rec.Src == mustAddr(hostC) {
			want = append(want, p)
		}
	}
	samePackets(t, "host", readPcap(t, paths[0], cfg), want, false)
}

// A tunnel alert about one address archives only that protocol's
// connections of the address: DNS is TCP or UDP port 53, ICMP is ICMP.
func TestArchiveHostNarrowedToTunnelProtocol(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Block = true
	r := mustNew(t, cfg)
	f, _ := pairTraffic(t, 1000, 100)
	tapAll(r, f.all)
	at := f.ts.Add(time.Second)
	paths, err := r.ArchiveHost(context.Background(), &alert.Alert{Time: at, Key: hostA}, mustAddr(hostA), DNSConns)
	if err != nil || len(paths) != 1 {
		t.Fatalf("ArchiveHost DNS: %v, %v; want the one DNS exchange's file", paths, err)
	}
	if !strings.Contains(paths[0], "_"+hostA+"_dns/udp_"+hostA+"_5353_"+hostB+"_53.1.pcap") {
		t.Errorf("file %s: want the DNS exchange, in <time>_%s_dns", paths[0], hostA)
	}
	var want []testPacket
	for _, p := range f.all {
		if p.rec.Proto == protoUDP && (p.rec.SrcPort == 53 || p.rec.DstPort == 53) {
			want = append(want, p)
		}
	}
	samePackets(t, "dns", readPcap(t, paths[0], cfg), want, false)

	// No ICMP in the traffic: nothing to archive, and no folder left.
	paths, err = r.ArchiveHost(context.Background(), &alert.Alert{Time: at.Add(time.Second), Key: hostA}, mustAddr(hostA), ICMPConns)
	if err != nil || len(paths) != 0 {
		t.Fatalf("ArchiveHost ICMP: %v, %v; want nothing", paths, err)
	}
	ents, _ := filepath.Glob(filepath.Join(cfg.ArchiveDir, "*_icmp"))
	if len(ents) != 0 {
		t.Errorf("empty ICMP archive left folders %v", ents)
	}
}

// The flight recorder archives the pair's packets from before the alert
// time only, the same on every run; later packets stay for a later alert.
func TestFlightRecorderEndsWithTheAlertedInterval(t *testing.T) {
	var counts []int
	for run := range 3 {
		dir := t.TempDir()
		cfg := testConfig(dir)
		cfg.LogPackets = false
		cfg.RingMB = 8
		cfg.RingFlowMB = 4
		cfg.Block = true
		r := mustNew(t, cfg)
		f, at := pairTraffic(t, 4000, 200)
		tapAll(r, f.all)
		paths, err := r.Archive(context.Background(), &alert.Alert{Time: at, Key: "k", Src: hostA, Dst: hostB}, AllConns)
		if err != nil || len(paths) != 1 || filepath.Base(paths[0]) != recentFile {
			t.Fatalf("run %d: %v, %v", run, paths, err)
		}
		var want []testPacket
		pair := makePair(mustAddr(hostA), mustAddr(hostB))
		for _, p := range f.all {
			if makePair(p.rec.Src, p.rec.Dst) == pair && p.ci.Timestamp.Before(at) {
				want = append(want, p)
			}
		}
		got := readPcap(t, paths[0], cfg)
		samePackets(t, "recent.pcap", got, want, false)
		counts = append(counts, len(got))
		// The rest comes with the next alert.
		paths, err = r.Archive(context.Background(), &alert.Alert{Time: f.ts.Add(time.Second), Key: "k", Src: hostA, Dst: hostB}, AllConns)
		if err != nil || len(paths) != 1 {
			t.Fatalf("second archive: %v, %v", paths, err)
		}
		if n := len(readPcap(t, paths[0], cfg)); n == 0 {
			t.Errorf("packets after the first alert were not kept for the second")
		}
	}
	if counts[0] != counts[1] || counts[1] != counts[2] {
		t.Errorf("recent.pcap held %v packets over three runs", counts)
	}
}

// Evidence that cannot be stored because -archive_dir is unusable is
// counted: the alert in ArchivesFailed, its packets in PacketsLost.
func TestUnusableArchiveDirIsCounted(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Block = true
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o640)
	cfg.ArchiveDir = filepath.Join(blocker, "archive")
	r := mustNew(t, cfg)
	f, at := pairTraffic(t, 500, 100)
	tapAll(r, f.all)
	if _, err := r.Archive(context.Background(), &alert.Alert{Time: at, Key: "k", Src: hostA, Dst: hostB}, AllConns); err == nil {
		t.Fatal("archive into a path below a file succeeded")
	}
	var want uint64
	for _, pkts := range byConn(f, time.Time{}, at) {
		want += uint64(len(pkts))
	}
	st := r.Stats()
	if st.ArchivesFailed != 1 || st.PacketsLost != want || st.Archives != 0 {
		t.Errorf("stats: %d failed, %d lost, %d archives; want 1, %d, 0", st.ArchivesFailed, st.PacketsLost, st.Archives, want)
	}
}

func TestArchiveAfterClose(t *testing.T) {
	r := mustNew(t, testConfig(t.TempDir()))
	closeRecorder(t, r)
	if err := r.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.Archive(context.Background(), &alert.Alert{Src: hostA, Dst: hostB}, AllConns); err != ErrClosed {
		t.Errorf("Archive after Close = %v, want ErrClosed", err)
	}
}
