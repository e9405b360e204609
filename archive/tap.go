package archive

import (
	"github.com/google/gopacket"

	"github.com/wherefore/wherefore/capture"
)

// Batch geometry: a batch holds up to batchPackets packets or batchBytes of
// pcap records (at least one snaplen), so one channel operation carries many
// packets and the arena is reused, never reallocated.
const (
	batchPackets = 1024
	batchBytes   = 256 << 10
)

// entry is one tapped packet: its addresses and ports, as the index keys
// them, and where its pcap record sits in the batch arena. It holds no
// pointers and fits a cache line, since Tap writes one per packet.
type entry struct {
	s0, s1, d0, d1 uint64 // source and destination, as addrWords gives them
	ts             int64  // ns since the epoch, from the capture info
	sport, dport   uint16
	proto          uint8
	off            uint32
	n              uint32 // captured bytes kept
	origLen        uint32
}

// key is the entry's connection key.
func (e *entry) key() ckey {
	return makeCkey(e.s0, e.s1, e.d0, e.d1, e.sport, e.dport, e.proto)
}

// pair is the entry's address pair.
func (e *entry) pair() pairKey {
	return makePair(wordsAddr(e.s0, e.s1), wordsAddr(e.d0, e.d1))
}

// data is the packet's captured bytes inside the arena.
func (e *entry) data(arena []byte) []byte {
	start := e.off + pcapRecordHeaderLen
	return arena[start : start+e.n]
}

// batch carries packets from Tap to the writer. Its arena is a run of whole
// pcap records, header and data, so the spool writes it to disk as it is.
// Batches cycle between the free and full channels; there are exactly
// QueueSize of them, so Tap's send on full can never block.
type batch struct {
	arena []byte
	ents  []entry
	ev    []spoolEvent // what the spool's disk stage did with it
}

func newBatch(snaplen int) *batch {
	n := max(batchBytes, pcapRecordHeaderLen+snaplen)
	return &batch{arena: make([]byte, 0, n), ents: make([]entry, 0, batchPackets)}
}

func (b *batch) reset() {
	b.arena = b.arena[:0]
	b.ents = b.ents[:0]
}

// Tap copies one packet for the writer, as a pcap record; it is the
// capture.Tap of the recorder. It never touches a file. When every batch is waiting for the
// writer, it drops the packet and counts it in Stats.PacketsDropped, or,
// with Config.Block, waits for the writer to free a batch. It allocates
// nothing. Packets without IP addresses cannot belong to a connection and
// are ignored. Safe for concurrent use, though one capture goroutine is the
// fast case.
func (r *Recorder) Tap(ci gopacket.CaptureInfo, data []byte, rec *capture.Record) {
	if !r.enabled || rec == nil || !rec.Src.IsValid() || !rec.Dst.IsValid() {
		return
	}
	n := len(data)
	if n > r.snaplen {
		n = r.snaplen
	}
	orig := ci.Length
	if orig < n {
		orig = n
	}
	r.mu.Lock()
	b := r.cur
	for b == nil || len(b.ents) == cap(b.ents) || len(b.arena)+pcapRecordHeaderLen+n > cap(b.arena) {
		if r.closed {
			r.mu.Unlock()
			return
		}
		if b != nil {
			r.full <- b
			r.cur = nil
		}
		if b = r.takeFree(); b == nil {
			r.mu.Unlock()
			r.st.packetsDropped.Add(1)
			return
		}
	}
	if r.closed {
		r.mu.Unlock()
		return
	}
	off := len(b.arena)
	ts := ci.Timestamp.UnixNano()
	b.arena = r.hdr.appendRecord(b.arena, ts, data[:n], uint32(orig))
	s0, s1 := addrWords(rec.Src)
	d0, d1 := addrWords(rec.Dst)
	b.ents = append(b.ents, entry{
		s0: s0, s1: s1, d0: d0, d1: d1,
		ts:    ts,
		sport: rec.SrcPort, dport: rec.DstPort, proto: rec.Proto,
		off:     uint32(off),
		n:       uint32(n),
		origLen: uint32(orig),
	})
	r.mu.Unlock()
}

// takeFree makes a free batch current and returns it, or nil when the
// packet is to be dropped. Callers hold r.mu and r.cur is nil. In Block mode
// it waits for the writer without holding r.mu, which the writer takes on
// its tick; it returns whatever is current when it wakes, which another
// Tap may have set meanwhile.
func (r *Recorder) takeFree() *batch {
	select {
	case b := <-r.free:
		r.cur = b
		return b
	default:
	}
	if !r.cfg.Block {
		return nil
	}
	r.mu.Unlock()
	var b *batch
	select {
	case b = <-r.free:
	case <-r.done:
		// The writer is gone (Close): nothing will free a batch again.
	}
	r.mu.Lock()
	if b == nil {
		return nil
	}
	if r.cur != nil {
		r.free <- b // never blocks: b came from free
		return r.cur
	}
	r.cur = b
	return b
}

// handOff queues the batch being filled, so the writer sees every packet
// tapped so far. Callers hold r.mu.
func (r *Recorder) handOff() {
	if r.cur != nil && len(r.cur.ents) > 0 {
		r.full <- r.cur
		r.cur = nil
	}
}
