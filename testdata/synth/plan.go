package synth

// event is one packet to write: which conversation, which direction, how
// much transport payload, when. Kept to 16 bytes: a big interval holds
// millions of them.
type event struct {
	ts    int64 // ns since the epoch
	conv  int32
	size  uint16 // transport payload bytes
	dir   uint8  // 0: side 0 to side 1; 1: back
	flags uint8  // TCP flags to send; 0: ACK, or PSH|ACK with a payload
}

// sortByTime orders events by timestamp with an LSD radix sort over the
// offsets from base (all below span). Radix sorting is stable: events with
// equal timestamps keep the order they were planned in, so the result is
// fully defined and cannot change with a sort algorithm. It returns the
// sorted slice and the other buffer, for reuse.
func sortByTime(ev, scratch []event, base, span int64) (sorted, spare []event) {
	const digit = 11
	var count [1 << digit]int
	if cap(scratch) < len(ev) {
		scratch = make([]event, len(ev), cap(ev))
	}
	src, dst := ev, scratch[:len(ev)]
	for shift := 0; span>>shift > 0; shift += digit {
		clear(count[:])
		for i := range src {
			count[(src[i].ts-base)>>shift&(1<<digit-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for i := range src {
			d := (src[i].ts - base) >> shift & (1<<digit - 1)
			dst[count[d]] = src[i]
			count[d]++
		}
		src, dst = dst, src
	}
	return src, dst
}

// model makes the conversations of a scenario and the packets of each interval.
type model interface {
	// plan appends the events of interval i, the window [lo, hi) of it that
	// the capture covers, to p.events.
	plan(p *planner, i int, lo, hi int64)
}

// planner is the state models share: the conversations, the events of the
// interval being planned, and the random streams.
type planner struct {
	convs    []conv
	events   []event
	spare    []event // the radix sort's other buffer
	plan     *rng    // volumes, counts and sizes
	time     *rng    // timestamps: its own stream, so -nanosecond changes nothing else
	res      int64
	interval int64
	npairs   int
	pairs    map[[33]byte]int32 // directional pair -> id
	tracks   []track
}

// pairID returns the id of the directional pair src->dst, numbering new
// pairs in the order they are first seen.
func (p *planner) pairID(src, dst [16]byte, v6 bool) int32 {
	var k [33]byte
	copy(k[:16], src[:])
	copy(k[16:32], dst[:])
	if v6 {
		k[32] = 1
	}
	id, ok := p.pairs[k]
	if !ok {
		id = int32(len(p.pairs))
		p.pairs[k] = id
	}
	return id
}

// addConv registers c's two directions as pairs and appends it.
func (p *planner) addConv(c conv) int32 {
	c.pair[0] = p.pairID(c.addr[0], c.addr[1], c.v6)
	c.pair[1] = p.pairID(c.addr[1], c.addr[0], c.v6)
	p.convs = append(p.convs, c)
	return int32(len(p.convs) - 1)
}

// track counts one labelled pair over one interval as packets are written.
type track struct {
	pair    int32
	lo, hi  int64
	label   Label
	packets int64
	bytes   int64
}

// at returns a random timestamp in [lo, hi) at the planner's resolution.
func (p *planner) at(lo, hi int64) int64 {
	lo = (lo + p.res - 1) / p.res * p.res
	return lo + p.time.int63n((hi-lo+p.res-1)/p.res)*p.res
}

// after returns t plus a delay of lo to hi microseconds, kept before end.
func (p *planner) after(t int64, lo, hi int, end int64) int64 {
	d := int64(p.time.between(lo, hi)) * 1000
	if t+d >= end {
		return t
	}
	return t + d/p.res*p.res
}

func (p *planner) add(ci int32, dir uint8, size int, ts int64) {
	p.events = append(p.events, event{ts: ts, conv: ci, dir: dir, size: uint16(size)})
}

// addTCP adds a TCP packet with the given flags (SYN, RST ...).
func (p *planner) addTCP(ci int32, dir uint8, size int, flags uint8, ts int64) {
	p.events = append(p.events, event{ts: ts, conv: ci, dir: dir, size: uint16(size), flags: flags})
}

// transfer sends payload bytes from side dir of conversation ci in packets
// of at most seg bytes, with one acknowledgement back per ackEvery data
// packets carrying ackLo to ackHi bytes (0 for TCP), at random moments of
// [lo, hi). Sequence and acknowledgement numbers are set when packets are
// written, in time order, so they stay consistent.
func (p *planner) transfer(ci int32, dir uint8, payload int64, seg, ackEvery, ackLo, ackHi int, lo, hi int64) {
	n := 0
	for payload > 0 {
		k := int(min(payload, int64(seg)))
		p.add(ci, dir, k, p.at(lo, hi))
		payload -= int64(k)
		n++
	}
	for range (n + ackEvery - 1) / ackEvery {
		p.add(ci, 1-dir, p.plan.between(ackLo, ackHi), p.at(lo, hi))
	}
}
