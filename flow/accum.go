package flow

import (
	"net/netip"
)

// Attempts counts what a source tried in an interval and what came back,
// so a scanner (many tries, most failed) stands apart from a P2P client or
// a busy server (many peers, answered).
type Attempts struct {
	// Tried counts distinct (destination, port) tries: TCP segments
	// without ACK (a SYN opening a connection, or a FIN/NULL/Xmas probe)
	// and UDP requests, each destination port once, plus one for ICMP
	// echo requests (a ping at the host).
	Tried uint64
	// Answered tries got a reply: a SYN-ACK, UDP back from the peer, or
	// an echo reply.
	Answered uint64
	// Refused tries were turned down: a RST, or ICMP destination
	// unreachable, from the destination. Refused tries are also Failed.
	Refused uint64
	// Failed tries got no answer within the interval, or were refused.
	Failed uint64
	// SYNs counts TCP connection openings, retries and repeats to the
	// same port included (brute force opens many to one port).
	SYNs uint64
}

func (a *Attempts) add(b *Attempts) {
	a.Tried += b.Tried
	a.Answered += b.Answered
	a.Refused += b.Refused
	a.Failed += b.Failed
	a.SYNs += b.SYNs
}

// PairStat is one directional address pair's interval.
type PairStat struct {
	Src, Dst netip.Addr
	Bytes    uint64 // bytes on the wire from Src to Dst
	Packets  uint64
	// Ports is the number of distinct destination ports tried (Attempts.Tried).
	Ports    uint64
	Attempts Attempts
	// DNSBytes and ICMPBytes are the parts of Bytes sent over DNS (port
	// 53, TCP or UDP) and ICMP.
	DNSBytes  uint64
	ICMPBytes uint64
	// New is set in the pair's first interval in the table: it had no
	// traffic in any earlier interval the table remembers.
	New bool
	// Unsolicited is set when the pair sent only answers (SYN-ACKs, UDP
	// replies, echo replies) to requests the reverse pair never made.
	Unsolicited bool
	// SrcLocal and DstLocal say whether Src and Dst are in the local
	// networks (Config.LocalNets), as decided when the pair was created.
	SrcLocal, DstLocal bool
	// Slot is the pair's position in its shard's table, stable while the
	// pair is tracked (a new pair may reuse it: see New). Detectors keep
	// per-pair state in side tables indexed by shard and Slot.
	Slot    int32
	samples portSample
}

// SamplePorts returns up to four of the destination ports tried (the
// first four), in ascending order, for the alert text. The slice is valid
// while p is.
func (p *PairStat) SamplePorts() []uint16 { return p.samples.all() }

// SourceStat is one source address's interval, summed over its pairs.
type SourceStat struct {
	Addr    netip.Addr
	Bytes   uint64 // sent
	Packets uint64
	// Dsts counts distinct destination hosts sent to; DstsTried those it
	// tried something new with; DstsFailed those where every try failed.
	Dsts       uint64
	DstsTried  uint64
	DstsFailed uint64
	// Attempts.Tried is the number of distinct (destination, port) tries.
	Attempts  Attempts
	DNSBytes  uint64
	ICMPBytes uint64
	peers     addrSample
	ports     portSample
}

// SamplePeers appends up to four of the destinations it tried, lowest
// first, to dst, for the alert text.
func (s *SourceStat) SamplePeers(dst []netip.Addr) []netip.Addr { return s.peers.appendTo(dst) }

// SamplePorts returns up to four destination ports tried, the lowest of
// its pairs' samples (see PairStat.SamplePorts), in ascending order.
func (s *SourceStat) SamplePorts() []uint16 { return s.ports.all() }

// DestStat is one destination address's interval, summed over its pairs.
type DestStat struct {
	Addr    netip.Addr
	Bytes   uint64 // received
	Packets uint64
	// Srcs counts distinct sources; SrcsTrying those that tried something
	// new with it (opened connections, sent requests); SrcsUnsolicited
	// those that sent it only answers to requests it never made (SYN-ACKs,
	// UDP replies, echo replies): the mark of a reflection attack, where
	// spoofed requests make servers answer the victim.
	Srcs            uint64
	SrcsTrying      uint64
	SrcsUnsolicited uint64
	// Attempts are the tries made towards this destination.
	Attempts Attempts
	peers    addrSample
	ports    portSample
}

// SamplePeers appends up to four of its sources, lowest first, to dst.
func (d *DestStat) SamplePeers(dst []netip.Addr) []netip.Addr { return d.peers.appendTo(dst) }

// SamplePorts returns up to four of the ports tried on it, the lowest of
// its pairs' samples, in ascending order.
func (d *DestStat) SamplePorts() []uint16 { return d.ports.all() }

// Traffic is an interval's totals over every pair, and the part of them
// that crossed the boundary of the local networks (Config.LocalNets).
type Traffic struct {
	Bytes, Packets uint64
	// Out is what local hosts sent to outside ones, In what they received
	// from outside; traffic between two local or two outside hosts is in
	// neither.
	OutBytes, OutPackets uint64
	InBytes, InPackets   uint64
	// First and Last are the times (ns since the Unix epoch) of the
	// earliest and latest packet counted in the interval; a late packet of
	// a reordered capture counts in the open interval, so First may lie
	// before the interval's start.
	First, Last int64
}

func (t *Traffic) add(o *Traffic) {
	t.Bytes += o.Bytes
	t.Packets += o.Packets
	t.OutBytes += o.OutBytes
	t.OutPackets += o.OutPackets
	t.InBytes += o.InBytes
	t.InPackets += o.InPackets
}

// HostStat is one local host's interval: what it sent and received.
type HostStat struct {
	Addr       netip.Addr
	BytesOut   uint64
	PacketsOut uint64
	BytesIn    uint64
	PacketsIn  uint64
	// PeersOut and PeersIn count the distinct hosts it sent to and
	// received from.
	PeersOut uint64
	PeersIn  uint64
}

// addrKey is an address in the flow key's two-word form.
type addrKey struct{ hi, lo uint64 }

func (k addrKey) addr() netip.Addr {
	return key{src0: k.hi, src1: k.lo}.srcAddr()
}

func (k addrKey) less(o addrKey) bool {
	return k.hi < o.hi || (k.hi == o.hi && k.lo < o.lo)
}

// accum holds one interval's values by address, at most max of them; a key
// that finds it full is dropped and counted. Its memory is reused from one
// interval to the next. Its index is open addressing over the key's words:
// every active pair looks up two or three keys at every close, and a Go
// map's hashing and clearing cost several times more.
type accum[T any] struct {
	slots   []int32 // 1 + position in vals, or 0 for empty
	mask    uint64
	keys    []addrKey
	vals    []T
	max     int
	dropped uint64
}

// newAccum reserves room for max values up front: reserved memory costs
// address space, not resident memory, until keys use it, and spares the
// copies of a growing slice when a flood of keys arrives.
func newAccum[T any](max int) accum[T] {
	a := accum[T]{keys: make([]addrKey, 0, max), vals: make([]T, 0, max), max: max}
	a.grow(1024)
	return a
}

func (k addrKey) hash() uint64 {
	const m = 0x9e3779b97f4a7c15
	h := (k.hi ^ 0xcbf29ce484222325) * m
	h = (h ^ k.lo) * m
	return h ^ h>>29
}

// grow makes an index of n positions (a power of two) over the keys held.
func (a *accum[T]) grow(n int) {
	a.slots = make([]int32, n)
	a.mask = uint64(n - 1)
	for i, k := range a.keys {
		p := k.hash() & a.mask
		for a.slots[p] != 0 {
			p = (p + 1) & a.mask
		}
		a.slots[p] = int32(i) + 1
	}
}

// get returns k's value, adding a zero one when absent; nil when full.
func (a *accum[T]) get(k addrKey) (v *T, created bool) {
	p := k.hash() & a.mask
	for {
		s := a.slots[p]
		if s == 0 {
			break
		}
		if a.keys[s-1] == k {
			return &a.vals[s-1], false
		}
		p = (p + 1) & a.mask
	}
	if len(a.vals) >= a.max {
		a.dropped++
		return nil, false
	}
	a.keys = append(a.keys, k)
	if len(a.keys)*2 > len(a.slots) {
		a.grow(len(a.slots) * 2)
	} else {
		a.slots[p] = int32(len(a.keys))
	}
	var zero T
	a.vals = append(a.vals, zero)
	return &a.vals[len(a.vals)-1], true
}

func (a *accum[T]) reset() {
	clear(a.slots)
	clear(a.vals) // drop the samples' address zones for the GC
	a.keys, a.vals = a.keys[:0], a.vals[:0]
	a.dropped = 0
}

// aggregates are one interval's keys beyond the pair, as one shard or the
// whole aggregator sees them.
type aggregates struct {
	traffic Traffic
	src     accum[SourceStat]
	dst     accum[DestStat]
	host    accum[HostStat]
}

func newAggregates(maxSrc, maxDst, maxHost int) *aggregates {
	return &aggregates{src: newAccum[SourceStat](maxSrc), dst: newAccum[DestStat](maxDst), host: newAccum[HostStat](maxHost)}
}

func (g *aggregates) reset() {
	g.traffic = Traffic{}
	g.src.reset()
	g.dst.reset()
	g.host.reset()
}

// attempts judges a pair's tries by what the reverse pair rev (nil when
// it sent nothing this interval) sent back.
func attempts(f, rev *flowState) Attempts {
	var echo uint64
	if f.marks&markEcho != 0 {
		echo = 1
	}
	tries := uint64(f.tcpTries) + uint64(f.udpTries) + echo
	a := Attempts{Tried: tries, SYNs: uint64(f.syn)}
	if rev != nil {
		tcpAns := min(uint64(f.tcpTries), uint64(rev.synAck))
		udpAns := min(uint64(f.udpTries), uint64(rev.udp))
		tcpRef := min(uint64(f.tcpTries)-tcpAns, uint64(rev.rst))
		udpRef := min(uint64(f.udpTries)-udpAns, uint64(rev.unreach))
		var echoAns, echoRef uint64
		if echo != 0 {
			if rev.marks&markEchoReply != 0 {
				echoAns = 1
			} else if uint64(rev.unreach) > udpRef {
				echoRef = 1
			}
		}
		a.Answered = tcpAns + udpAns + echoAns
		a.Refused = tcpRef + udpRef + echoRef
		// Bare ACKs to several ports, each reset: an ACK or window scan.
		// One port reset is a connection ending, not a probe.
		if f.ackProbes >= 2 {
			probes := min(uint64(f.ackProbes), uint64(rev.rst)-tcpRef)
			if probes >= 2 {
				a.Tried += probes
				a.Refused += probes
			}
		}
	}
	a.Failed = a.Tried - a.Answered
	return a
}

// answers reports whether f sent answers: SYN-ACKs, UDP from a service
// port to an ephemeral one, or echo replies.
func (f *flowState) answers() bool {
	return f.synAck > 0 || f.marks&(markUDPReply|markEchoReply) != 0
}

// unsolicited reports whether f answered requests its reverse pair rev
// (nil when it sent nothing this interval) never made: the mark of
// reflection, where spoofed requests make servers answer a victim.
func unsolicited(f, rev *flowState) bool {
	if !f.answers() {
		return false
	}
	if rev == nil {
		return true
	}
	return (f.synAck == 0 || rev.syn == 0) &&
		(f.marks&markUDPReply == 0 || rev.udp == 0) &&
		(f.marks&markEchoReply == 0 || rev.marks&markEcho == 0)
}

// pairStat measures a pair's interval, its tries judged by rev (see
// attempts).
func pairStat(f, rev *flowState) PairStat {
	a := attempts(f, rev)
	src, dst := f.key.addrs()
	p := PairStat{
		Src: src, Dst: dst, Bytes: f.bytes, Packets: uint64(f.packets), Ports: a.Tried, Attempts: a,
		DNSBytes: uint64(f.dnsBytes), ICMPBytes: uint64(f.icmpBytes), Unsolicited: unsolicited(f, rev),
		SrcLocal: f.bits&localSrc != 0, DstLocal: f.bits&localDst != 0,
	}
	for _, q := range f.ports[:f.nports] {
		p.samples.add(q)
	}
	return p
}

// fold adds a pair's interval, its tries judged by rev (see attempts), to
// the interval's traffic and per-source, per-destination and
// per-local-host values. Pairs are disjoint, so counting pairs counts
// distinct peers, and summing shards' values is exact. It runs for every
// active pair at every close, so it works on the key's words and builds an
// address only for a key new in the interval.
func (g *aggregates) fold(f, rev *flowState) {
	a := attempts(f, rev)
	bytes, packets := f.bytes, uint64(f.packets)
	t := &g.traffic
	t.Bytes += bytes
	t.Packets += packets
	switch f.bits & (localSrc | localDst) {
	case localSrc:
		t.OutBytes += bytes
		t.OutPackets += packets
	case localDst:
		t.InBytes += bytes
		t.InPackets += packets
	}
	sk, dk := addrKey{f.key.src0, f.key.src1}, addrKey{f.key.dst0, f.key.dst1}
	ports := f.ports[:f.nports]
	tried := a.Tried > 0
	if s, created := g.src.get(sk); s != nil {
		if created {
			s.Addr = sk.addr()
		}
		s.Bytes += bytes
		s.Packets += packets
		s.Dsts++
		if tried {
			s.DstsTried++
			if a.Failed == a.Tried {
				s.DstsFailed++
			}
			s.peers.add(dk)
		}
		s.Attempts.add(&a)
		s.DNSBytes += uint64(f.dnsBytes)
		s.ICMPBytes += uint64(f.icmpBytes)
		for _, q := range ports {
			s.ports.add(q)
		}
	}
	if d, created := g.dst.get(dk); d != nil {
		if created {
			d.Addr = dk.addr()
		}
		d.Bytes += bytes
		d.Packets += packets
		d.Srcs++
		if tried {
			d.SrcsTrying++
		}
		if unsolicited(f, rev) {
			d.SrcsUnsolicited++
		}
		d.peers.add(sk)
		d.Attempts.add(&a)
		for _, q := range ports {
			d.ports.add(q)
		}
	}
	if f.bits&localSrc != 0 {
		if h, created := g.host.get(sk); h != nil {
			if created {
				h.Addr = sk.addr()
			}
			h.BytesOut += bytes
			h.PacketsOut += packets
			h.PeersOut++
		}
	}
	if f.bits&localDst != 0 {
		if h, created := g.host.get(dk); h != nil {
			if created {
				h.Addr = dk.addr()
			}
			h.BytesIn += bytes
			h.PacketsIn += packets
			h.PeersIn++
		}
	}
}

// merge adds a shard's values into g (the aggregator's). A source's pairs
// live on several shards, each holding different destinations, so the
// counts add up exactly.
func (g *aggregates) merge(o *aggregates) {
	g.traffic.add(&o.traffic)
	g.traffic.First, g.traffic.Last = o.traffic.First, o.traffic.Last // the same on every shard
	mergeAccum(&g.src, &o.src, (*SourceStat).add)
	mergeAccum(&g.dst, &o.dst, (*DestStat).add)
	mergeAccum(&g.host, &o.host, (*HostStat).add)
}

// mergeAccum adds src's values into dst by key: a key new to dst is
// copied whole, the others summed by add.
func mergeAccum[T any](dst, src *accum[T], add func(d, v *T)) {
	for i := range src.vals {
		switch d, created := dst.get(src.keys[i]); {
		case d == nil: // dst is full: counted in its dropped
		case created:
			*d = src.vals[i]
		default:
			add(d, &src.vals[i])
		}
	}
}

func (s *SourceStat) add(v *SourceStat) {
	s.Bytes += v.Bytes
	s.Packets += v.Packets
	s.Dsts += v.Dsts
	s.DstsTried += v.DstsTried
	s.DstsFailed += v.DstsFailed
	s.Attempts.add(&v.Attempts)
	s.DNSBytes += v.DNSBytes
	s.ICMPBytes += v.ICMPBytes
	s.peers.merge(&v.peers)
	s.ports.merge(&v.ports)
}

func (d *DestStat) add(v *DestStat) {
	d.Bytes += v.Bytes
	d.Packets += v.Packets
	d.Srcs += v.Srcs
	d.SrcsTrying += v.SrcsTrying
	d.SrcsUnsolicited += v.SrcsUnsolicited
	d.Attempts.add(&v.Attempts)
	d.peers.merge(&v.peers)
	d.ports.merge(&v.ports)
}

func (h *HostStat) add(v *HostStat) {
	h.BytesOut += v.BytesOut
	h.PacketsOut += v.PacketsOut
	h.BytesIn += v.BytesIn
	h.PacketsIn += v.PacketsIn
	h.PeersOut += v.PeersOut
	h.PeersIn += v.PeersIn
}

// sampleSize is how many sample peers or ports a key keeps for the alert
// text. The lowest values are kept, so the sample does not depend on the
// order packets arrived in or on the shard count.
const sampleSize = 4

// addrSample holds addresses in key form: no pointers, and 16 bytes each
// instead of netip.Addr's 24.
type addrSample struct {
	n int8
	a [sampleSize]addrKey
}

func (s *addrSample) appendTo(dst []netip.Addr) []netip.Addr {
	for _, k := range s.a[:s.n] {
		dst = append(dst, k.addr())
	}
	return dst
}

func (s *addrSample) add(a addrKey) {
	i := int(s.n)
	for j := range i {
		if s.a[j] == a {
			return
		}
	}
	if i == sampleSize {
		if !a.less(s.a[i-1]) {
			return
		}
		i--
	} else {
		s.n++
	}
	for ; i > 0 && a.less(s.a[i-1]); i-- {
		s.a[i] = s.a[i-1]
	}
	s.a[i] = a
}

func (s *addrSample) merge(o *addrSample) {
	for _, a := range o.a[:o.n] {
		s.add(a)
	}
}

type portSample struct {
	n int8
	p [sampleSize]uint16
}

func (s *portSample) all() []uint16 { return s.p[:s.n] }

func (s *portSample) add(p uint16) {
	i := int(s.n)
	for j := range i {
		if s.p[j] == p {
			return
		}
	}
	if i == sampleSize {
		if p >= s.p[i-1] {
			return
		}
		i--
	} else {
		s.n++
	}
	for ; i > 0 && p < s.p[i-1]; i-- {
		s.p[i] = s.p[i-1]
	}
	s.p[i] = p
}

func (s *portSample) merge(o *portSample) {
	for _, p := range o.p[:o.n] {
		s.add(p)
	}
}
