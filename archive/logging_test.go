package archive

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/wherefore/wherefore/capture"
)

// conv generates the packets of one connection, keeping them in order.
type conv struct {
	base string
	pkts []testPacket
}

func TestLogRoundTripAndRotation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		nano      bool
		rotations int
	}{
		{"micro-4-parts", false, 4},
		{"nano-10-parts", true, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.Nanosecond = tc.nano
			cfg.MaxLogSizeMB = 1
			cfg.MaxRotations = tc.rotations
			r := mustNew(t, cfg)
			rng := rand.New(rand.NewPCG(1, 2))

			tcp := &conv{base: "tcp_10.0.1.23_51234_203.0.113.77_443"}
			udp := &conv{base: "udp_2001-db8--9_41000_2001-db8--5_53"}
			icmp := &conv{base: "icmp_10.0.0.1_10.0.0.2"}
			ts := t0
			next := func() time.Time { ts = ts.Add(time.Duration(rng.IntN(5000)+1) * time.Microsecond); return ts }
			var all []testPacket
			add := func(c *conv, s spec) {
				s.ts = next()
				p := build(t, rng, s)
				c.pkts = append(c.pkts, p)
				all = append(all, p)
			}
			// The server answers first on the wire order for UDP: the name
			// must still follow the first sender.
			add(tcp, spec{src: "10.0.1.23", dst: "203.0.113.77", sport: 51234, dport: 443, proto: protoTCP, flags: capture.FlagSYN})
			add(udp, spec{src: "2001:db8::9", dst: "2001:db8::5", sport: 41000, dport: 53, proto: protoUDP, payload: 40})
			add(tcp, spec{src: "203.0.113.77", dst: "10.0.1.23", sport: 443, dport: 51234, proto: protoTCP, flags: capture.FlagSYN | capture.FlagACK})
			for i := 0; i < 1600; i++ {
				switch {
				case i%80 == 0:
					add(udp, spec{src: "2001:db8::5", dst: "2001:db8::9", sport: 53, dport: 41000, proto: protoUDP, payload: 100 + rng.IntN(300)})
				case i%400 == 7:
					add(icmp, spec{src: "10.0.0.1", dst: "10.0.0.2", proto: 1, payload: 56})
				case i%2 == 0:
					add(tcp, spec{src: "10.0.1.23", dst: "203.0.113.77", sport: 51234, dport: 443, proto: protoTCP, flags: capture.FlagACK | capture.FlagPSH, payload: 400 + rng.IntN(1000)})
				default:
					add(tcp, spec{src: "203.0.113.77", dst: "10.0.1.23", sport: 443, dport: 51234, proto: protoTCP, flags: capture.FlagACK, payload: 400 + rng.IntN(1000)})
				}
			}
			tapAll(r, all)
			closeRecorder(t, r)

			partMax := cfg.partMax()
			for _, c := range []*conv{tcp, udp, icmp} {
				parts := partsOf(t, cfg.LogDir, c.base)
				if len(parts) == 0 {
					t.Fatalf("%s: no files in -l", c.base)
				}
				if len(parts) > cfg.MaxRotations {
					t.Errorf("%s: %d files, more than -max_pcap_rotations=%d", c.base, len(parts), cfg.MaxRotations)
				}
				var got []readBack
				for _, p := range parts {
					if testing.Verbose() {
						st, _ := os.Stat(p)
						t.Logf("%s %d %d", p, st.Size(), len(readPcap(t, p, cfg)))
					}
					st, err := os.Stat(p)
					if err != nil {
						t.Fatal(err)
					}
					if st.Size() > partMax {
						t.Errorf("%s: %d bytes, more than %d", p, st.Size(), partMax)
					}
					pk := readPcap(t, p, cfg)
					times := tcpdumpTimes(t, p, tc.nano)
					if len(times) != len(pk) {
						t.Fatalf("%s: tcpdump sees %d packets, libpcap %d", p, len(times), len(pk))
					}
					for i := range pk {
						if w := tcpdumpTime(pk[i].ts, tc.nano); times[i] != w {
							t.Fatalf("%s: tcpdump packet %d at %s, want %s", p, i, times[i], w)
						}
					}
					got = append(got, pk...)
				}
				// Rotation deletes whole files from the front: what is left is
				// exactly the newest packets, in order.
				kept := c.pkts[len(c.pkts)-len(got):]
				samePackets(t, c.base, got, kept, tc.nano)
				if c == tcp {
					if len(got) == len(c.pkts) {
						t.Errorf("%s: nothing rotated away; the test writes more than -max_pcap_log_size", c.base)
					}
					var total int64
					for _, p := range parts {
						st, _ := os.Stat(p)
						total += st.Size()
					}
					if total > int64(cfg.MaxLogSizeMB)*mib {
						t.Errorf("%s: %d bytes kept, more than -max_pcap_log_size", c.base, total)
					}
					// Deleting too eagerly would lose evidence: all but the
					// oldest kept part must be nearly full.
					if min := int64(cfg.MaxRotations-1) * (partMax - 1500); total < min {
						t.Errorf("%s: only %d bytes kept, want at least %d", c.base, total, min)
					}
				} else if len(got) != len(c.pkts) {
					t.Errorf("%s: %d packets kept, want all %d", c.base, len(got), len(c.pkts))
				}
			}
			st := r.Stats()
			if st.PacketsWritten != uint64(len(all)) || st.PacketsDropped != 0 || st.PacketsLost != 0 {
				t.Errorf("stats: written %d dropped %d lost %d, want %d/0/0", st.PacketsWritten, st.PacketsDropped, st.PacketsLost, len(all))
			}
			if st.Rotations == 0 || st.RotationDeletions == 0 {
				t.Errorf("stats: rotations %d, rotation deletions %d; want both > 0", st.Rotations, st.RotationDeletions)
			}
			// Every part rotated away became a spare, and later parts were
			// written over spares: the checks above cover recycled files.
			if st.FilesRecycled != st.RotationDeletions {
				t.Errorf("stats: %d files recycled, want one per rotation deletion (%d)", st.FilesRecycled, st.RotationDeletions)
			}
			if st.FilesOpen != 0 {
				t.Errorf("stats: %d files open after Close", st.FilesOpen)
			}
		})
	}
}

// With fewer descriptors than connections every file is closed and reopened
// many times; each must still hold one header and all its packets.
func TestReopenAppendsWithoutSecondHeader(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxOpenFiles = 2
	r := mustNew(t, cfg)
	rng := rand.New(rand.NewPCG(3, 4))
	convs := make([]*conv, 6)
	var all []testPacket
	ts := t0
	for i := range convs {
		convs[i] = &conv{base: "udp_10.0.0.1_" + strconv.Itoa(5000+i) + "_10.0.0.2_53"}
	}
	for n := 0; n < 60; n++ {
		for i, c := range convs {
			ts = ts.Add(time.Millisecond)
			p := build(t, rng, spec{src: "10.0.0.1", dst: "10.0.0.2", sport: uint16(5000 + i), dport: 53, proto: protoUDP, payload: 50 + rng.IntN(100), ts: ts})
			c.pkts = append(c.pkts, p)
			all = append(all, p)
		}
	}
	tapAll(r, all)
	closeRecorder(t, r)
	for _, c := range convs {
		parts := partsOf(t, cfg.LogDir, c.base)
		if len(parts) != 1 {
			t.Fatalf("%s: %d files, want 1", c.base, len(parts))
		}
		samePackets(t, c.base, readPcap(t, parts[0], cfg), c.pkts, false)
	}
	if st := r.Stats(); st.MaxFilesOpen > cfg.MaxOpenFiles {
		t.Errorf("held %d files open, cap %d", st.MaxFilesOpen, cfg.MaxOpenFiles)
	}
}

// Spares an earlier run left in -l/.spare are taken over: a bare header is
// reused, whatever capture it described, and anything else there goes.
func TestSparesFromAnEarlierRun(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Nanosecond = true
	spareDir := filepath.Join(cfg.LogDir, spareDirName)
	if err := os.MkdirAll(filepath.Join(spareDir, "9"), 0o750); err != nil {
		t.Fatal(err)
	}
	other := fileHeader{snaplen: 96, linkType: int(layers.LinkTypeRaw)}
	for name, data := range map[string][]byte{
		"7":    other.appendHeader(nil),                              // a spare: reused
		"8":    append(other.appendHeader(nil), make([]byte, 76)...), // not a bare header
		"junk": other.appendHeader(nil),                              // not a spare's name
	} {
		if err := os.WriteFile(filepath.Join(spareDir, name), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	r := mustNew(t, cfg)
	rng := rand.New(rand.NewPCG(5, 6))
	var pkts []testPacket
	for i := 0; i < 5; i++ {
		pkts = append(pkts, build(t, rng, spec{src: "10.0.0.1", dst: "10.0.0.2", sport: 5000, dport: 53, proto: protoUDP, payload: 80, ts: t0.Add(time.Duration(i) * time.Millisecond)}))
	}
	tapAll(r, pkts)
	closeRecorder(t, r)

	parts := partsOf(t, cfg.LogDir, "udp_10.0.0.1_5000_10.0.0.2_53")
	if len(parts) != 1 {
		t.Fatalf("%d files for the connection, want 1", len(parts))
	}
	data, err := os.ReadFile(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	want := fileHeader{snaplen: uint32(cfg.Snaplen), linkType: cfg.LinkType, nano: true}.appendHeader(nil)
	if !bytes.Equal(data[:pcapHeaderLen], want) {
		t.Errorf("header % x, want % x", data[:pcapHeaderLen], want)
	}
	samePackets(t, parts[0], readPcap(t, parts[0], cfg), pkts, true)
	if left, _ := os.ReadDir(spareDir); len(left) != 0 {
		t.Errorf("spare folder still holds %d entries, want none (7 taken, the rest deleted)", len(left))
	}
	if st := r.Stats(); st.FilesCreated != 1 || st.Leftovers != 0 {
		t.Errorf("stats: %d files created, %d leftovers; want 1, 0", st.FilesCreated, st.Leftovers)
	}
}
