package synth

// loadClass is the kind of a load conversation, which decides packet sizes.
type loadClass uint8

const (
	loadTCPDown loadClass = iota // bulk data from the server, ACKs up
	loadTCPUp                    // bulk data to the server, ACKs down
	loadUDP                      // DNS- and QUIC-like datagrams both ways
	loadICMP                     // echo requests and replies
)

// load is the model of the bench and many scenarios: exact packet and pair
// counts, each pair's packets spread evenly over the intervals.
type load struct {
	s         Scenario
	intervals int64
	class     []loadClass // per conversation
	count     []uint32    // per direction (2*conv + dir): packets in the capture
	phase     []uint32    // per direction: offset in [0, intervals) of the spread
}

func newLoad(s Scenario, p *planner) *load {
	r := p.plan
	nconv := (s.Pairs + 1) / 2
	oneWay := s.Pairs%2 == 1 // the last conversation sends one way only
	l := &load{
		s:         s,
		intervals: int64(s.Intervals()),
		class:     make([]loadClass, nconv),
		count:     make([]uint32, 2*nconv),
		phase:     make([]uint32, 2*nconv),
	}
	p.convs = make([]conv, nconv)
	p.npairs = s.Pairs
	weights := make([]uint64, nconv)
	var total uint64
	for c := range nconv {
		v6 := r.chance(s.V6Share)
		x := r.float()
		var cl loadClass
		switch {
		case oneWay && c == nconv-1:
			cl = loadUDP
		case s.Small && x < 0.5, !s.Small && x < 0.7:
			cl = loadTCPDown
			if r.chance(0.3) {
				cl = loadTCPUp
			}
		case s.Small && x < 0.95, !s.Small && x < 0.92:
			cl = loadUDP
		default:
			cl = loadICMP
		}
		l.class[c] = cl
		proto, port := uint8(protoTCP), uint16(443)
		switch cl {
		case loadTCPDown, loadTCPUp:
			if r.chance(0.15) {
				port = 80
			}
		case loadUDP:
			proto, port = protoUDP, [3]uint16{53, 443, 123}[r.intn(3)]
		case loadICMP:
			proto, port = protoICMP, 0
		}
		// Client c%Hosts talks to server c/Hosts: every pair is distinct.
		cv := newConv(host(c%s.Hosts, v6), external(c/s.Hosts, v6), uint16(32768+r.intn(28232)), port, proto, true, false, r)
		if c%10 == 9 {
			cv.vlan = 30
		}
		cv.pair = [2]int32{int32(2 * c), int32(2*c + 1)}
		p.convs[c] = cv

		w := uint64(1)
		if s.HeavyTail {
			// Pareto with alpha 1, capped: P(w > x) = 1/x up to 2^16.
			w = min(1<<16, (1<<40)/(1+r.u64()>>24))
		}
		if !(oneWay && c == nconv-1) {
			w *= 2 // two pairs to feed
		}
		weights[c] = w
		total += w
		l.phase[2*c] = uint32(r.intn(int(l.intervals)))
		l.phase[2*c+1] = uint32(r.intn(int(l.intervals)))
	}

	l.share(s, weights, total, oneWay)
	p.events = make([]event, 0, s.Packets/int(l.intervals)+nconv)
	return l
}

// share sets the packet count of every direction: exactly Packets in all,
// at least one per pair. Uniform loads give every pair the same count (the
// remainder one each to the first pairs); heavy-tailed ones share the
// packets beyond the first per pair in proportion to the weights, and split
// a conversation's packets between data and ACKs or queries and answers.
func (l *load) share(s Scenario, weights []uint64, total uint64, oneWay bool) {
	npairs := uint64(s.Pairs)
	if !s.HeavyTail {
		each, rest := uint64(s.Packets)/npairs, uint64(s.Packets)%npairs
		for c := range l.class {
			for d := range 2 {
				pair := uint64(2*c + d)
				if pair >= npairs {
					break // the one-way conversation's missing direction
				}
				l.count[pair] = uint32(each)
				if pair < rest {
					l.count[pair]++
				}
			}
		}
		return
	}
	extra := uint64(s.Packets) - npairs
	left := extra
	for c := range weights {
		e := extra * weights[c] / total
		left -= e
		weights[c] = e
	}
	for c := 0; left > 0; c++ {
		weights[c]++
		left--
	}
	for c, e := range weights {
		if oneWay && c == len(weights)-1 {
			l.count[2*c] = uint32(1 + e)
			continue
		}
		var d0 uint64
		switch l.class[c] {
		case loadTCPDown:
			d0 = e * 2 / 5
		case loadTCPUp:
			d0 = e * 3 / 5
		default:
			d0 = (e + 1) / 2
		}
		l.count[2*c] = uint32(1 + d0)
		l.count[2*c+1] = uint32(1 + e - d0)
	}
}

func (l *load) plan(p *planner, i int, lo, hi int64) {
	r := p.plan
	k, ii := l.intervals, int64(i)
	for c := range l.class {
		cl := l.class[c]
		mss := mss4
		if p.convs[c].v6 {
			mss = mss6
		}
		for dir := range uint8(2) {
			n, ph := int64(l.count[2*c+int(dir)]), int64(l.phase[2*c+int(dir)])
			// Interval i gets the packets between its share boundaries, so
			// the counts over all intervals sum to n exactly.
			ni := (n*(ii+1)+ph)/k - (n*ii+ph)/k
			for range ni {
				p.add(int32(c), dir, l.size(r, cl, dir, mss), p.at(lo, hi))
			}
		}
	}
}

// size draws a packet's transport payload for a conversation class.
func (l *load) size(r *rng, cl loadClass, dir uint8, mss int) int {
	switch cl {
	case loadTCPDown, loadTCPUp:
		data := (cl == loadTCPDown) == (dir == 1)
		switch {
		case l.s.Small && data:
			return r.intn(161)
		case l.s.Small:
			return 0
		case data && r.chance(0.8):
			return mss
		case data:
			return r.between(1, mss-1)
		case r.chance(0.9):
			return 0 // pure ACK
		}
		return r.between(50, 600)
	case loadUDP:
		if l.s.Small || r.chance(0.6) {
			return r.between(20, 200)
		}
		return r.between(200, mss-220) // QUIC-sized
	}
	return pingPayload
}
