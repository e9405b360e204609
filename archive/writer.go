package archive

import (
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/capture"
)

// File modes: evidence holds other people's traffic, so it is readable by
// the owner and its group only.
const (
	fileMode = 0o640
	dirMode  = 0o750
)

// lruStep is how stale a busy connection's place in the activity list may
// get: moving it on every packet touches three connections' memory, and
// idle ends and evictions work in seconds and minutes anyway.
const lruStep = int64(time.Second)

// openRetry is how long file creation rests after a failure, so a full disk
// or a bad directory costs one failed system call per interval, not one per
// packet.
const openRetry = time.Second

// opsBatch is how many file operations go to fileIO in one channel send.
const opsBatch = 256

// writer owns the connection table and decides what goes into which file
// in -l; fileIO (fileio.go) does the file work. Only the writer goroutine
// touches it.
type writer struct {
	cfg     *Config
	hdr     fileHeader
	st      *counters
	errs    *errLog
	log     *logrus.Logger
	partMax int64
	quota   int64

	conns  map[connKey]*conn
	active connList // by last packet, most recent first
	ended  connList // ended, waiting out Linger before deletion
	pairs  map[pairKey]*connList
	oldest *part // every part on disk, oldest first
	newest *part
	bytes  int64 // all parts, pending bytes included

	pend      [pendClasses]connList // connections with pending records, by buffer class
	pendBytes int64                 // capacity of all pending buffers
	pendMax   int64
	pendClock int64 // bytes ever held: the pending buffers' clock
	// inflight is the capacity of buffers handed to fileIO and not back
	// yet, at most inflightMax: part of the memory budget.
	inflight    int64
	inflightMax int64
	waitMax     int64 // capacity of waiting buffers: pendMax less inflightMax
	bufMax      int   // one connection's waiting bytes at most
	pool        bufPool
	now         int64     // newest packet time seen
	nowWall     time.Time // wall clock when now last moved
	wall        time.Time // wall clock at the current batch
	ring        *ring

	io      *fileIO
	ops     []fileOp // not sent yet
	results []ioResult
	nextID  uint64
	byID    map[uint64]*part
}

func newWriter(cfg *Config, st *counters, errs *errLog, log *logrus.Logger) *writer {
	w := &writer{
		cfg:     cfg,
		hdr:     fileHeader{snaplen: uint32(cfg.snaplen()), linkType: cfg.LinkType, nano: cfg.Nanosecond},
		st:      st,
		errs:    errs,
		log:     log,
		partMax: cfg.partMax(),
		quota:   int64(cfg.LogDirQuotaMB) * mib,
		conns:   make(map[connKey]*conn),
		active:  connList{slot: slotAge},
		ended:   connList{slot: slotAge},
		pairs:   make(map[pairKey]*connList),
		pendMax: int64(cfg.PendingMB) * mib,
	}
	// An eighth of the budget (512 KiB at least, a size class that holds
	// any record) may be on its way to the disk; the rest holds the waiting
	// buffers, none larger than what may be in flight.
	w.inflightMax = max(w.pendMax/8, 1<<19)
	w.waitMax = w.pendMax - w.inflightMax
	w.bufMax = min(pendMaxBuf, int(w.inflightMax))
	w.io = newFileIO(cfg, st, errs)
	w.byID = make(map[uint64]*part)
	for k := range w.pend {
		w.pend[k].slot = slotPend
	}
	w.pool.max = max(w.pendMax, pendMaxBuf)
	if !cfg.LogPackets && cfg.RingMB > 0 {
		w.ring = newRing(cfg, w.hdr, st)
	}
	return w
}

// batch handles one batch of packets.
func (w *writer) batch(b *batch) {
	w.wall = time.Now()
	for i := range b.ents {
		e := &b.ents[i]
		if e.ts > w.now {
			w.now = e.ts
			w.nowWall = w.wall
		}
		data := b.arena[e.off : e.off+e.n]
		switch {
		case w.cfg.LogPackets:
			w.logPacket(e, data)
		case w.ring != nil:
			w.ring.add(makePair(e.rec.Src, e.rec.Dst), e.ts, data, e.origLen)
		}
	}
	w.expire()
	w.sendOps()
	w.collect()
	w.publish()
}

// logPacket appends one packet to its connection's current file.
func (w *writer) logPacket(e *entry, data []byte) {
	k, fromA := makeConnKey(&e.rec)
	c := w.conns[k]
	syn := e.rec.Proto == protoTCP && e.rec.TCPFlags&(capture.FlagSYN|capture.FlagACK) == capture.FlagSYN
	switch {
	case c == nil:
		c = w.newConn(k, e)
	case c.ended && (syn || e.rec.Proto != protoTCP):
		// A new connection on the same tuple: it continues the old one's
		// files, which are still waiting out their linger.
		w.ended.remove(c)
		c.ended, c.finA, c.finB = false, false, false
		w.active.pushFront(c)
		c.moved = e.ts
	}
	if e.ts > c.last {
		c.last = e.ts
	}
	if c.ended {
		// Late ACKs and retransmissions after the close go into the same
		// file and push the deletion back.
		c.endWall = w.wall
		w.ended.moveToFront(c)
	} else if e.ts-c.moved >= lruStep {
		w.active.moveToFront(c)
		c.moved = e.ts
	}
	w.write(c, e.ts, data, e.origLen)
	if e.rec.Proto == protoTCP && !c.ended {
		f := e.rec.TCPFlags
		if f&capture.FlagFIN != 0 {
			if fromA {
				c.finA = true
			} else {
				c.finB = true
			}
		}
		if f&capture.FlagRST != 0 || c.finA && c.finB {
			w.end(c)
		}
	}
}

// newConn starts tracking a connection, evicting the least recently active
// one when the table is full.
func (w *writer) newConn(k connKey, e *entry) *conn {
	if len(w.conns) >= w.cfg.MaxConnections {
		victim := w.ended.tail
		if victim == nil {
			victim = w.active.tail
		}
		w.drop(victim)
		w.st.connsEvicted.Add(1)
	}
	// Name the client first when the handshake shows it.
	src, sp, dst, dp := e.rec.Src.Unmap(), e.rec.SrcPort, e.rec.Dst.Unmap(), e.rec.DstPort
	if e.rec.Proto == protoTCP && e.rec.TCPFlags&(capture.FlagSYN|capture.FlagACK) == capture.FlagSYN|capture.FlagACK {
		src, sp, dst, dp = dst, dp, src, sp
	}
	c := &conn{
		key:     k,
		pair:    pairKey{k.a, k.b},
		base:    baseName(k.proto, src, sp, dst, dp),
		first:   e.ts,
		last:    e.ts,
		moved:   e.ts,
		nextSeq: 1,
	}
	w.conns[k] = c
	w.active.pushFront(c)
	pl := w.pairs[c.pair]
	if pl == nil {
		pl = &connList{slot: slotPair}
		w.pairs[c.pair] = pl
	}
	pl.pushFront(c)
	return c
}

// end marks a connection finished; its files wait out the linger.
func (w *writer) end(c *conn) {
	w.active.remove(c)
	c.ended = true
	c.endWall = w.wall
	w.ended.pushFront(c)
	// Pending records stay in memory: unclaimed, they are dropped with the
	// connection and never cost a file.
	w.release(c)
	w.st.connsEnded.Add(1)
}

// expire ends idle connections and deletes the files of ended ones whose
// linger is over in both packet and wall time.
func (w *writer) expire() {
	// While no packets come, packet time moves with the wall clock, as the
	// flow clock does on a quiet live link.
	now := w.now
	if !w.nowWall.IsZero() {
		now += int64(w.wall.Sub(w.nowWall))
	}
	idle := w.cfg.ConnIdleTimeout.Nanoseconds()
	for c := w.active.tail; c != nil && now-c.last >= idle; c = w.active.tail {
		w.end(c)
	}
	// Wall time counts too: a capture file read at disk speed moves packet
	// time far ahead of the dispatcher that will ask for these files.
	linger := w.cfg.Linger
	for c := w.ended.tail; c != nil && now-c.last >= linger.Nanoseconds() && w.wall.Sub(c.endWall) >= linger; c = w.ended.tail {
		w.drop(c)
	}
}

// drop forgets a connection and deletes its files and pending records.
func (w *writer) drop(c *conn) {
	w.st.packetsDiscarded.Add(uint64(c.bufPkts))
	w.dropPending(c)
	for len(c.parts) > 0 {
		if c.parts[0].onDisk {
			w.st.filesDeleted.Add(1)
		}
		w.deletePart(c.parts[0])
	}
	w.release(c)
	w.ageList(c).remove(c)
	if pl := w.pairs[c.pair]; pl != nil {
		pl.remove(c)
		if pl.n == 0 {
			delete(w.pairs, c.pair)
		}
	}
	delete(w.conns, c.key)
}

// ageList is the list c is in: the two share a link slot.
func (w *writer) ageList(c *conn) *connList {
	if c.ended {
		return &w.ended
	}
	return &w.active
}

// write appends one record to c's current part, rotating first if the
// record would not fit; a part always takes at least one record, so a
// record larger than a part gets a part of its own. The record waits in
// c's pending buffer (pending.go) until the part is full or the budget
// needs the memory.
func (w *writer) write(c *conn, ts int64, data []byte, origLen uint32) {
	need := recordLen(len(data))
	if c.cur != nil && c.cur.size+need > w.partMax && c.cur.size > pcapHeaderLen {
		// The part is complete and never written again: out with it, and
		// its descriptor.
		w.flush(c)
		w.release(c)
		c.cur = nil
		w.st.rotations.Add(1)
	}
	if c.cur != nil && len(c.buf)+int(need) > w.bufMax {
		w.flush(c)
	}
	if c.cur == nil {
		w.startPart(c)
	}
	w.hold(c, int(need))
	c.buf = w.hdr.appendRecord(c.buf, ts, data, origLen)
	c.bufPkts++
	c.cur.size += need
	w.bytes += need
	w.spill()
	for w.bytes > w.quota && w.oldest != nil {
		if q := w.oldest.c; q.cur == w.oldest {
			// Deleted by choice, not by a disk error.
			w.st.packetsDiscarded.Add(uint64(q.bufPkts))
			w.dropPending(q)
		}
		w.deletePart(w.oldest)
		w.st.quotaDeletions.Add(1)
	}
}

// startPart begins c's next part in memory, its header first in the
// pending buffer; the file comes with the first flush. A part too many
// takes the connection's oldest with it.
func (w *writer) startPart(c *conn) {
	w.nextID++
	p := &part{c: c, seq: c.nextSeq, size: pcapHeaderLen, id: w.nextID}
	p.path = filepath.Join(w.cfg.LogDir, partName(c.base, p.seq))
	w.byID[p.id] = p
	c.nextSeq++
	c.parts = append(c.parts, p)
	c.cur = p
	w.bytes += pcapHeaderLen
	p.prev = w.newest
	if w.newest != nil {
		w.newest.next = p
	} else {
		w.oldest = p
	}
	w.newest = p
	w.hold(c, pcapHeaderLen)
	c.buf = w.hdr.appendHeader(c.buf)
	if len(c.parts) > w.cfg.MaxRotations {
		w.deletePart(c.parts[0])
		w.st.rotationDeletions.Add(1)
	}
}

// flush hands c's pending records to fileIO in one write, the part's
// file created by the first. The records count as written from here on;
// collect corrects that if the write fails.
func (w *writer) flush(c *conn) {
	for len(c.buf) > 0 && w.inflight > 0 && w.inflight+int64(cap(c.buf)) > w.inflightMax {
		// fileIO is behind: wait for buffers to come back, so memory
		// stays within the budget. (What comes back may be a failure
		// that drops c's records.)
		w.sendOps()
		<-w.io.ready
		w.collect()
	}
	if len(c.buf) == 0 {
		return
	}
	p := c.cur
	w.ops = append(w.ops, fileOp{kind: opWrite, id: p.id, path: p.path, off: p.size - int64(len(c.buf)), buf: c.buf, pkts: c.bufPkts})
	p.onDisk = true
	w.unlinkPending(c)
	w.inflight += int64(cap(c.buf))
	c.buf, c.bufPkts = nil, 0
	if len(w.ops) >= opsBatch {
		w.sendOps()
	}
}

// sendOps hands the operations so far to fileIO.
func (w *writer) sendOps() {
	if len(w.ops) == 0 {
		return
	}
	w.io.ops <- w.ops
	select {
	case w.ops = <-w.io.spent:
	default:
		w.ops = make([]fileOp, 0, opsBatch)
	}
}

// sync waits until fileIO has carried out every operation so far, then
// takes its results.
func (w *writer) sync() {
	done := make(chan struct{})
	w.ops = append(w.ops, fileOp{kind: opBarrier, done: done})
	w.sendOps()
	<-done
	w.collect()
}

// collect takes back the buffers fileIO is done with and learns of its
// failures: lost records shrink their part, and a part whose file is gone
// is forgotten, with what still waits for it.
func (w *writer) collect() {
	w.results = w.io.take(w.results)
	for i := range w.results {
		r := &w.results[i]
		w.inflight -= int64(cap(r.buf))
		w.pool.put(r.buf)
		if r.lost == 0 && !r.gone {
			continue
		}
		p := w.byID[r.id]
		if p == nil {
			continue // deleted meanwhile
		}
		if !r.gone {
			p.size -= r.lost
			w.bytes -= r.lost
			continue
		}
		if c := p.c; c.cur == p {
			w.st.packetsLost.Add(uint64(c.bufPkts))
			w.dropPending(c)
			c.cur = nil
		}
		p.onDisk = false
		w.forgetPart(p)
	}
	clear(w.results)
}

// release tells fileIO that c's current part will not be written for a
// while, so its descriptor can go; pending records stay pending.
func (w *writer) release(c *conn) {
	if p := c.cur; p != nil && p.onDisk {
		w.ops = append(w.ops, fileOp{kind: opClose, id: p.id})
	}
}

// deletePart removes a part's file, if it has one, and forgets it; the
// current part's pending records go with it, counted as lost.
func (w *writer) deletePart(p *part) {
	c := p.c
	if c.cur == p {
		w.st.packetsLost.Add(uint64(c.bufPkts))
		w.dropPending(c)
		c.cur = nil
	}
	if p.onDisk {
		w.ops = append(w.ops, fileOp{kind: opDelete, id: p.id, path: p.path})
	}
	w.forgetPart(p)
}

// forgetPart unlinks a part from its connection and the age list.
func (w *writer) forgetPart(p *part) {
	c := p.c
	for i, q := range c.parts {
		if q == p {
			c.parts = append(c.parts[:i], c.parts[i+1:]...)
			break
		}
	}
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		w.oldest = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		w.newest = p.prev
	}
	p.prev, p.next = nil, nil
	w.bytes -= p.size
	delete(w.byID, p.id)
}

// tick runs on the writer's timer, so lingering files are deleted on time
// even on a quiet link.
func (w *writer) tick() {
	w.wall = time.Now()
	w.expire()
	w.sendOps()
	w.collect()
	w.publish()
}

// publish copies the gauges Stats reports.
func (w *writer) publish() {
	w.st.connections.Store(int64(len(w.conns)))
	w.st.logDirBytes.Store(w.bytes)
	w.st.pendingBytes.Store(w.pendBytes + w.inflight)
	if w.ring != nil {
		w.st.ringBytes.Store(int64(w.ring.chunks) * ringChunk)
		w.st.ringFlows.Store(int64(len(w.ring.flows)))
	}
}

// movedFile is a part handed over to Archive.
type movedFile struct {
	path string
	size int64
	rank int // 0 for a connection's newest part, 1 for the one before ...
}

// detach hands the files of every connection of pair that began before
// until (ns; 0 for all) over to the caller. The connections keep going and
// start a fresh part with their next packet.
func (w *writer) detach(pair pairKey, until int64) []movedFile {
	pl := w.pairs[pair]
	if pl == nil {
		return nil
	}
	var conns []*conn
	for c := pl.head; c != nil; c = c.links[slotPair].next {
		if until != 0 && c.first >= until {
			continue
		}
		w.flush(c) // pending records belong in the archive too
		w.release(c)
		conns = append(conns, c)
	}
	if len(conns) == 0 {
		return nil
	}
	// The files must be complete and closed before they move.
	w.sync()
	var files []movedFile
	for _, c := range conns {
		c.cur = nil
		for len(c.parts) > 0 {
			p := c.parts[0]
			if p.onDisk { // always, unless a write failed
				files = append(files, movedFile{path: p.path, size: p.size, rank: len(c.parts) - 1})
				w.ops = append(w.ops, fileOp{kind: opForget, id: p.id})
			}
			w.forgetPart(p)
		}
	}
	return files
}

// shutdown writes every pending record and closes every file. Files and
// pending records of ended connections are deleted: nothing can claim them
// any more. Files of live connections stay, valid, for the next start to
// treat as leftovers.
func (w *writer) shutdown() {
	for c := w.ended.tail; c != nil; c = w.ended.tail {
		w.drop(c)
	}
	for c := w.active.head; c != nil; c = c.links[slotAge].next {
		w.flush(c)
		w.release(c)
	}
	w.sync()
	close(w.io.ops)
	<-w.io.done // every descriptor closed
	w.publish()
}
