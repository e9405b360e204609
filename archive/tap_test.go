package archive

import (
	"math/rand/v2"
	"testing"
	"time"

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

// Live capture never waits for the disk: with the writer stalled, Tap
// drops and counts.
func TestTapNeverBlocksOnAStalledWriter(t *testing.T) {
	const queue, packets = 2, 10_000
	r := stalled(t, queue)
	p := build(t, rand.New(rand.NewPCG(1, 2)), spec{src: hostA, dst: hostB, sport: 1, dport: 2, proto: protoTCP, flags: capture.FlagACK, payload: 64, ts: t0})
	done := make(chan struct{})
	go func() {
		for range packets {
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

func TestValidateNamesTheFlag(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		flag string
	}{
		{func(c *Config) { c.LogDir = "" }, "-l"},
		{func(c *Config) { c.SegmentMB = 0 }, "-archive_segment_mb"},
		{func(c *Config) { c.SegmentMB = 5000 }, "-archive_segment_mb"},
		{func(c *Config) { c.IndexMB = 0 }, "-archive_index_mb"},
		{func(c *Config) { c.LogDirQuotaMB = 10; c.SegmentMB = 64 }, "-archive_log_quota_mb"},
		{func(c *Config) { c.MaxRotations = 0 }, "-max_pcap_rotations"},
		{func(c *Config) { c.QueueSize = 1 }, "-archive_queue"},
	} {
		c := testConfig(t.TempDir())
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !containsWord(err.Error(), tc.flag) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tc.flag)
		}
	}
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i+len(w) == len(s) || s[i+len(w)] == '=' || s[i+len(w)] == ' ' || s[i+len(w)] == ')') {
			return true
		}
	}
	return false
}
