package archive

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// The flight recorder keeps the recent packets of every address pair in
// memory when -log_packets is off, so an alert can still archive the
// traffic that led up to it. Memory comes in fixed chunks from one global
// budget; a pair holds at most RingFlowMB of them (its oldest chunk is
// reused), and when the budget is spent the least recently active pair gives
// up its oldest chunk. Pairs are unordered: a pair's ring holds both
// directions, because the replies are part of the evidence.

// ringChunk is the unit of ring memory. A record never spans chunks, so a
// packet is kept up to ringChunk-16 bytes; longer ones (GRO/TSO super
// frames) are cut like a snaplen would, with their original length kept.
const ringChunk = 16 << 10

type ringFlow struct {
	key    pairKey
	chunks [][]byte // oldest first; each holds whole pcap records
	links  lruLinks[*ringFlow]
}

type ring struct {
	hdr       fileHeader
	st        *counters
	budget    int // chunks in all
	flowMax   int // chunks per pair
	chunks    int // chunks allocated so far
	free      [][]byte
	flows     map[pairKey]*ringFlow
	lru       lruList[*ringFlow] // most recently active first
	spareFlow []*ringFlow
}

func newRing(cfg *Config, hdr fileHeader, st *counters) *ring {
	return &ring{
		hdr:     hdr,
		st:      st,
		budget:  max(cfg.RingMB*mib/ringChunk, 2),
		flowMax: max(cfg.RingFlowMB*mib/ringChunk, 2),
		flows:   make(map[pairKey]*ringFlow),
	}
}

// add records one packet for pair k.
func (r *ring) add(k pairKey, ts int64, data []byte, origLen uint32) {
	if len(data) > ringChunk-pcapRecordHeaderLen {
		data = data[:ringChunk-pcapRecordHeaderLen]
	}
	f := r.flows[k]
	if f == nil {
		if n := len(r.spareFlow); n > 0 {
			f, r.spareFlow = r.spareFlow[n-1], r.spareFlow[:n-1]
		} else {
			f = &ringFlow{}
		}
		f.key = k
		r.flows[k] = f
		r.lru.pushFront(f)
	} else {
		r.lru.touch(f)
	}
	need := int(recordLen(len(data)))
	if n := len(f.chunks); n == 0 || len(f.chunks[n-1])+need > ringChunk {
		f.chunks = append(f.chunks, r.chunk(f))
	}
	last := len(f.chunks) - 1
	f.chunks[last] = r.hdr.appendRecord(f.chunks[last], ts, data, origLen)
}

// chunk finds an empty chunk for f: its own oldest if f is at its cap, a
// free or new one while the budget lasts, else the oldest chunk of the least
// recently active pair.
func (r *ring) chunk(f *ringFlow) []byte {
	if len(f.chunks) >= r.flowMax {
		return r.shift(f)
	}
	if n := len(r.free); n > 0 {
		c := r.free[n-1]
		r.free = r.free[:n-1]
		return c[:0]
	}
	if r.chunks < r.budget {
		r.chunks++
		return make([]byte, 0, ringChunk)
	}
	victim := r.lru.tail
	if victim == f { // f is the only pair with memory
		return r.shift(f)
	}
	r.st.ringEvictions.Add(1)
	c := r.shift(victim)
	if len(victim.chunks) == 0 {
		r.remove(victim)
	}
	return c
}

// shift takes f's oldest chunk, emptied.
func (r *ring) shift(f *ringFlow) []byte {
	c := f.chunks[0]
	copy(f.chunks, f.chunks[1:])
	f.chunks[len(f.chunks)-1] = nil
	f.chunks = f.chunks[:len(f.chunks)-1]
	return c[:0]
}

// take returns the packets of the pairs sel accepts from before until (ns)
// as one complete pcap file and frees them, so a repeat alert archives
// only what came since. Packets at or after until stay: they belong to a
// later interval.
func (r *ring) take(sel selector, until int64) []byte {
	var flows []*ringFlow
	if sel.host.IsValid() {
		for k, f := range r.flows {
			if sel.matchPair(k) {
				flows = append(flows, f)
			}
		}
		slices.SortFunc(flows, func(a, b *ringFlow) int {
			return cmp.Or(a.key.a.Compare(b.key.a), a.key.b.Compare(b.key.b))
		})
	} else if f := r.flows[sel.pair]; f != nil {
		flows = append(flows, f)
	}
	if len(flows) == 0 {
		return nil
	}
	h := segHeader{order: binary.LittleEndian, nano: r.hdr.nano}
	out := r.hdr.appendHeader(nil)
	// Records to keep go back after every taken flow is removed, so
	// putting them back cannot evict a flow still being read.
	type kept struct {
		key  pairKey
		recs []byte
	}
	var keep []kept
	for _, f := range flows {
		var later []byte
		for _, c := range f.chunks {
			for off := 0; off+pcapRecordHeaderLen <= len(c); {
				ts, incl, _ := h.parseRecordHeader(c[off:])
				end := off + pcapRecordHeaderLen + incl
				if ts < until {
					out = append(out, c[off:end]...)
				} else {
					later = append(later, c[off:end]...)
				}
				off = end
			}
		}
		if len(later) > 0 {
			keep = append(keep, kept{f.key, later})
		}
	}
	for _, f := range flows {
		r.remove(f)
	}
	for _, k := range keep {
		for off := 0; off < len(k.recs); {
			ts, incl, orig := h.parseRecordHeader(k.recs[off:])
			r.add(k.key, ts, k.recs[off+pcapRecordHeaderLen:off+pcapRecordHeaderLen+incl], uint32(orig))
			off += pcapRecordHeaderLen + incl
		}
	}
	if len(out) == pcapHeaderLen {
		return nil
	}
	return out
}

// publish updates the ring's gauges.
func (r *ring) publish() {
	r.st.ringBytes.Store(int64(r.chunks-len(r.free)) * ringChunk)
	r.st.ringFlows.Store(int64(len(r.flows)))
}

func (r *ring) remove(f *ringFlow) {
	for _, c := range f.chunks {
		r.free = append(r.free, c[:0])
	}
	f.chunks = f.chunks[:0]
	r.lru.remove(f)
	delete(r.flows, f.key)
	f.key = pairKey{}
	r.spareFlow = append(r.spareFlow, f)
}

func (f *ringFlow) lru() *lruLinks[*ringFlow] { return &f.links }
