package archive

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
)

const (
	hostA = "10.0.0.5"
	hostB = "203.0.113.9"
	hostC = "198.51.100.7"
	hostD = "2001:db8::5"
)

// traffic is a reproducible mix of connections, in time order.
type traffic struct {
	tb  testing.TB
	rng *rand.Rand
	ts  time.Time
	all []testPacket
}

func newTraffic(tb testing.TB, seed uint64) *traffic {
	return &traffic{tb: tb, rng: rand.New(rand.NewPCG(seed, 7)), ts: t0}
}

// add appends one packet a little after the previous one.
func (f *traffic) add(sp spec) testPacket {
	f.ts = f.ts.Add(time.Duration(1+f.rng.IntN(2000)) * time.Microsecond)
	sp.ts = f.ts
	p := build(f.tb, f.rng, sp)
	f.all = append(f.all, p)
	return p
}

// mix adds n packets spread over several TCP and UDP connections of four
// hosts, both directions, with payloads up to max bytes.
func (f *traffic) mix(n, max int) {
	hosts := []string{hostA, hostB, hostC}
	for range n {
		i, j := f.rng.IntN(3), f.rng.IntN(3)
		if i == j {
			j = (i + 1) % 3
		}
		sp := spec{src: hosts[i], dst: hosts[j], sport: uint16(40000 + f.rng.IntN(4)), dport: 443, proto: protoTCP, flags: capture.FlagACK, payload: f.rng.IntN(max)}
		if f.rng.IntN(4) == 0 {
			sp.proto, sp.dport = protoUDP, 53
		}
		if f.rng.IntN(2) == 0 { // the reply direction
			sp.src, sp.dst, sp.sport, sp.dport = sp.dst, sp.src, sp.dport, sp.sport
		}
		f.add(sp)
	}
}

// segments lists the spool's segments, oldest first.
func segments(tb testing.TB, dir string) []string {
	tb.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return segs
}

// Every packet tapped is in the spool, in order, across sealed segments
// that libpcap and tcpdump read whole; each segment's index finds exactly
// its connections' records.
func TestSpoolHoldsEveryPacket(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SegmentMB = 1
	cfg.Block = true
	r := mustNew(t, cfg)
	f := newTraffic(t, 1)
	f.mix(4000, 1200) // about 2.6 MB: three segments
	tapAll(r, f.all)
	closeRecorder(t, r)

	segs := segments(t, cfg.LogDir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want at least 3 of 1 MB for %d packets", len(segs), len(f.all))
	}
	var got []readBack
	next := 0
	for _, seg := range segs {
		recs := readPcap(t, seg, cfg)
		if info, _ := os.Stat(seg); info.Size() > int64(cfg.SegmentMB)*mib {
			t.Errorf("%s: %d bytes, over -archive_segment_mb", seg, info.Size())
		}
		ts := tcpdumpTimes(t, seg, false)
		if len(ts) != len(recs) {
			t.Fatalf("%s: tcpdump reads %d packets, libpcap %d", seg, len(ts), len(recs))
		}
		for i, s := range ts {
			if w := tcpdumpTime(f.all[next+i].ci.Timestamp, false); s != w {
				t.Fatalf("%s: tcpdump packet %d at %s, want %s", seg, i, s, w)
			}
		}
		// The index: every record once, under its own connection.
		x, err := readIndex(idxPath(seg), nil)
		if err != nil {
			t.Fatalf("index of %s: %v", seg, err)
		}
		seen := 0
		at := recOffsets(t, seg)
		for _, c := range x.order {
			for _, ref := range c.recs {
				k, ok := at[int64(ref.off)]
				if !ok {
					t.Fatalf("%s: index offset %d is no record", seg, ref.off)
				}
				if key := makeConnKey(&f.all[next+k].rec); key != c.key {
					t.Fatalf("%s: record %d indexed under %v, belongs to %v", seg, k, c.key, key)
				}
				seen++
			}
		}
		if seen != len(recs) {
			t.Errorf("%s: index lists %d records, segment holds %d", seg, seen, len(recs))
		}
		got = append(got, recs...)
		next += len(recs)
	}
	samePackets(t, "spool", got, f.all, false)
	if st := r.Stats(); st.PacketsWritten != uint64(len(f.all)) || st.PacketsLost != 0 || st.Segments != len(segs) {
		t.Errorf("stats: %d written, %d lost, %d segments; want %d, 0, %d", st.PacketsWritten, st.PacketsLost, st.Segments, len(f.all), len(segs))
	}
}

// recOffsets maps each record's file offset in a segment to its number,
// found by walking the record headers.
func recOffsets(tb testing.TB, path string) map[int64]int {
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[int64]int{}
	for off := int64(pcapHeaderLen); off < int64(len(b)); off += pcapRecordHeaderLen + int64(binary.LittleEndian.Uint32(b[off+8:])) {
		out[off] = len(out)
	}
	return out
}

// The quota deletes the oldest segments first, and -l stays under it.
func TestSpoolQuotaDeletesOldestFirst(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SegmentMB = 1
	cfg.LogDirQuotaMB = 2
	cfg.Block = true
	r := mustNew(t, cfg)
	f := newTraffic(t, 2)
	f.mix(9000, 1200) // about 6 MB
	tapAll(r, f.all)
	closeRecorder(t, r)
	segs := segments(t, cfg.LogDir)
	st := r.Stats()
	if st.QuotaDeletions == 0 || st.SegmentsCreated != st.QuotaDeletions+uint64(len(segs)) {
		t.Fatalf("%d segments created, %d deleted by the quota, %d left", st.SegmentsCreated, st.QuotaDeletions, len(segs))
	}
	// What is left are the newest segments, ending with the newest packet.
	first, _ := parseSegName(filepath.Base(segs[0]))
	if first != st.QuotaDeletions+1 {
		t.Errorf("oldest segment left is number %d, want %d: not the oldest were deleted", first, st.QuotaDeletions+1)
	}
	var recs []readBack
	for _, s := range segs {
		recs = append(recs, readPcap(t, s, cfg)...)
	}
	samePackets(t, "newest segments", recs, f.all[len(f.all)-len(recs):], false)
	var size int64
	ents, _ := os.ReadDir(cfg.LogDir)
	for _, e := range ents {
		info, _ := e.Info()
		size += info.Size()
	}
	if size > int64(cfg.LogDirQuotaMB)*mib {
		t.Errorf("-l holds %d bytes, quota %d", size, int64(cfg.LogDirQuotaMB)*mib)
	}
}

// A crash leaves the newest segment without its index and maybe with a
// record cut in half: the next start trims the half record, rebuilds the
// index by scanning, and loses nothing else; an archive then finds the
// packets in it.
func TestRestartAfterCrashTrimsAndReindexes(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Block = true
	r := mustNew(t, cfg)
	f := newTraffic(t, 3)
	f.mix(500, 900)
	tapAll(r, f.all)
	closeRecorder(t, r)
	segs := segments(t, cfg.LogDir)
	if len(segs) != 1 {
		t.Fatalf("%d segments, want 1", len(segs))
	}
	// The crash: no index, and half of one more record at the end.
	seg := segs[0]
	os.Remove(idxPath(seg))
	extra := build(t, rand.New(rand.NewPCG(9, 9)), spec{src: hostA, dst: hostB, sport: 40000, dport: 443, proto: protoTCP, flags: capture.FlagACK, payload: 300, ts: f.ts.Add(time.Millisecond)})
	rec := fileHeader{snaplen: 65535, linkType: cfg.LinkType}.appendRecord(nil, extra.ci.Timestamp.UnixNano(), extra.data, uint32(len(extra.data)))
	fh, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.Write(rec[:len(rec)/2])
	fh.Close()
	// A stray file that is not a segment must not upset the start.
	os.WriteFile(filepath.Join(cfg.LogDir, "seg-notanumber.pcap"), []byte("junk"), 0o640)
	os.WriteFile(filepath.Join(cfg.LogDir, "seg-000000000099.idx"), []byte("junk"), 0o640)
	// A crash between creating a segment and writing its header.
	headless := filepath.Join(cfg.LogDir, segName(50))
	os.WriteFile(headless, fileHeader{snaplen: 65535, linkType: cfg.LinkType}.appendHeader(nil)[:10], 0o640)

	r2 := mustNew(t, cfg)
	if _, err := os.Stat(headless); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a segment cut before its header is still there: %v", err)
	}
	samePackets(t, "trimmed segment", readPcap(t, seg, cfg), f.all, false)
	if _, err := readIndex(idxPath(seg), nil); err != nil {
		t.Fatalf("index not rebuilt: %v", err)
	}
	a := &alert.Alert{Time: f.ts.Add(time.Second), Key: hostA + "->" + hostB, Src: hostA, Dst: hostB}
	paths, err := r2.Archive(context.Background(), a, AllConns)
	if err != nil || len(paths) == 0 {
		t.Fatalf("archive after restart: %v, %v", paths, err)
	}
	var n int
	for _, p := range paths {
		n += len(readPcap(t, p, cfg))
	}
	var want int
	for _, p := range f.all {
		if makePair(p.rec.Src, p.rec.Dst) == makePair(mustAddr(hostA), mustAddr(hostB)) {
			want++
		}
	}
	if n != want {
		t.Errorf("archive after restart holds %d packets, want %d", n, want)
	}
	// The restart continues numbering after the old segment.
	f2 := newTraffic(t, 4)
	f2.mix(10, 100)
	tapAll(r2, f2.all)
	closeRecorder(t, r2)
	segs = segments(t, cfg.LogDir)
	if len(segs) != 2 || segs[0] != seg {
		t.Fatalf("segments after restart: %v", segs)
	}
}

// A log directory that cannot be written does not stop the recorder:
// packets are counted lost, Tap never waits, and the start does not fail.
func TestUnwritableLogDirDoesNotStopCapture(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o640)
	cfg.LogDir = filepath.Join(blocker, "log") // below a file: never creatable
	r := mustNew(t, cfg)
	f := newTraffic(t, 5)
	f.mix(3000, 200)
	done := make(chan struct{})
	go func() {
		for i := range f.all {
			r.Tap(f.all[i].ci, f.all[i].data, &f.all[i].rec)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Tap waited on an unwritable -l")
	}
	closeRecorder(t, r)
	st := r.Stats()
	if st.PacketsWritten != 0 || st.PacketsLost+st.PacketsDropped != uint64(len(f.all)) || st.Errors["open"] == 0 {
		t.Errorf("stats: %d written, %d lost, %d dropped, %d open errors; want 0, all %d lost or dropped, > 0",
			st.PacketsWritten, st.PacketsLost, st.PacketsDropped, st.Errors["open"], len(f.all))
	}
}

// A full file system under -l: failed writes are counted lost, every
// segment left is a valid pcap (a short write is cut back to the last whole
// record), and the spool goes on once there is room.
func TestFullDiskKeepsSegmentsValid(t *testing.T) {
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
	cfg.SegmentMB = 8
	cfg.LogDirQuotaMB = 64 // larger than the disk: the disk fills first
	cfg.Block = true
	r := mustNew(t, cfg)
	f := newTraffic(t, 6)
	f.mix(3000, 1200) // about 2 MB
	tapAll(r, f.all)
	eventually(t, "the writer to fail on the full disk", func() bool { return r.Stats().Errors["write"] > 0 })
	if out, err := exec.Command("mount", "-o", "remount,size=16m", cfg.LogDir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	f2 := newTraffic(t, 7)
	f2.ts = f.ts
	f2.mix(500, 500)
	tapAll(r, f2.all)
	closeRecorder(t, r)
	st := r.Stats()
	tapped := uint64(len(f.all) + len(f2.all))
	if st.PacketsLost == 0 || st.PacketsWritten+st.PacketsLost != tapped {
		t.Errorf("stats: %d written + %d lost, %d tapped; want some lost and the sum", st.PacketsWritten, st.PacketsLost, tapped)
	}
	var onDisk []readBack
	for _, s := range segments(t, cfg.LogDir) {
		onDisk = append(onDisk, readPcap(t, s, cfg)...) // fails the test on a cut record
	}
	if uint64(len(onDisk)) != st.PacketsWritten {
		t.Errorf("-l holds %d whole records, %d counted written", len(onDisk), st.PacketsWritten)
	}
	// After the remount every later packet was written.
	samePackets(t, "after the remount", onDisk[len(onDisk)-len(f2.all):], f2.all, false)
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
