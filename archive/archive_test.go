package archive

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
)

// script builds interleaved conversations with increasing timestamps.
type script struct {
	t   testing.TB
	rng *rand.Rand
	ts  time.Time
	all []testPacket
}

func newScript(t testing.TB, seed uint64) *script {
	return &script{t: t, rng: rand.New(rand.NewPCG(seed, seed+1)), ts: t0}
}

func (s *script) add(c *conv, sp spec) {
	s.ts = s.ts.Add(time.Duration(1+s.rng.IntN(2000)) * time.Microsecond)
	sp.ts = s.ts
	p := build(s.t, s.rng, sp)
	if c != nil {
		c.pkts = append(c.pkts, p)
	}
	s.all = append(s.all, p)
}

// tcpConv adds a handshake and n data packets in both directions.
func (s *script) tcpConv(c *conv, cli, srv string, cp, sp uint16, n int) {
	s.add(c, spec{src: cli, dst: srv, sport: cp, dport: sp, proto: protoTCP, flags: capture.FlagSYN})
	s.add(c, spec{src: srv, dst: cli, sport: sp, dport: cp, proto: protoTCP, flags: capture.FlagSYN | capture.FlagACK})
	s.more(c, cli, srv, cp, sp, n)
}

func (s *script) more(c *conv, cli, srv string, cp, sp uint16, n int) {
	for i := 0; i < n; i++ {
		if i%3 == 2 {
			s.add(c, spec{src: srv, dst: cli, sport: sp, dport: cp, proto: protoTCP, flags: capture.FlagACK, payload: 60})
		} else {
			s.add(c, spec{src: cli, dst: srv, sport: cp, dport: sp, proto: protoTCP, flags: capture.FlagACK | capture.FlagPSH, payload: 200 + s.rng.IntN(1200)})
		}
	}
}

func (s *script) flush(r *Recorder) {
	tapAll(r, s.all)
	s.all = nil
}

// archived reads an archive's pcaps, by file name.
func archived(t *testing.T, paths []string, cfg Config) map[string][]readBack {
	t.Helper()
	out := map[string][]readBack{}
	for _, p := range paths {
		out[filepath.Base(p)] = readPcap(t, p, cfg)
	}
	return out
}

const (
	hostA = "10.0.0.5"
	hostB = "203.0.113.9"
	hostC = "198.51.100.7"
)

func TestArchiveHoldsExactlyTheAlertedFlow(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	r := mustNew(t, cfg)
	s := newScript(t, 7)

	ab := &conv{base: "tcp_10.0.0.5_40000_203.0.113.9_443"}
	ba := &conv{base: "tcp_203.0.113.9_5000_10.0.0.5_8080"} // the other direction opened it
	dns := &conv{base: "udp_10.0.0.5_5353_203.0.113.9_53"}
	other := &conv{base: "tcp_10.0.0.5_40001_198.51.100.7_443"}
	late := &conv{base: "tcp_10.0.0.5_40002_203.0.113.9_443"}

	s.tcpConv(ab, hostA, hostB, 40000, 443, 60)
	s.tcpConv(other, hostA, hostC, 40001, 443, 20)
	s.tcpConv(ba, hostB, hostA, 5000, 8080, 20)
	for i := 0; i < 5; i++ {
		s.add(dns, spec{src: hostA, dst: hostB, sport: 5353, dport: 53, proto: protoUDP, payload: 40})
		s.add(dns, spec{src: hostB, dst: hostA, sport: 53, dport: 5353, proto: protoUDP, payload: 120})
	}
	end := s.ts.Add(time.Millisecond)
	s.ts = end
	// Begins after the alerted interval: not part of this alert.
	s.tcpConv(late, hostA, hostB, 40002, 443, 5)
	s.flush(r)

	a := &alert.Alert{
		Time: end, IntervalStart: end.Add(-5 * time.Second), IntervalSeconds: 5,
		Key: hostA + "->" + hostB, Src: hostA, Dst: hostB, Bytes: 123456,
	}
	ctx := context.Background()
	paths, err := r.Archive(ctx, a)
	if err != nil {
		t.Fatalf("Archive: %v", err)
	}
	folder := filepath.Join(cfg.ArchiveDir, end.UTC().Format("20060102T150405Z")+"_10.0.0.5_203.0.113.9")
	for _, p := range paths {
		if filepath.Dir(p) != folder {
			t.Errorf("archived %s, want it in %s", p, folder)
		}
	}
	got := archived(t, paths, cfg)
	if len(got) != 3 {
		t.Fatalf("archived %d files %v, want the 3 connections between A and B", len(got), paths)
	}
	for _, c := range []*conv{ab, ba, dns} {
		samePackets(t, c.base, got[c.base+".1.pcap"], c.pkts, false)
	}
	var rec alert.Alert
	js, err := os.ReadFile(filepath.Join(folder, alertFile))
	if err != nil {
		t.Fatalf("alert.json: %v", err)
	}
	if err := json.Unmarshal(js, &rec); err != nil {
		t.Fatalf("alert.json: %v", err)
	}
	if !slices.Equal(rec.Archive, paths) || rec.Key != a.Key || rec.Bytes != a.Bytes {
		t.Errorf("alert.json = %+v, want the alert with archive %v", rec, paths)
	}
	if a.Archive != nil {
		t.Errorf("Archive changed the caller's alert")
	}
	// Nothing of the archived connections is left in -l; the others are.
	for _, c := range []*conv{ab, ba, dns} {
		if p := partsOf(t, cfg.LogDir, c.base); len(p) != 0 {
			t.Errorf("%s still in -l: %v", c.base, p)
		}
	}

	// The transfer goes on: its later packets land in a fresh file, and a
	// repeat alert archives them (and the late connection) only.
	ab.pkts = nil
	late.pkts = nil
	s.more(ab, hostA, hostB, 40000, 443, 10)
	end2 := s.ts.Add(time.Millisecond)
	s.flush(r)
	a2 := *a
	a2.Time = end2
	paths2, err := r.Archive(ctx, &a2)
	if err != nil {
		t.Fatalf("second Archive: %v", err)
	}
	got = archived(t, paths2, cfg)
	if len(got) != 2 {
		t.Fatalf("second archive: %v, want the new part of %s and %s", paths2, ab.base, late.base)
	}
	samePackets(t, "second archive", got[ab.base+".2.pcap"], ab.pkts, false)
	if len(got[late.base+".1.pcap"]) != 7 {
		t.Errorf("second archive: %d packets of %s, want 7", len(got[late.base+".1.pcap"]), late.base)
	}
	if filepath.Dir(paths2[0]) == folder {
		t.Errorf("second alert reused the first folder")
	}
	st := r.Stats()
	if st.Archives != 2 || st.ArchivedFiles != 5 {
		t.Errorf("stats: %d archives, %d files; want 2 and 5", st.Archives, st.ArchivedFiles)
	}

	// An alert for a flow with nothing recorded stores nothing.
	none := alert.Alert{Time: end2, Key: "192.0.2.1->192.0.2.2", Src: "192.0.2.1", Dst: "192.0.2.2"}
	if p, err := r.Archive(ctx, &none); err != nil || len(p) != 0 {
		t.Errorf("Archive of an unrecorded flow = %v, %v; want nothing", p, err)
	}
	if ents, _ := os.ReadDir(cfg.ArchiveDir); len(ents) != 2 {
		t.Errorf("archive dir holds %d entries, want the 2 alert folders", len(ents))
	}
	// The connection no alert claimed is still whole; Close writes it out.
	closeRecorder(t, r)
	if p := partsOf(t, cfg.LogDir, other.base); len(p) != 1 {
		t.Errorf("%s: %v in -l, want one file", other.base, p)
	} else {
		samePackets(t, other.base, readPcap(t, p[0], cfg), other.pkts, false)
	}
}

func TestEndedConnectionsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.ConnIdleTimeout = time.Second
	r := mustNew(t, cfg)
	s := newScript(t, 9)

	// Closed by FIN from both sides (then a late ACK).
	s.tcpConv(nil, hostA, hostB, 41000, 80, 5)
	s.add(nil, spec{src: hostA, dst: hostB, sport: 41000, dport: 80, proto: protoTCP, flags: capture.FlagFIN | capture.FlagACK})
	s.add(nil, spec{src: hostB, dst: hostA, sport: 80, dport: 41000, proto: protoTCP, flags: capture.FlagFIN | capture.FlagACK})
	s.add(nil, spec{src: hostA, dst: hostB, sport: 41000, dport: 80, proto: protoTCP, flags: capture.FlagACK})
	// Reset.
	s.tcpConv(nil, hostA, hostC, 41001, 80, 3)
	s.add(nil, spec{src: hostC, dst: hostA, sport: 80, dport: 41001, proto: protoTCP, flags: capture.FlagRST})
	// Idle UDP, then a packet two seconds later ends it by packet time.
	s.add(nil, spec{src: hostA, dst: hostC, sport: 5000, dport: 53, proto: protoUDP, payload: 30})
	s.ts = s.ts.Add(2 * time.Second)
	s.add(nil, spec{src: hostB, dst: hostC, proto: 1, payload: 56})
	tapped := len(s.all)
	s.flush(r)

	eventually(t, "connections to end and -l to empty", func() bool {
		ents := logEntries(t, cfg.LogDir)
		st := r.Stats()
		return len(ents) == 0 && st.ConnectionsEnded == 4 && st.Connections == 0
	})
	st := r.Stats()
	// Short connections that end unclaimed never reach the disk.
	if st.ConnectionsEnded != 4 || st.FilesCreated != 0 || st.Connections != 0 {
		t.Errorf("stats: %d ended, %d files created, %d tracked; want 4, 0, 0", st.ConnectionsEnded, st.FilesCreated, st.Connections)
	}
	if st.PacketsDiscarded != uint64(tapped) || st.PacketsWritten != 0 || st.PendingBytes != 0 {
		t.Errorf("stats: %d discarded, %d written, %d bytes pending; want %d, 0, 0", st.PacketsDiscarded, st.PacketsWritten, st.PendingBytes, tapped)
	}
	if ents, _ := os.ReadDir(cfg.ArchiveDir); len(ents) != 0 {
		t.Errorf("archive dir not empty: %v", ents)
	}
}

// An alert raised at the end of the interval a connection ended in still
// finds its files while they linger.
func TestArchiveClaimsLingeringConnection(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Linger = time.Minute
	r := mustNew(t, cfg)
	s := newScript(t, 11)
	c := &conv{base: "tcp_10.0.0.5_42000_203.0.113.9_443"}
	s.tcpConv(c, hostA, hostB, 42000, 443, 10)
	s.add(c, spec{src: hostB, dst: hostA, sport: 443, dport: 42000, proto: protoTCP, flags: capture.FlagRST})
	s.flush(r)
	paths, err := r.Archive(context.Background(), &alert.Alert{Time: s.ts.Add(time.Second), Key: "k", Src: hostA, Dst: hostB})
	if err != nil || len(paths) != 1 {
		t.Fatalf("Archive = %v, %v; want the ended connection's file", paths, err)
	}
	samePackets(t, c.base, readPcap(t, paths[0], cfg), c.pkts, false)
}

func TestUnusableArchiveDirDoesNotStopCapture(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	if os.Geteuid() == 0 {
		// chmod does not stop root: put the archive under a regular file.
		blocker := filepath.Join(dir, "not-a-dir")
		if err := os.WriteFile(blocker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.ArchiveDir = filepath.Join(blocker, "archive")
	} else {
		if err := os.MkdirAll(cfg.ArchiveDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(cfg.ArchiveDir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(cfg.ArchiveDir, 0o700) })
	}
	r := mustNew(t, cfg)
	s := newScript(t, 13)
	c := &conv{base: "tcp_10.0.0.5_43000_203.0.113.9_443"}
	s.tcpConv(c, hostA, hostB, 43000, 443, 20)
	s.flush(r)
	if _, err := r.Archive(context.Background(), &alert.Alert{Time: s.ts, Key: "k", Src: hostA, Dst: hostB}); err == nil {
		t.Fatal("Archive into an unusable directory succeeded")
	}
	s.more(c, hostA, hostB, 43000, 443, 20)
	s.flush(r)
	closeRecorder(t, r)
	st := r.Stats()
	if st.Errors["mkdir"] == 0 {
		t.Errorf("no mkdir error counted: %v", st.Errors)
	}
	if st.PacketsWritten != uint64(len(c.pkts)) {
		t.Errorf("%d packets written, want %d: capture must go on", st.PacketsWritten, len(c.pkts))
	}
	parts := partsOf(t, cfg.LogDir, c.base)
	if len(parts) != 1 {
		t.Fatalf("-l holds %v, want the connection's file", parts)
	}
	samePackets(t, c.base, readPcap(t, parts[0], cfg), c.pkts, false)
}

func TestLogDirQuota(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.LogDirQuotaMB = 1
	cfg.MaxLogSizeMB = 1
	cfg.MaxRotations = 8
	r := mustNew(t, cfg)
	s := newScript(t, 17)
	// Five connections of about 400 KB each: 2 MB into a 1 MB -l.
	for i := 0; i < 5; i++ {
		s.tcpConv(nil, hostA, hostB, uint16(44000+i), 443, 600)
	}
	s.flush(r)
	closeRecorder(t, r)
	if st := r.Stats(); st.QuotaDeletions == 0 || st.LogDirBytes > mib {
		t.Errorf("stats: %d quota deletions, %d bytes in -l; want > 0 and <= %d", st.QuotaDeletions, st.LogDirBytes, mib)
	}
	if n := tree(t, cfg.LogDir); n > mib {
		t.Errorf("-l holds %d bytes on disk, quota %d", n, mib)
	}
	for _, p := range pcapFiles(t, cfg.LogDir) {
		readPcap(t, p, cfg)
	}
}

func TestArchiveQuota(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.ArchiveQuotaMB = 1
	cfg.MaxLogSizeMB = 2
	cfg.MaxRotations = 8
	r := mustNew(t, cfg)
	s := newScript(t, 19)
	servers := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}
	for _, srv := range servers {
		s.tcpConv(nil, hostA, srv, 44000, 443, 600)
	}
	s.flush(r)
	var folders []string
	for _, srv := range servers {
		paths, err := r.Archive(context.Background(), &alert.Alert{Time: s.ts, Key: "k", Src: hostA, Dst: srv})
		if err != nil || len(paths) == 0 {
			t.Fatalf("Archive %s = %v, %v", srv, paths, err)
		}
		folders = append(folders, filepath.Dir(paths[0]))
		for _, p := range paths {
			readPcap(t, p, cfg)
		}
	}
	st := r.Stats()
	if st.ArchiveQuotaDeletions == 0 || st.ArchiveBytes > mib {
		t.Errorf("stats: %d folders deleted, %d bytes archived; want > 0 and <= %d", st.ArchiveQuotaDeletions, st.ArchiveBytes, mib)
	}
	if _, err := os.Stat(folders[0]); err == nil {
		t.Errorf("oldest alert folder %s survived the quota", folders[0])
	}
	if _, err := os.Stat(folders[len(folders)-1]); err != nil {
		t.Errorf("newest alert folder is gone: %v", err)
	}
	if n := tree(t, cfg.ArchiveDir); n > mib {
		t.Errorf("-archive_dir holds %d bytes on disk, quota %d", n, mib)
	}
	// A new recorder counts the folders already there against the quota.
	closeRecorder(t, r)
	r2 := mustNew(t, cfg)
	if got := r2.Stats().ArchiveBytes; got != tree(t, cfg.ArchiveDir) {
		t.Errorf("restart counts %d bytes in -archive_dir, disk holds %d", got, tree(t, cfg.ArchiveDir))
	}
}

func tree(t *testing.T, dir string) int64 {
	t.Helper()
	return dirSize(dir)
}

func TestLeftoversFromACrash(t *testing.T) {
	for _, keep := range []bool{false, true} {
		name := "delete"
		if keep {
			name = "keep"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.KeepLeftovers = keep
			if err := os.MkdirAll(cfg.LogDir, 0o750); err != nil {
				t.Fatal(err)
			}
			// A file as a SIGKILL leaves it: three whole records and the
			// first bytes of a fourth.
			rng := rand.New(rand.NewPCG(5, 6))
			h := fileHeader{snaplen: uint32(cfg.snaplen()), linkType: cfg.LinkType}
			b := h.appendHeader(nil)
			var pkts []testPacket
			for i := 0; i < 4; i++ {
				p := build(t, rng, spec{src: hostA, dst: hostB, sport: 1000, dport: 80, proto: protoTCP, flags: capture.FlagACK, payload: 300, ts: t0.Add(time.Duration(i) * time.Second)})
				pkts = append(pkts, p)
				b = h.appendRecord(b, p.ci.Timestamp.UnixNano(), p.data, uint32(p.ci.Length))
			}
			b = b[:len(b)-100]
			cut := filepath.Join(cfg.LogDir, "tcp_10.0.0.5_1000_203.0.113.9_80.1.pcap")
			garbage := filepath.Join(cfg.LogDir, "udp_10.0.0.5_1_10.0.0.6_2.1.pcap")
			mine := filepath.Join(cfg.LogDir, "notes.txt")
			for p, data := range map[string][]byte{cut: b, garbage: []byte("short"), mine: []byte("keep me")} {
				if err := os.WriteFile(p, data, 0o640); err != nil {
					t.Fatal(err)
				}
			}
			r := mustNew(t, cfg)
			if n := r.Stats().Leftovers; n != 2 {
				t.Errorf("%d leftovers counted, want 2", n)
			}
			if got := logEntries(t, cfg.LogDir); len(got) != 1 || got[0] != "notes.txt" {
				t.Errorf("-l holds %v after the start, want only notes.txt", got)
			}
			// Deleted leftovers become spares, header only (logEntries
			// checks), unless they were archived.
			spares, _ := os.ReadDir(filepath.Join(cfg.LogDir, spareDirName))
			if want := map[bool]int{false: 2, true: 1}[keep]; len(spares) != want {
				t.Errorf("%d spares, want %d", len(spares), want)
			}
			if _, err := os.Stat(mine); err != nil {
				t.Errorf("a file that is not ours was touched: %v", err)
			}
			moved := pcapFiles(t, cfg.ArchiveDir)
			if !keep {
				if len(moved) != 0 {
					t.Errorf("leftovers archived without -archive_keep_leftovers: %v", moved)
				}
				return
			}
			if len(moved) != 1 || !strings.HasSuffix(filepath.Dir(moved[0]), "_leftover") {
				t.Fatalf("archive holds %v, want the repaired file in a leftover folder", moved)
			}
			samePackets(t, "repaired leftover", readPcap(t, moved[0], cfg), pkts[:3], false)
			tcpdumpTimes(t, moved[0], false)
		})
	}
}
