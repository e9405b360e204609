package archive

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/wherefore/wherefore/capture"
)

// stalled builds a recorder whose writer never runs, as if the disk hung.
func stalled(t testing.TB, queue int) *Recorder {
	t.Helper()
	cfg := testConfig(t.TempDir())
	cfg.QueueSize = queue
	r, err := newRecorder(cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTapAllocatesNothing(t *testing.T) {
	r := stalled(t, 8)
	p := build(t, rand.New(rand.NewPCG(1, 2)), spec{src: hostA, dst: hostB, sport: 1, dport: 2, proto: protoTCP, flags: capture.FlagACK, payload: 64, ts: t0})
	if n := testing.AllocsPerRun(2000, func() { r.Tap(p.ci, p.data, &p.rec) }); n != 0 {
		t.Errorf("Tap allocates %.1f times per packet, want 0", n)
	}
}

func TestTapNeverBlocksOnAStalledWriter(t *testing.T) {
	const queue, packets = 2, 10_000
	r := stalled(t, queue)
	p := build(t, rand.New(rand.NewPCG(1, 2)), spec{src: hostA, dst: hostB, sport: 1, dport: 2, proto: protoTCP, flags: capture.FlagACK, payload: 64, ts: t0})
	done := make(chan struct{})
	go func() {
		for i := 0; i < packets; i++ {
			r.Tap(p.ci, p.data, &p.rec)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Tap blocked behind a stalled writer")
	}
	if got, want := r.Stats().PacketsDropped, uint64(packets-queue*batchPackets); got != want {
		t.Errorf("%d packets counted as dropped, want %d", got, want)
	}
}

func TestTapIgnoresWhatIsNotIP(t *testing.T) {
	r := stalled(t, 2)
	p := build(t, rand.New(rand.NewPCG(1, 2)), spec{src: hostA, dst: hostB, proto: 1, ts: t0})
	r.Tap(p.ci, p.data, nil)
	r.Tap(p.ci, p.data, &capture.Record{})
	if r.cur != nil && len(r.cur.ents) != 0 {
		t.Errorf("packets without addresses were queued")
	}
}

func TestArchiveAfterClose(t *testing.T) {
	dir := t.TempDir()
	r := mustNew(t, testConfig(dir))
	closeRecorder(t, r)
	if err := r.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.Archive(context.Background(), nil); err != nil {
		t.Errorf("Archive(nil) = %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := testConfig("/tmp/x")
	for _, tc := range []struct {
		flag string
		edit func(*Config)
	}{
		{"-l", func(c *Config) { c.LogDir = "" }},
		{"-archive_dir", func(c *Config) { c.ArchiveDir = "" }},
		{"-max_pcap_log_size", func(c *Config) { c.MaxLogSizeMB = 0 }},
		{"-max_pcap_rotations", func(c *Config) { c.MaxRotations = -1 }},
		{"-max_pcap_rotations", func(c *Config) { c.MaxRotations = 100000 }},
		{"-archive_max_open_files", func(c *Config) { c.MaxOpenFiles = 0 }},
		{"-archive_max_connections", func(c *Config) { c.MaxConnections = 0 }},
		{"-archive_log_quota_mb", func(c *Config) { c.LogDirQuotaMB = 0 }},
		{"-archive_quota_mb", func(c *Config) { c.ArchiveQuotaMB = -5 }},
		{"-archive_ring_mb", func(c *Config) { c.RingMB = -1 }},
		{"-archive_ring_flow_mb", func(c *Config) { c.LogPackets = false; c.RingMB = 4; c.RingFlowMB = 8 }},
		{"-archive_conn_idle", func(c *Config) { c.ConnIdleTimeout = 0 }},
		{"Linger", func(c *Config) { c.Linger = 0 }},
		{"-archive_queue", func(c *Config) { c.QueueSize = 1 }},
		{"-s", func(c *Config) { c.Snaplen = 1 << 20 }},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("Validate with a bad %s = %v, want an error naming it", tc.flag, err)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(test config) = %v", err)
	}
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Errorf("Validate(DefaultConfig()) = %v: defaults alone record nothing and must be valid", err)
	}
}

func TestNames(t *testing.T) {
	a4, b4 := netip.MustParseAddr("10.0.1.23"), netip.MustParseAddr("203.0.113.77")
	a6, b6 := netip.MustParseAddr("2001:db8::5"), netip.MustParseAddr("fe80::1%eth0")
	for _, tc := range []struct {
		got, want string
	}{
		{baseName(protoTCP, a4, 51234, b4, 443), "tcp_10.0.1.23_51234_203.0.113.77_443"},
		{baseName(protoUDP, a6, 53, b6, 41000), "udp_2001-db8--5_53_fe80--1seth0_41000"},
		{baseName(1, a4, 0, b4, 0), "icmp_10.0.1.23_203.0.113.77"},
		{baseName(47, a4, 0, b4, 0), "gre_10.0.1.23_203.0.113.77"},
		{baseName(99, a4, 0, b4, 0), "proto99_10.0.1.23_203.0.113.77"},
		{partName("tcp_1.2.3.4_1_5.6.7.8_2", 3), "tcp_1.2.3.4_1_5.6.7.8_2.3.pcap"},
		{addrName(netip.MustParseAddr("::ffff:10.0.0.1")), "10.0.0.1"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
		if strings.ContainsAny(tc.got, `:/\%*?"<>| `) {
			t.Errorf("%q is not safe on common file systems", tc.got)
		}
	}
	for name, want := range map[string]bool{
		"tcp_1.2.3.4_1_5.6.7.8_2.3.pcap":     true,
		"icmp_1.2.3.4_5.6.7.8.1.pcap":        true,
		"capture.pcap":                       false,
		"tcp_x.pcap":                         false,
		"notes.1.pcap":                       false,
		"tcp_1.2.3.4_1_5.6.7.8_2.3.pcap.tmp": false,
	} {
		if isPartName(name) != want {
			t.Errorf("isPartName(%q) = %v, want %v", name, !want, want)
		}
	}
	// Both directions of a connection share a key; different ports do not.
	k1, fromA := makeConnKey(&capture.Record{Src: a4, Dst: b4, SrcPort: 1, DstPort: 2, Proto: protoTCP})
	k2, fromA2 := makeConnKey(&capture.Record{Src: b4, Dst: a4, SrcPort: 2, DstPort: 1, Proto: protoTCP})
	k3, _ := makeConnKey(&capture.Record{Src: a4, Dst: b4, SrcPort: 1, DstPort: 3, Proto: protoTCP})
	if k1 != k2 || fromA == fromA2 || k1 == k3 {
		t.Errorf("connection keys: %v %v %v", k1, k2, k3)
	}
	// Ports are ignored for protocols without them.
	k4, _ := makeConnKey(&capture.Record{Src: a4, Dst: b4, SrcPort: 1, Proto: 47})
	k5, _ := makeConnKey(&capture.Record{Src: b4, Dst: a4, DstPort: 9, Proto: 47})
	if k4 != k5 {
		t.Errorf("GRE keys differ: %v %v", k4, k5)
	}
}

func TestHeaderCarriesCaptureSettings(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.LinkType = 12 // DLT_RAW, as libpcap reports a raw-IP source
	cfg.Snaplen = 1500
	r := mustNew(t, cfg)
	p := build(t, rand.New(rand.NewPCG(1, 2)), spec{src: hostA, dst: hostB, sport: 1, dport: 2, proto: protoUDP, payload: 3000, ts: t0})
	tapAll(r, []testPacket{p})
	closeRecorder(t, r)
	files := pcapFiles(t, cfg.LogDir)
	if len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if lt := binary.LittleEndian.Uint32(raw[20:]); lt != uint32(layers.LinkTypeRaw) {
		t.Errorf("header link type %d, want LINKTYPE_RAW (101)", lt)
	}
	got := readPcap(t, files[0], cfg) // checks link type and snaplen
	if len(got) != 1 || len(got[0].data) != 1500 || got[0].length != len(p.data) {
		t.Errorf("got %d packets; want one cut at the snaplen (1500) with its original length %d", len(got), len(p.data))
	}
}
