package archive

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/wherefore/wherefore/capture"
)

// benchPackets returns 64 TCP connections' worth of full-size packets, both
// directions.
func benchPackets(b *testing.B) []testPacket {
	rng := rand.New(rand.NewPCG(1, 2))
	var pkts []testPacket
	for c := 0; c < 64; c++ {
		cp := uint16(30000 + c)
		pkts = append(pkts,
			build(b, rng, spec{src: hostA, dst: hostB, sport: cp, dport: 443, proto: protoTCP, flags: capture.FlagACK | capture.FlagPSH, payload: 1400, ts: t0}),
			build(b, rng, spec{src: hostB, dst: hostA, sport: 443, dport: cp, proto: protoTCP, flags: capture.FlagACK, payload: 1400, ts: t0}))
	}
	return pkts
}

// BenchmarkTapWriter measures Tap plus the writer end to end: packets are
// tapped as fast as the writer takes them (the loop waits instead of
// dropping), and the clock stops when Close has flushed every file.
func BenchmarkTapWriter(b *testing.B) {
	for _, mode := range []string{"log_packets", "flight_recorder"} {
		b.Run(mode, func(b *testing.B) {
			cfg := testConfig(b.TempDir())
			cfg.MaxLogSizeMB = 64
			cfg.LogDirQuotaMB = 1 << 14
			if mode == "flight_recorder" {
				cfg.LogPackets, cfg.LogDir, cfg.RingMB, cfg.RingFlowMB = false, "", 64, 2
			}
			r, err := New(cfg, quietLogger())
			if err != nil {
				b.Fatal(err)
			}
			pkts := benchPackets(b)
			var bytes int64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				p := &pkts[i%len(pkts)]
				ci := p.ci
				ci.Timestamp = t0.Add(time.Duration(i) * time.Microsecond)
				for len(r.free) == 0 {
					runtime.Gosched()
				}
				r.Tap(ci, p.data, &p.rec)
				bytes += int64(len(p.data))
			}
			if err := r.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start).Seconds()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el, "pkts/s")
			b.ReportMetric(float64(bytes)/el/1e6, "MB/s")
			if d := r.Stats().PacketsDropped; d != 0 {
				b.Errorf("%d packets dropped", d)
			}
		})
	}
}

// BenchmarkTap measures the capture goroutine's share alone; the loop plays
// a writer that recycles batches without writing them.
func BenchmarkTap(b *testing.B) {
	r := stalled(b, 4)
	p := benchPackets(b)[0]
	b.ReportAllocs()
	b.SetBytes(int64(len(p.data)))
	for i := 0; i < b.N; i++ {
		if len(r.free) == 0 {
			for len(r.full) > 0 {
				bt := <-r.full
				bt.reset()
				r.free <- bt
			}
		}
		r.Tap(p.ci, p.data, &p.rec)
	}
}
