package archive

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
)

// A connection larger than the pending budget has some records in files
// and the newest in memory; its archive must hold all of them, in order.
func TestArchiveIncludesPendingRecords(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.PendingMB = 1
	cfg.MaxLogSizeMB = 8
	cfg.MaxRotations = 4 // 2 MB parts
	r := mustNew(t, cfg)
	s := newScript(t, 31)
	c := &conv{base: "tcp_10.0.0.5_46000_203.0.113.9_443"}
	s.tcpConv(c, hostA, hostB, 46000, 443, 3500) // about 3 MB: one full part, one in progress
	small := &conv{base: "udp_10.0.0.5_5353_203.0.113.9_53"}
	s.add(small, spec{src: hostA, dst: hostB, sport: 5353, dport: 53, proto: protoUDP, payload: 40})
	s.flush(r)
	// The writer works on its own goroutine: wait until it has taken every
	// batch before checking that both paths are exercised.
	deadline := time.Now().Add(10 * time.Second)
	st := r.Stats()
	for (st.FilesCreated == 0 || st.PendingBytes == 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		st = r.Stats()
	}
	if st.FilesCreated == 0 || st.PendingBytes == 0 {
		t.Fatalf("stats: %d files created, %d bytes pending; the test wants both", st.FilesCreated, st.PendingBytes)
	}
	paths, err := r.Archive(context.Background(), &alert.Alert{Time: s.ts.Add(time.Millisecond), Key: "k", Src: hostA, Dst: hostB})
	if err != nil {
		t.Fatalf("Archive: %v", err)
	}
	got := archived(t, paths, cfg)
	var all []readBack
	for _, name := range []string{c.base + ".1.pcap", c.base + ".2.pcap"} {
		if got[name] == nil {
			t.Fatalf("archive %v lacks %s", paths, name)
		}
		all = append(all, got[name]...)
	}
	samePackets(t, c.base, all, c.pkts, false)
	samePackets(t, small.base, got[small.base+".1.pcap"], small.pkts, false)
	if len(got) != 3 {
		t.Errorf("archived %v, want 3 files", paths)
	}
	if st := r.Stats(); st.PendingBytes != 0 || st.PacketsLost != 0 {
		t.Errorf("after Archive: %d bytes pending, %d lost; want 0, 0", st.PendingBytes, st.PacketsLost)
	}
}

// Many connections together never hold more pending memory than the
// budget, and Close writes out what they hold: every packet is in a file.
func TestPendingBudget(t *testing.T) {
	dir := fastTempDir(t)
	cfg := testConfig(dir)
	cfg.PendingMB = 1
	cfg.MaxOpenFiles = 16
	r := mustNew(t, cfg)
	rng := rand.New(rand.NewPCG(8, 9))
	dst := netip.MustParseAddr(hostB)
	p := build(t, rng, spec{src: hostA, dst: hostB, sport: 1, dport: 443, proto: protoTCP, flags: capture.FlagACK, payload: 600, ts: t0})
	const conns, rounds = 3000, 4
	budget := int64(cfg.PendingMB) * mib
	for i := 0; i < rounds*conns; i++ {
		p.ci.Timestamp = t0.Add(time.Duration(i) * time.Microsecond)
		p.rec = capture.Record{Src: spoofed(i % conns), Dst: dst, SrcPort: 1234, DstPort: 443, Proto: protoTCP, TCPFlags: capture.FlagACK}
		tapAll(r, []testPacket{p})
		if i%1000 == 0 {
			if b := r.Stats().PendingBytes; b > budget {
				t.Fatalf("%d bytes pending, budget %d", b, budget)
			}
		}
	}
	closeRecorder(t, r)
	st := r.Stats()
	if st.PacketsWritten != rounds*conns || st.PendingBytes != 0 {
		t.Errorf("stats: %d written, %d bytes pending; want %d, 0", st.PacketsWritten, st.PendingBytes, rounds*conns)
	}
	if st.MaxFilesOpen > cfg.MaxOpenFiles {
		t.Errorf("held %d files open, cap %d", st.MaxFilesOpen, cfg.MaxOpenFiles)
	}
	files := pcapFiles(t, cfg.LogDir)
	if len(files) != conns {
		t.Fatalf("%d files in -l, want one per connection (%d)", len(files), conns)
	}
	for _, f := range files[:20] {
		if n := len(readPcap(t, f, cfg)); n != rounds {
			t.Errorf("%s: %d packets, want %d", f, n, rounds)
		}
	}
}

// Reading a file (Block), Tap waits for a stalled writer instead of
// dropping, and every packet arrives once the writer runs.
func TestBlockWaitsForTheWriter(t *testing.T) {
	const queue, packets = 2, 5000
	r := stalled(t, queue)
	r.cfg.Block = true
	p := build(t, rand.New(rand.NewPCG(1, 2)), spec{src: hostA, dst: hostB, sport: 1, dport: 2, proto: protoTCP, flags: capture.FlagACK, payload: 64, ts: t0})
	var tapped = make(chan int, 1)
	go func() {
		for i := 0; i < packets; i++ {
			p.ci.Timestamp = t0.Add(time.Duration(i) * time.Microsecond)
			r.Tap(p.ci, p.data, &p.rec)
		}
		tapped <- packets
	}()
	select {
	case <-tapped:
		t.Fatal("Tap went past a full queue without waiting")
	case <-time.After(100 * time.Millisecond):
	}
	if d := r.Stats().PacketsDropped; d != 0 {
		t.Fatalf("%d packets dropped in Block mode", d)
	}
	go r.run() // the writer comes back
	select {
	case <-tapped:
	case <-time.After(10 * time.Second):
		t.Fatal("Tap did not resume when the writer did")
	}
	closeRecorder(t, r)
	st := r.Stats()
	if st.PacketsDropped != 0 || st.PacketsWritten != packets {
		t.Errorf("stats: %d dropped, %d written; want 0, %d", st.PacketsDropped, st.PacketsWritten, packets)
	}
	n := 0
	for _, f := range pcapFiles(t, r.cfg.LogDir) {
		n += len(readPcap(t, f, r.cfg))
	}
	if n != packets {
		t.Errorf("-l holds %d packets, want %d", n, packets)
	}
}

// When the budget is spent, a slow connection's records do not sit in
// memory for ever while busy ones are written a few records at a time: the
// buffer with the most bytes times age goes first, and age catches up with
// the slow one. (Largest first would never pick it.)
func TestSpillReachesSlowConnections(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.PendingMB = 1
	cfg.MaxLogSizeMB = 64
	cfg.MaxRotations = 1 // one part: nothing is written for being full
	r := mustNew(t, cfg)
	s := newScript(t, 41)
	busy := make([]*conv, 8)
	for i := range busy {
		busy[i] = &conv{base: "tcp_10.0.0.5_" + strconv.Itoa(46000+i) + "_203.0.113.9_443"}
	}
	slow := &conv{base: "udp_10.0.0.5_5353_203.0.113.9_53"}
	for round := 0; round < 100; round++ {
		for i, c := range busy {
			if round == 0 {
				s.tcpConv(c, hostA, hostB, uint16(46000+i), 443, 20)
			} else {
				s.more(c, hostA, hostB, uint16(46000+i), 443, 20)
			}
		}
		s.add(slow, spec{src: hostA, dst: hostB, sport: 5353, dport: 53, proto: protoUDP, payload: 200})
	}
	tapped := len(s.all)
	s.flush(r)
	eventually(t, "the slow connection's file", func() bool {
		return len(partsOf(t, cfg.LogDir, slow.base)) == 1
	})
	closeRecorder(t, r)
	samePackets(t, slow.base, readPcap(t, partsOf(t, cfg.LogDir, slow.base)[0], cfg), slow.pkts, false)
	for _, c := range busy {
		samePackets(t, c.base, readPcap(t, partsOf(t, cfg.LogDir, c.base)[0], cfg), c.pkts, false)
	}
	if st := r.Stats(); st.PacketsWritten != uint64(tapped) || st.PacketsLost != 0 {
		t.Errorf("%d packets written, %d lost; want %d, 0", st.PacketsWritten, st.PacketsLost, tapped)
	}
}
