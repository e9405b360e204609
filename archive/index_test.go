package archive

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/wherefore/wherefore/capture"
)

// indexRecords gives n records over conns connections, IPv4 and IPv6, in
// runs of random length, so the index's table grows and its run shortcut
// is taken and left.
func indexRecords(rng *rand.Rand, n, conns int) []capture.Record {
	keys := make([]capture.Record, conns)
	for i := range keys {
		r := &keys[i]
		if i%3 == 0 {
			var a, b [16]byte
			a[0], b[0] = 0x20, 0x20
			a[15], a[14], b[15] = byte(i), byte(i>>8), byte(i>>16)
			r.Src, r.Dst = netip.AddrFrom16(a), netip.AddrFrom16(b)
		} else {
			r.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			r.Dst = netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 7)})
		}
		r.Proto = []uint8{protoTCP, protoUDP, 1}[i%3]
		r.SrcPort, r.DstPort = uint16(1024+i), 443
	}
	out := make([]capture.Record, 0, n)
	for len(out) < n {
		r := keys[rng.IntN(conns)]
		if rng.IntN(2) == 0 {
			// The reply direction belongs to the same connection.
			r.Src, r.Dst, r.SrcPort, r.DstPort = r.Dst, r.Src, r.DstPort, r.SrcPort
		}
		for range 1 + rng.IntN(4) {
			out = append(out, r)
		}
	}
	return out[:n]
}

// The index's own table must file every record under exactly its
// connection, both directions together, across growth and reuse.
func TestIndexBuilderConnections(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	x := newIdxBuilder()
	for round, conns := range []int{3000, 40, 9000} {
		recs := indexRecords(rng, 50_000, conns)
		x.reset()
		want := make(map[connKey][]uint32)
		for i := range recs {
			k := makeConnKey(&recs[i])
			want[k] = append(want[k], uint32(i))
			x.add(ckeyOf(&recs[i]), int64(i), uint32(i), 1)
		}
		got := x.snapshot(func(connKey) bool { return true })
		if len(got) != len(want) || len(x.order) != len(want) {
			t.Fatalf("round %d: %d connections indexed (%d in order), want %d", round, len(got), len(x.order), len(want))
		}
		for _, c := range got {
			w := want[c.key]
			if len(c.recs) != len(w) {
				t.Fatalf("round %d: %v has %d records, want %d", round, c.key, len(c.recs), len(w))
			}
			for j, ref := range c.recs {
				if ref.off != w[j] {
					t.Fatalf("round %d: %v record %d at %d, want %d", round, c.key, j, ref.off, w[j])
				}
			}
			if c.first != int64(w[0]) || c.last != int64(w[len(w)-1]) {
				t.Fatalf("round %d: %v spans %d..%d, want %d..%d", round, c.key, c.first, c.last, w[0], w[len(w)-1])
			}
		}
	}
}

// Indexing a packet allocates nothing once the index has its memory.
func TestIndexBuilderAllocs(t *testing.T) {
	recs := indexRecords(rand.New(rand.NewPCG(1, 2)), 20_000, 5000)
	x := newIdxBuilder()
	fill := func() {
		x.reset()
		for i := range recs {
			x.add(ckeyOf(&recs[i]), int64(i), uint32(i), 1)
		}
	}
	fill()
	if a := testing.AllocsPerRun(5, fill); a != 0 {
		t.Fatalf("indexing %d records allocated %.0f times, want 0", len(recs), a)
	}
}

func BenchmarkIndexAdd(b *testing.B) {
	recs := indexRecords(rand.New(rand.NewPCG(1, 2)), 200_000, 20_000)
	keys := make([]ckey, len(recs))
	for i := range recs {
		keys[i] = ckeyOf(&recs[i])
	}
	x := newIdxBuilder()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(keys) {
			x.reset()
			i = 0
		}
		x.add(keys[i], int64(i), uint32(i), 1)
		i++
	}
}
