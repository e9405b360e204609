package archive

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
)

// floodTemplate returns a packet whose record the caller rewrites for each
// spoofed connection; the recorder never parses the bytes.
func floodTemplate(t testing.TB, flags uint8) testPacket {
	return build(t, rand.New(rand.NewPCG(1, 1)), spec{src: "10.0.0.1", dst: hostB, sport: 1, dport: 80, proto: protoTCP, flags: flags, ts: t0})
}

func spoofed(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func TestFloodOfShortConnectionsStaysUnderFileCap(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd to count descriptors")
	}
	const conns = 100_000
	dir := fastTempDir(t)
	cfg := testConfig(dir)
	cfg.MaxOpenFiles = 32
	cfg.MaxConnections = 2000
	cfg.Linger = 20 * time.Millisecond
	// A small pending budget, so the flood does reach the disk.
	cfg.PendingMB = 1
	base := openFDs()
	r := mustNew(t, cfg)

	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := int64(openFDs()); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	})

	syn, rst := floodTemplate(t, capture.FlagSYN), floodTemplate(t, capture.FlagRST|capture.FlagACK)
	dst := netip.MustParseAddr(hostB)
	// Most connections are reset at once; every tenth stays open while the
	// next 400 start, so the writer has more live files than descriptors.
	const window = 400
	ts := t0
	reset := func(j int) {
		rst.ci.Timestamp = ts
		rst.rec = capture.Record{Src: dst, Dst: spoofed(j), SrcPort: 80, DstPort: uint16(1024 + j%60000), Proto: protoTCP, TCPFlags: capture.FlagRST | capture.FlagACK}
		tapAll(r, []testPacket{rst})
	}
	for i := 0; i < conns+window; i++ {
		ts = ts.Add(10 * time.Microsecond)
		if i < conns {
			syn.ci.Timestamp = ts
			syn.rec = capture.Record{Src: spoofed(i), Dst: dst, SrcPort: uint16(1024 + i%60000), DstPort: 80, Proto: protoTCP, TCPFlags: capture.FlagSYN}
			tapAll(r, []testPacket{syn})
			if i%10 != 0 {
				reset(i)
			}
		}
		if j := i - window; j >= 0 && j%10 == 0 {
			reset(j)
		}
	}
	eventually(t, "every connection to end and -l to empty", func() bool {
		st := r.Stats()
		ents := logEntries(t, cfg.LogDir)
		return st.Connections == 0 && len(ents) == 0
	})
	close(stop)
	wg.Wait()

	st := r.Stats()
	if st.MaxFilesOpen > cfg.MaxOpenFiles {
		t.Errorf("writer held %d files open, cap %d", st.MaxFilesOpen, cfg.MaxOpenFiles)
	}
	// One descriptor of slack: the directory read that counts them.
	if p := int(peak.Load()); p > base+cfg.MaxOpenFiles+1 {
		t.Errorf("process peaked at %d descriptors, %d before the recorder; cap %d", p, base, cfg.MaxOpenFiles)
	}
	if st.PacketsWritten+st.PacketsLost+st.PacketsDropped+st.PacketsDiscarded != 2*conns {
		t.Errorf("packets: %d written + %d lost + %d dropped + %d discarded != %d", st.PacketsWritten, st.PacketsLost, st.PacketsDropped, st.PacketsDiscarded, 2*conns)
	}
	if st.FilesCreated == 0 {
		t.Errorf("no file created: the test no longer exercises the descriptor cap")
	}
	if st.ConnectionsEnded+st.ConnectionsEvicted < conns {
		t.Errorf("%d connections ended and %d evicted, want %d in all", st.ConnectionsEnded, st.ConnectionsEvicted, conns)
	}
	t.Logf("peak fds %d (base %d), evicted %d, files %d, written %d, lost %d, discarded %d", peak.Load(), base, st.ConnectionsEvicted, st.FilesCreated, st.PacketsWritten, st.PacketsLost, st.PacketsDiscarded)
}

func TestConnectionCapEvictsOldest(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxConnections = 100
	cfg.Linger = time.Hour
	r := mustNew(t, cfg)
	syn := floodTemplate(t, capture.FlagSYN)
	dst := netip.MustParseAddr(hostB)
	for i := 0; i < 1000; i++ {
		syn.ci.Timestamp = t0.Add(time.Duration(i) * time.Millisecond)
		syn.rec = capture.Record{Src: spoofed(i), Dst: dst, SrcPort: 1234, DstPort: 80, Proto: protoTCP, TCPFlags: capture.FlagSYN}
		tapAll(r, []testPacket{syn})
	}
	closeRecorder(t, r)
	st := r.Stats()
	if st.Connections > 100 || st.ConnectionsEvicted != 900 {
		t.Errorf("%d tracked, %d evicted; want <= 100 and 900", st.Connections, st.ConnectionsEvicted)
	}
	if files := pcapFiles(t, cfg.LogDir); len(files) != 100 {
		t.Errorf("%d files in -l, want the 100 newest connections'", len(files))
	}
}

func TestFlightRecorder(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.LogPackets = false
	cfg.LogDir = ""
	cfg.RingMB = 1
	cfg.RingFlowMB = 1
	r := mustNew(t, cfg)
	budget := int64(cfg.RingMB) * mib

	t.Run("global budget under 100k flows", func(t *testing.T) {
		p := floodTemplate(t, capture.FlagSYN)
		dst := netip.MustParseAddr(hostB)
		for i := 0; i < 100_000; i++ {
			p.ci.Timestamp = t0.Add(time.Duration(i) * time.Microsecond)
			p.rec = capture.Record{Src: spoofed(i), Dst: dst, SrcPort: 1234, DstPort: 80, Proto: protoTCP, TCPFlags: capture.FlagSYN}
			tapAll(r, []testPacket{p})
			if i%10_000 == 0 {
				if st := r.Stats(); st.RingBytes > budget {
					t.Fatalf("ring holds %d bytes, budget %d", st.RingBytes, budget)
				}
			}
		}
		// An alert for a flow the flood pushed out finds nothing.
		eventually(t, "the writer to catch up", func() bool { return r.Stats().RingEvictions > 0 && len(r.full) == 0 })
		paths, err := r.Archive(context.Background(), &alert.Alert{Time: t0, Key: "k", Src: spoofed(0).String(), Dst: hostB})
		if err != nil || len(paths) != 0 {
			t.Errorf("Archive of an evicted flow = %v, %v; want nothing", paths, err)
		}
		st := r.Stats()
		if st.RingBytes > budget || st.RingFlows > int(budget/ringChunk) {
			t.Errorf("ring: %d bytes in %d flows; budget %d bytes", st.RingBytes, st.RingFlows, budget)
		}
	})

	t.Run("archive holds the pair's recent packets", func(t *testing.T) {
		s := newScript(t, 21)
		s.ts = t0.Add(time.Second)
		c := &conv{}
		s.tcpConv(c, hostA, hostB, 45000, 443, 3000) // about 2.5 MB: more than the pair's cap
		s.tcpConv(nil, hostA, hostC, 45001, 443, 10)
		s.flush(r)
		paths, err := r.Archive(context.Background(), &alert.Alert{Time: s.ts, Key: "k", Src: hostB, Dst: hostA})
		if err != nil || len(paths) != 1 || filepathBase(paths[0]) != recentFile {
			t.Fatalf("Archive = %v, %v; want %s", paths, err, recentFile)
		}
		got := readPcap(t, paths[0], cfg)
		tcpdumpTimes(t, paths[0], false)
		if len(got) == 0 || len(got) == len(c.pkts) {
			t.Fatalf("recent.pcap holds %d of %d packets; want the newest that fit the cap", len(got), len(c.pkts))
		}
		samePackets(t, "recent.pcap", got, c.pkts[len(c.pkts)-len(got):], false)
		if st, _ := os.Stat(paths[0]); st.Size() > int64(cfg.RingFlowMB)*mib+pcapHeaderLen {
			t.Errorf("recent.pcap is %d bytes, per-pair cap %d", st.Size(), cfg.RingFlowMB*mib)
		}
		// Taken packets are not archived twice.
		if p, err := r.Archive(context.Background(), &alert.Alert{Time: s.ts, Key: "k", Src: hostA, Dst: hostB}); err != nil || len(p) != 0 {
			t.Errorf("repeat Archive = %v, %v; want nothing new", p, err)
		}
	})
}

// fastTempDir is a temporary directory on tmpfs when there is one: creating
// and deleting 100k files costs about 400µs each on a VM's ext4 disk but
// 30µs on tmpfs, and the test is about descriptors, not disks.
func fastTempDir(t *testing.T) string {
	d, err := os.MkdirTemp("/dev/shm", "wherefore-archive-")
	if err != nil {
		t.Logf("no tmpfs (%v); using the default temporary directory", err)
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func filepathBase(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// A full file system under -l: failed writes are counted as lost and
// logged, every file left is still a valid pcap (a write cut short is
// trimmed back to its last whole record), Tap never waits, and logging
// resumes once there is room again.
func TestFullDiskKeepsFilesValid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; skipped")
	}
	dir := t.TempDir()
	cfg := testConfig(dir)
	if err := os.MkdirAll(cfg.LogDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", cfg.LogDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); skipped", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", cfg.LogDir).Run() })
	cfg.PendingMB = 1
	cfg.MaxLogSizeMB = 4
	cfg.MaxRotations = 2
	cfg.LogDirQuotaMB = 64 // larger than the disk: the disk fills first
	r := mustNew(t, cfg)
	s := newScript(t, 51)
	for i := 0; i < 6; i++ {
		s.tcpConv(nil, hostA, hostB, uint16(47000+i), 443, 800) // about 600 KB each
	}
	tapped := len(s.all)
	s.flush(r)
	eventually(t, "the writer to fail on the full disk", func() bool {
		st := r.Stats()
		return st.Errors["write"]+st.Errors["open"] > 0
	})
	// Room again: a new connection is logged whole once the writer's pause
	// after a failed create is over.
	if out, err := exec.Command("mount", "-o", "remount,size=16m", cfg.LogDir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	time.Sleep(openRetry + 100*time.Millisecond)
	late := &conv{base: "tcp_10.0.0.5_47100_203.0.113.9_443"}
	s.tcpConv(late, hostA, hostB, 47100, 443, 50)
	tapped += len(s.all)
	s.flush(r)
	closeRecorder(t, r)
	if parts := partsOf(t, cfg.LogDir, late.base); len(parts) != 1 {
		t.Errorf("after the disk had room again: files %v for the new connection, want 1", parts)
	} else {
		samePackets(t, late.base, readPcap(t, parts[0], cfg), late.pkts, false)
	}
	st := r.Stats()
	if st.PacketsLost == 0 || st.PacketsWritten == 0 {
		t.Errorf("stats: %d written, %d lost; want both > 0 on a 1 MB disk", st.PacketsWritten, st.PacketsLost)
	}
	if st.PacketsWritten+st.PacketsLost+st.PacketsDiscarded+st.PacketsDropped != uint64(tapped) {
		t.Errorf("stats: written %d + lost %d + discarded %d + dropped %d != tapped %d",
			st.PacketsWritten, st.PacketsLost, st.PacketsDiscarded, st.PacketsDropped, tapped)
	}
	var onDisk int
	for _, p := range pcapFiles(t, cfg.LogDir) {
		recs := readPcap(t, p, cfg) // fails the test on a cut record
		for _, rec := range recs {
			// A cut made past the end of a file would read as zeros.
			if len(rec.data) == 0 || rec.ts.Before(t0) {
				t.Fatalf("%s: a zero record (%d bytes at %s): the file was extended, not cut", p, len(rec.data), rec.ts)
			}
		}
		onDisk += len(recs)
	}
	if uint64(onDisk) != st.PacketsWritten {
		t.Errorf("-l holds %d whole records, %d counted written", onDisk, st.PacketsWritten)
	}
	// The quota's account of -l learns of every failed write.
	var size int64
	for _, p := range pcapFiles(t, cfg.LogDir) {
		if !strings.Contains(p, spareDirName) {
			info, _ := os.Stat(p)
			size += info.Size()
		}
	}
	if st.LogDirBytes != size {
		t.Errorf("-l holds %d bytes of parts, the writer counts %d", size, st.LogDirBytes)
	}
}
