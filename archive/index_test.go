package archive

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
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
		got := x.snapshot(nil, func(connKey) bool { return true })
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

// An index written to its file gives back, through the address buckets,
// exactly the connections of any one address with exactly their records,
// as the whole file read in order does.
func TestIndexFileLookup(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	recs := indexRecords(rng, 30_000, 2500)
	x := newIdxBuilder()
	want := make(map[connKey][]uint32)
	for i := range recs {
		k := makeConnKey(&recs[i])
		want[k] = append(want[k], uint32(i))
		x.add(ckeyOf(&recs[i]), int64(i), uint32(i), 1)
	}
	x.size = int64(len(recs)) * pcapRecordHeaderLen
	path := filepath.Join(t.TempDir(), "seg-000000000001.idx")
	if err := writeFileAtomic(path, x.writeTo); err != nil {
		t.Fatal(err)
	}
	all, err := readIndex(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.order) != len(want) {
		t.Fatalf("file lists %d connections, want %d", len(all.order), len(want))
	}
	check := func(what string, c *connRecs) {
		t.Helper()
		w := want[c.key]
		if len(c.recs) != len(w) {
			t.Fatalf("%s: %v has %d records, want %d", what, c.key, len(c.recs), len(w))
		}
		for j, ref := range c.recs {
			if ref.off != w[j] || ref.n != 1 {
				t.Fatalf("%s: %v record %d at %d, want %d", what, c.key, j, ref.off, w[j])
			}
		}
	}
	for _, c := range all.order {
		check("whole file", c)
	}
	// Every address seen, and one never seen.
	addrs := map[netip.Addr]bool{netip.MustParseAddr("198.51.100.1"): true}
	for k := range want {
		addrs[k.a], addrs[k.b] = true, true
	}
	for a := range addrs {
		got, err := lookupIndex(path, []netip.Addr{a}, func(c *connRecs) bool { return c.key.a == a || c.key.b == a })
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k := range want {
			if k.a == a || k.b == a {
				n++
			}
		}
		if len(got.order) != n {
			t.Fatalf("lookup of %s: %d connections, want %d", a, len(got.order), n)
		}
		for _, c := range got.order {
			check("lookup of "+a.String(), c)
		}
	}
	// A cut-off or foreign file is refused, never misread.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-1], 0o640)
	if _, err := lookupIndex(path, []netip.Addr{netip.MustParseAddr("192.0.2.1")}, func(*connRecs) bool { return true }); !errors.Is(err, errBadIndex) {
		t.Fatalf("cut index: %v, want errBadIndex", err)
	}
	b[7] = 2 // the previous version's magic
	os.WriteFile(path, b, 0o640)
	if _, err := readIndexHeader(path); !errors.Is(err, errBadIndex) {
		t.Fatalf("version 2 index: %v, want errBadIndex", err)
	}
}
