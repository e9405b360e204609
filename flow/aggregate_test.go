package flow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/capture"
)

// recorder keeps copies of everything an Observer is handed.
type recorder struct {
	mu        sync.Mutex
	pairs     map[int64][]PairStat
	series    map[string][]float64 // "src->dst@interval"
	intervals []Interval
	aggs      []Aggregates
}

func newRecorder() *recorder {
	return &recorder{pairs: map[int64][]PairStat{}, series: map[string][]float64{}}
}

func (r *recorder) ObservePairs(shard int, iv Interval, v *PairView) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range v.Len() {
		p := v.Pair(i)
		r.pairs[iv.Index] = append(r.pairs[iv.Index], p)
		r.series[fmt.Sprintf("%s->%s@%d", p.Src, p.Dst, iv.Index)] = v.Series(i, nil)
	}
}

func (r *recorder) ObserveInterval(iv Interval, agg *Aggregates) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.intervals = append(r.intervals, iv)
	r.aggs = append(r.aggs, Aggregates{
		Traffic: agg.Traffic,
		Sources: slices.Clone(agg.Sources), Dests: slices.Clone(agg.Dests), Hosts: slices.Clone(agg.Hosts),
		SourcesDropped: agg.SourcesDropped, DestsDropped: agg.DestsDropped, HostsDropped: agg.HostsDropped,
	})
}

func (r *recorder) source(t *testing.T, i int, addr string) SourceStat {
	t.Helper()
	for _, s := range r.aggs[i].Sources {
		if s.Addr == netip.MustParseAddr(addr) {
			return s
		}
	}
	t.Fatalf("interval %d: no source %s", i, addr)
	return SourceStat{}
}

func (r *recorder) dest(t *testing.T, i int, addr string) DestStat {
	t.Helper()
	for _, d := range r.aggs[i].Dests {
		if d.Addr == netip.MustParseAddr(addr) {
			return d
		}
	}
	t.Fatalf("interval %d: no destination %s", i, addr)
	return DestStat{}
}

func (r *recorder) host(t *testing.T, i int, addr string) (HostStat, bool) {
	t.Helper()
	for _, h := range r.aggs[i].Hosts {
		if h.Addr == netip.MustParseAddr(addr) {
			return h, true
		}
	}
	return HostStat{}, false
}

func tcpRec(at time.Duration, src, dst string, sport, dport uint16, flags uint8, bytes uint32) capture.Record {
	r := rec(at, src, dst, bytes)
	r.Proto, r.SrcPort, r.DstPort, r.TCPFlags = 6, sport, dport, flags
	return r
}

func udpRec(at time.Duration, src, dst string, sport, dport uint16, bytes uint32) capture.Record {
	r := rec(at, src, dst, bytes)
	r.Proto, r.SrcPort, r.DstPort = 17, sport, dport
	return r
}

func icmpRec(at time.Duration, src, dst string, typ uint8, bytes uint32) capture.Record {
	r := rec(at, src, dst, bytes)
	r.Proto, r.ICMPType = 1, typ
	return r
}

const (
	syn    = capture.FlagSYN
	synAck = capture.FlagSYN | capture.FlagACK
	ack    = capture.FlagACK
	rstAck = capture.FlagRST | capture.FlagACK
)

// observe runs recs through an aggregator with an Observer and returns what
// it saw.
func observe(t *testing.T, shards int, mutate func(*Config), recs []capture.Record) (*recorder, Stats) {
	t.Helper()
	r := newRecorder()
	h := newHarness(t, func(c *Config) {
		c.Shards = shards
		c.Observer = r
		if mutate != nil {
			mutate(c)
		}
	})
	for i := 0; i < len(recs); i += 100 {
		h.agg.Records(recs[i:min(i+100, len(recs))])
	}
	h.agg.Close()
	return r, h.agg.Stats()
}

// The numbers a scan detector relies on, for traffic whose answers are
// known: a vertical scan nobody answers, a horizontal scan the targets
// refuse, a UDP sweep answered by ICMP unreachable, a P2P client whose
// peers all answer, and a busy server replying to its clients.
func TestAggregatesCountTriesApartFromAnswers(t *testing.T) {
	var recs []capture.Record
	at := time.Second
	// 20 SYNs to 20 ports of one host, no answer; one port retried.
	for p := range 20 {
		recs = append(recs, tcpRec(at, "203.0.113.66", "10.0.0.5", 40000, uint16(1000+p), syn, 60))
	}
	recs = append(recs, tcpRec(at, "203.0.113.66", "10.0.0.5", 40001, 1000, syn, 60))
	// 30 hosts' port 22, refused by 25 of them, answered by 5.
	for i := range 30 {
		dst := fmt.Sprintf("10.0.1.%d", i)
		recs = append(recs, tcpRec(at, "10.0.0.99", dst, 50000, 22, syn, 60))
		if i < 25 {
			recs = append(recs, tcpRec(at, dst, "10.0.0.99", 22, 50000, rstAck, 54))
		} else {
			recs = append(recs, tcpRec(at, dst, "10.0.0.99", 22, 50000, synAck, 60))
		}
	}
	// A UDP sweep of 10 ports: 6 refused by ICMP port unreachable.
	for p := range 10 {
		recs = append(recs, udpRec(at, "10.0.0.7", "198.51.100.3", 5000, uint16(100+p), 80))
	}
	for range 6 {
		recs = append(recs, icmpRec(at, "198.51.100.3", "10.0.0.7", 3, 110))
	}
	// A P2P client: 50 peers, each connection answered and used.
	for i := range 50 {
		peer := fmt.Sprintf("192.0.2.%d", i+1)
		recs = append(recs,
			tcpRec(at, "10.0.0.8", peer, 6881, 51413, syn, 60),
			tcpRec(at, peer, "10.0.0.8", 51413, 6881, synAck, 60),
			tcpRec(at, "10.0.0.8", peer, 6881, 51413, ack, 1500))
	}
	// A busy server: 40 clients connect to it; it answers every one.
	for i := range 40 {
		client := fmt.Sprintf("198.18.0.%d", i+1)
		recs = append(recs,
			tcpRec(at, client, "10.0.0.9", uint16(30000+i), 443, syn, 60),
			tcpRec(at, "10.0.0.9", client, 443, uint16(30000+i), synAck, 60),
			tcpRec(at, "10.0.0.9", client, 443, uint16(30000+i), ack, 1500))
	}
	// DNS and ICMP volume from one host.
	recs = append(recs,
		udpRec(at, "10.0.0.10", "10.0.0.53", 33333, 53, 300),
		udpRec(at, "10.0.0.53", "10.0.0.10", 53, 33333, 500),
		icmpRec(at, "10.0.0.10", "198.51.100.9", 8, 1000))

	for _, shards := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			r, _ := observe(t, shards, nil, recs)
			if len(r.aggs) != 1 || r.intervals[0].Start != t0 || r.intervals[0].Length != 5*time.Second {
				t.Fatalf("intervals %+v; want one, starting %s", r.intervals, t0)
			}
			check := func(name string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: got %v, want %v", name, got, want)
				}
			}
			v := r.source(t, 0, "203.0.113.66")
			check("vertical scanner attempts", v.Attempts, Attempts{Tried: 20, Failed: 20, SYNs: 21})
			check("vertical scanner dsts", []uint64{v.Dsts, v.DstsTried, v.DstsFailed}, []uint64{1, 1, 1})
			check("vertical scanner sample ports", v.SamplePorts(), []uint16{1000, 1001, 1002, 1003})
			check("vertical scanner sample peers", v.SamplePeers(nil), []netip.Addr{netip.MustParseAddr("10.0.0.5")})
			var pair PairStat
			for _, p := range r.pairs[r.intervals[0].Index] {
				if p.Src.String() == "203.0.113.66" {
					pair = p
				}
			}
			check("vertical scan pair ports", []any{pair.Ports, pair.Packets, pair.New}, []any{20, 21, true})

			hs := r.source(t, 0, "10.0.0.99")
			check("horizontal scanner attempts", hs.Attempts, Attempts{Tried: 30, Answered: 5, Refused: 25, Failed: 25, SYNs: 30})
			check("horizontal scanner dsts", []uint64{hs.Dsts, hs.DstsTried, hs.DstsFailed}, []uint64{30, 30, 25})
			check("horizontal scanner sample peers", hs.SamplePeers(nil), []netip.Addr{
				netip.MustParseAddr("10.0.1.0"), netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.1.3")})

			u := r.source(t, 0, "10.0.0.7")
			check("udp sweep attempts", u.Attempts, Attempts{Tried: 10, Refused: 6, Failed: 10})
			check("udp sweep target's icmp", r.source(t, 0, "198.51.100.3").ICMPBytes, 660)

			p2p := r.source(t, 0, "10.0.0.8")
			check("p2p client attempts", p2p.Attempts, Attempts{Tried: 50, Answered: 50, SYNs: 50})
			check("p2p client dsts", []uint64{p2p.Dsts, p2p.DstsTried, p2p.DstsFailed}, []uint64{50, 50, 0})

			srv := r.source(t, 0, "10.0.0.9")
			check("server attempts", srv.Attempts, Attempts{})
			check("server dsts", []uint64{srv.Dsts, srv.Bytes, srv.Packets}, []uint64{40, 40 * 1560, 80})
			d := r.dest(t, 0, "10.0.0.9")
			check("server as destination", []uint64{d.Srcs, d.SrcsTrying, d.Attempts.Tried, d.Attempts.Answered, d.Bytes}, []uint64{40, 40, 40, 40, 40 * 60})
			check("server sample ports", d.SamplePorts(), []uint16{443})

			dns := r.source(t, 0, "10.0.0.10")
			check("dns and icmp bytes", []uint64{dns.DNSBytes, dns.ICMPBytes, dns.Bytes}, []uint64{300, 1000, 1300})
			check("resolver dns bytes", r.source(t, 0, "10.0.0.53").DNSBytes, 500)

			// Local hosts: 10.0.0.9 sent 40*1560 and received 40*60; an
			// external address is no local host.
			h, ok := r.host(t, 0, "10.0.0.9")
			check("server host", []any{ok, h.BytesOut, h.PacketsOut, h.BytesIn, h.PacketsIn, h.PeersOut, h.PeersIn},
				[]any{true, 40 * 1560, 80, 40 * 60, 40, 40, 40})
			if _, ok := r.host(t, 0, "203.0.113.66"); ok {
				t.Error("203.0.113.66 counted as a local host")
			}
			if a := r.aggs[0]; a.SourcesDropped+a.DestsDropped+a.HostsDropped != 0 {
				t.Errorf("keys dropped: %+v", a)
			}
			if !slices.IsSortedFunc(r.aggs[0].Sources, func(x, y SourceStat) int { return x.Addr.Compare(y.Addr) }) {
				t.Error("sources not sorted by address")
			}
		})
	}
}

// Aggregates cover one interval each: a pair's tries are judged only by
// replies within the interval, sums restart at each boundary, and the pair
// series handed over ends with the closed interval.
func TestAggregatesPerInterval(t *testing.T) {
	recs := []capture.Record{
		tcpRec(1*time.Second, "10.0.0.1", "198.51.100.1", 40000, 443, syn, 60),
		tcpRec(2*time.Second, "10.0.0.1", "198.51.100.1", 40000, 443, ack, 940),
		// The answer comes in the next interval: too late for the first.
		tcpRec(6*time.Second, "198.51.100.1", "10.0.0.1", 443, 40000, synAck, 60),
		tcpRec(7*time.Second, "10.0.0.1", "198.51.100.1", 40000, 443, ack, 500),
		tcpRec(16*time.Second, "10.0.0.1", "198.51.100.1", 40000, 443, ack, 250),
	}
	r, _ := observe(t, 2, nil, recs)
	if len(r.aggs) != 3 {
		t.Fatalf("%d intervals observed, want 3 (the idle one in between is not reported)", len(r.aggs))
	}
	if got := r.source(t, 0, "10.0.0.1"); got.Bytes != 1000 || got.Attempts != (Attempts{Tried: 1, Failed: 1, SYNs: 1}) {
		t.Errorf("first interval %+v", got)
	}
	if got := r.source(t, 1, "10.0.0.1"); got.Bytes != 500 || got.Attempts != (Attempts{}) {
		t.Errorf("second interval %+v", got)
	}
	base := t0.UnixNano() / int64(5*time.Second)
	if got := r.series[fmt.Sprintf("10.0.0.1->198.51.100.1@%d", base+3)]; fmt.Sprint(got) != "[1000 500 0 250]" {
		t.Errorf("series at the last interval %v, want [1000 500 0 250]", got)
	}
	first := map[string]int64{"10.0.0.1": base, "198.51.100.1": base + 1} // by source
	for idx, ps := range r.pairs {
		for _, p := range ps {
			if p.New != (idx == first[p.Src.String()]) {
				t.Errorf("interval %d pair %s->%s New=%v", idx-base, p.Src, p.Dst, p.New)
			}
		}
	}
}

// A ping sweep tries hosts: each echo request is a try, answered by an
// echo reply, refused by an unreachable. Answers to requests never made
// (reflection) are counted per destination; answers to its own requests
// are not.
func TestEchoTriesAndUnsolicitedAnswers(t *testing.T) {
	var recs []capture.Record
	for i := range 5 {
		recs = append(recs, icmpRec(time.Second, "192.0.2.9", fmt.Sprintf("10.0.0.%d", i+1), 8, 64))
	}
	recs = append(recs,
		icmpRec(2*time.Second, "10.0.0.1", "192.0.2.9", 0, 64),
		icmpRec(2*time.Second, "10.0.0.2", "192.0.2.9", 0, 64),
		icmpRec(2*time.Second, "10.0.0.3", "192.0.2.9", 3, 92),
		// Reflection towards 10.0.0.50: SYN-ACKs, an SNMP reply and an
		// echo reply it never asked for, and one SYN-ACK it did ask for.
		tcpRec(time.Second, "198.51.100.1", "10.0.0.50", 80, 40000, synAck, 60),
		tcpRec(time.Second, "198.51.100.2", "10.0.0.50", 443, 40001, synAck, 60),
		udpRec(time.Second, "198.51.100.3", "10.0.0.50", 161, 40002, 400),
		icmpRec(time.Second, "198.51.100.4", "10.0.0.50", 0, 64),
		tcpRec(time.Second, "10.0.0.50", "198.51.100.5", 40003, 443, syn, 60),
		tcpRec(2*time.Second, "198.51.100.5", "10.0.0.50", 443, 40003, synAck, 60),
	)
	for _, shards := range []int{1, 3} {
		r, _ := observe(t, shards, nil, recs)
		got := r.source(t, 0, "192.0.2.9")
		if want := (Attempts{Tried: 5, Answered: 2, Refused: 1, Failed: 3}); got.Attempts != want || got.DstsTried != 5 || got.DstsFailed != 3 {
			t.Errorf("%d shards: the ping sweep: %+v, want %+v, 5 hosts tried, 3 failed", shards, got, want)
		}
		if d := r.dest(t, 0, "10.0.0.50"); d.SrcsUnsolicited != 4 || d.Srcs != 5 {
			t.Errorf("%d shards: the reflection's victim: %d unsolicited of %d sources, want 4 of 5", shards, d.SrcsUnsolicited, d.Srcs)
		}
		if d := r.dest(t, 0, "192.0.2.9"); d.SrcsUnsolicited != 0 {
			t.Errorf("%d shards: the pinger's echo replies counted as unsolicited: %+v", shards, d)
		}
	}
}

// Bare ACKs to several ports, each reset, are an ACK (or window) scan: the
// resets count as refused tries. One connection reset is not a probe, nor
// are the ACKs of an established transfer.
func TestResetACKProbesAreRefusedTries(t *testing.T) {
	var recs []capture.Record
	for p := range 20 {
		recs = append(recs,
			tcpRec(time.Second, "192.0.2.7", "10.0.0.9", 53073, uint16(1000+p), ack, 54),
			tcpRec(time.Second, "10.0.0.9", "192.0.2.7", uint16(1000+p), 53073, capture.FlagRST, 54))
	}
	// A transfer's ACKs, and a connection that ends with a reset.
	for range 30 {
		recs = append(recs, tcpRec(2*time.Second, "10.0.0.5", "198.51.100.1", 40000, 443, ack, 54),
			tcpRec(2*time.Second, "198.51.100.1", "10.0.0.5", 443, 40000, ack, 1500))
	}
	recs = append(recs, tcpRec(3*time.Second, "10.0.0.6", "198.51.100.2", 40001, 443, ack, 54),
		tcpRec(3*time.Second, "198.51.100.2", "10.0.0.6", 443, 40001, rstAck, 54))
	// A port probed by ACK and then tried is a try, and the tried ports
	// are counted apart from the ACK ones.
	recs = append(recs, tcpRec(time.Second, "192.0.2.8", "10.0.0.9", 53000, 22, ack, 54),
		tcpRec(time.Second, "192.0.2.8", "10.0.0.9", 53000, 23, ack, 54),
		tcpRec(time.Second, "192.0.2.8", "10.0.0.9", 53001, 22, syn, 60))
	r, _ := observe(t, 2, nil, recs)
	if got := r.source(t, 0, "192.0.2.8").Attempts; got != (Attempts{Tried: 1, Failed: 1, SYNs: 1}) {
		t.Errorf("ACKs then a SYN: %+v, want the SYN's one try", got)
	}
	if got := r.source(t, 0, "192.0.2.7").Attempts; got != (Attempts{Tried: 20, Refused: 20, Failed: 20}) {
		t.Errorf("the ACK scan: %+v, want 20 refused tries", got)
	}
	for _, src := range []string{"10.0.0.5", "10.0.0.6", "198.51.100.1"} {
		if got := r.source(t, 0, src).Attempts; got.Tried != 0 {
			t.Errorf("%s: %+v, want no tries", src, got)
		}
	}
}

// An interval's traffic sums every pair, splits out and in at the local
// networks, and spans its packets' times, in whatever order they came; a
// pair evicted mid-interval still counts.
func TestTrafficSumsEveryPairAndSplitsOutAndIn(t *testing.T) {
	recs := []capture.Record{
		rec(1*time.Second, "10.0.0.1", "198.51.100.1", 1000),      // out
		rec(2*time.Second, "198.51.100.1", "10.0.0.1", 300),       // in
		rec(3*time.Second, "10.0.0.1", "10.0.0.2", 50),            // local to local
		rec(4*time.Second, "198.51.100.1", "198.51.100.2", 7),     // outside to outside
		rec(500*time.Millisecond, "10.0.0.3", "198.51.100.9", 11), // out of order: out
		rec(6*time.Second, "10.0.0.1", "198.51.100.1", 5),
	}
	for _, shards := range []int{1, 3} {
		r, _ := observe(t, shards, func(c *Config) { c.MaxFlows = 3 }, recs)
		if len(r.aggs) != 2 {
			t.Fatalf("%d intervals, want 2", len(r.aggs))
		}
		want := Traffic{Bytes: 1368, Packets: 5, OutBytes: 1011, OutPackets: 2, InBytes: 300, InPackets: 1,
			First: t0.Add(500 * time.Millisecond).UnixNano(), Last: t0.Add(4 * time.Second).UnixNano()}
		if got := r.aggs[0].Traffic; got != want {
			t.Errorf("%d shards: first interval %+v, want %+v", shards, got, want)
		}
		if got := r.aggs[1].Traffic; got.Bytes != 5 || got.OutBytes != 5 || got.First != t0.Add(6*time.Second).UnixNano() || got.First != got.Last {
			t.Errorf("%d shards: second interval %+v", shards, got)
		}
	}
}

// -local_nets decides which hosts are summed as local.
func TestLocalNetsDecideLocalHosts(t *testing.T) {
	nets, err := ParseLocalNets("203.0.113.0/24, 2001:db8::7")
	if err != nil {
		t.Fatal(err)
	}
	recs := []capture.Record{
		rec(0, "203.0.113.5", "198.51.100.1", 100),
		rec(0, "10.0.0.1", "198.51.100.1", 100),
		rec(0, "2001:db8::7", "2001:db8::8", 100),
	}
	r, _ := observe(t, 2, func(c *Config) { c.LocalNets = nets }, recs)
	var got []string
	for _, h := range r.aggs[0].Hosts {
		got = append(got, h.Addr.String())
	}
	if fmt.Sprint(got) != "[203.0.113.5 2001:db8::7]" {
		t.Fatalf("local hosts %v; want 203.0.113.5 and 2001:db8::7 only", got)
	}
	for _, ps := range r.pairs {
		for _, p := range ps {
			want := [2]bool{p.Src.String() != "10.0.0.1", false} // no destination is in the networks
			if [2]bool{p.SrcLocal, p.DstLocal} != want {
				t.Errorf("pair %s->%s: local %v %v, want %v", p.Src, p.Dst, p.SrcLocal, p.DstLocal, want)
			}
		}
	}
	if _, err := ParseLocalNets("10.0.0.0/8,nonsense"); err == nil || !containsStr(err.Error(), "-local_nets") || !containsStr(err.Error(), `"nonsense"`) {
		t.Errorf("bad -local_nets: %v", err)
	}
	// The defaults hold the private, shared, link-local, unique-local and
	// loopback ranges, and nothing public.
	def := makeWordPrefixes(DefaultLocalNets())
	for addr, want := range map[string]bool{
		"10.1.2.3": true, "172.31.0.1": true, "192.168.1.1": true, "100.64.0.1": true, "169.254.0.9": true,
		"127.0.0.1": true, "fd12::1": true, "fe80::1": true, "::1": true,
		"8.8.8.8": false, "172.32.0.1": false, "2001:db8::1": false, "100.128.0.1": false,
	} {
		k := makeKey(netip.MustParseAddr(addr), netip.MustParseAddr(addr))
		if got := localIn(def, k.src0, k.src1); got != want {
			t.Errorf("%s local=%v, want %v", addr, got, want)
		}
	}
}

// A vertical scan past the pool of port sets still counts its tries (as an
// upper bound) and says so; within the pool every port counts once.
func TestPortSetsExactThenCapped(t *testing.T) {
	var recs []capture.Record
	for _, src := range []string{"203.0.113.1", "203.0.113.2"} {
		for p := range 300 {
			recs = append(recs, tcpRec(time.Second, src, "10.0.0.5", 40000, uint16(p+1), syn, 60))
			recs = append(recs, tcpRec(time.Second, src, "10.0.0.5", 40000, uint16(p+1), syn, 60)) // a retry
		}
	}
	r, st := observe(t, 1, func(c *Config) { c.MaxPortSets = 1 }, recs)
	a, b := r.source(t, 0, "203.0.113.1"), r.source(t, 0, "203.0.113.2")
	if a.Attempts.Tried != 300 || st.PortSetsFull != 1 || b.Attempts.Tried != 4+2*296 {
		t.Fatalf("tries %d and %d, port sets full %d; want 300 exact, then 596 counted per packet, 1 full", a.Attempts.Tried, b.Attempts.Tried, st.PortSetsFull)
	}
}

func TestConfigValidateCaps(t *testing.T) {
	base := Config{Interval: time.Second, SeriesCap: 10, IdleTimeout: time.Minute, MaxFlows: 100, Threshold: 0.6,
		NewDetector: func(*rand.Rand) anomaly.Detector { return nil }, Baseline: func([]float64) float64 { return 0 }}
	c := base
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.MaxSources != DefaultMaxKeys || c.MaxDests != DefaultMaxKeys || c.MaxHosts != DefaultMaxKeys ||
		c.MaxPortSets != DefaultMaxPortSets || len(c.LocalNets) == 0 {
		t.Errorf("defaults not filled: %+v", c)
	}
	for _, flag := range []string{"-max_sources", "-max_dests", "-max_hosts", "-max_port_sets"} {
		c := base
		switch flag {
		case "-max_sources":
			c.MaxSources = -1
		case "-max_dests":
			c.MaxDests = -1
		case "-max_hosts":
			c.MaxHosts = -1
		case "-max_port_sets":
			c.MaxPortSets = -1
		}
		if err := c.Validate(); err == nil || !containsStr(err.Error(), flag) {
			t.Errorf("%s -1: %v", flag, err)
		}
	}
}

func TestClock(t *testing.T) {
	c := NewClock(5 * time.Second)
	if c.Started() {
		t.Fatal("a new clock has an open interval")
	}
	if got := c.Index(-1); got != -1 {
		t.Errorf("Index(-1ns) = %d, want -1", got)
	}
	idx := c.Index(t0.Add(7 * time.Second).UnixNano())
	c.Open(idx)
	c.Open(idx - 3) // never backwards
	iv := c.Interval(c.Current())
	if !c.Started() || c.Current() != idx || !iv.Start.Equal(t0.Add(5*time.Second)) || !iv.End().Equal(t0.Add(10*time.Second)) {
		t.Errorf("clock at %d, interval %+v", c.Current(), iv)
	}
}
