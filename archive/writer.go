package archive

import (
	"errors"
	"io/fs"
	"os"
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

// writer owns the connection table and every file in -l. Only the writer
// goroutine touches it.
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
	open   connList // holding a descriptor, most recently written first
	pairs  map[pairKey]*connList
	oldest *part // every part on disk, oldest first
	newest *part
	bytes  int64 // all parts, pending bytes included

	pend      [pendClasses]connList // connections with pending records, by buffer class
	pendBytes int64                 // capacity of all pending buffers
	pendMax   int64
	pendClock int64 // bytes ever held: the pending buffers' clock
	pool      bufPool
	now       int64     // newest packet time seen
	nowWall   time.Time // wall clock when now last moved
	wall      time.Time // wall clock at the current batch
	noOpen    time.Time // file creation rests until then
	ring      *ring
	spares    *spares
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
		open:    connList{slot: slotOpen},
		pairs:   make(map[pairKey]*connList),
		pendMax: int64(cfg.PendingMB) * mib,
	}
	w.spares = &spares{}
	if cfg.LogPackets {
		w.spares = newSpares(cfg.LogDir)
	}
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
	if c.cur != nil && len(c.buf)+int(need) > pendMaxBuf {
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
	p := &part{c: c, seq: c.nextSeq, size: pcapHeaderLen}
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

// ensureOpen gives c's current part a descriptor, creating its file if it
// has none yet.
func (w *writer) ensureOpen(c *conn) bool {
	if c.f != nil {
		w.open.moveToFront(c)
		return true
	}
	if w.wall.Before(w.noOpen) {
		return false
	}
	for w.open.n >= w.cfg.MaxOpenFiles {
		w.release(w.open.tail)
	}
	p := c.cur
	if p.onDisk {
		f, err := openRaw(w.path(p), flagsAppend, 0)
		if err != nil {
			w.openFailed(c, err)
			return false
		}
		w.opened(c, f)
		return true
	}
	flags := flagsCreate
	if w.spares.take(w.path(p)) {
		flags = flagsReuse
	}
	f, err := openRaw(w.path(p), flags, fileMode)
	if err != nil {
		w.openFailed(c, err)
		return false
	}
	p.onDisk = true
	w.st.filesCreated.Add(1)
	w.opened(c, f)
	return true
}

func (w *writer) opened(c *conn, f *rawFile) {
	c.f = f
	w.open.pushFront(c)
	n := w.st.filesOpen.Add(1)
	if n > w.st.maxFilesOpen.Load() {
		w.st.maxFilesOpen.Store(n)
	}
}

func (w *writer) openFailed(c *conn, err error) {
	w.noOpen = w.wall.Add(openRetry)
	w.errs.report(errOpen, err, logrus.Fields{"connection": c.base, "dir": w.cfg.LogDir})
}

// flush writes c's pending records in one write, creating the part's file
// first if it has none. On failure the file is cut back to its last whole
// record, so it stays a valid pcap (a new file that did not get its header
// is deleted); the records are lost and counted.
func (w *writer) flush(c *conn) bool {
	if len(c.buf) == 0 {
		return true
	}
	p := c.cur
	if !w.ensureOpen(c) {
		w.lose(c)
		return false
	}
	n, err := c.f.Write(c.buf)
	if err == nil {
		w.st.packetsWritten.Add(uint64(c.bufPkts))
		w.st.bytesWritten.Add(uint64(n))
		w.dropPending(c)
		return true
	}
	w.errs.report(errWrite, err, logrus.Fields{"file": w.path(p)})
	good := p.size - int64(len(c.buf))
	if good < pcapHeaderLen {
		w.deletePart(p) // the header was in this write
		return false
	}
	if n > 0 {
		if terr := c.f.Truncate(good); terr != nil {
			// A partial record we cannot cut would spoil the file.
			w.errs.report(errWrite, terr, logrus.Fields{"file": w.path(p)})
			w.deletePart(p)
			return false
		}
	}
	w.lose(c)
	return false
}

// lose gives up c's pending records: counted as lost, the part shrinks back
// to what its file holds, or is forgotten if it has no file.
func (w *writer) lose(c *conn) {
	w.st.packetsLost.Add(uint64(c.bufPkts))
	if p := c.cur; p.onDisk {
		p.size -= int64(len(c.buf))
		w.bytes -= int64(len(c.buf))
	} else {
		w.forgetPart(p)
		c.cur = nil
	}
	w.dropPending(c)
}

// release closes c's descriptor; pending records stay pending, and the part
// is reopened in append mode when they are written.
func (w *writer) release(c *conn) {
	if c.f == nil {
		return
	}
	if err := c.f.Close(); err != nil {
		w.errs.report(errClose, err, logrus.Fields{"connection": c.base})
	}
	c.f = nil
	w.open.remove(c)
	w.st.filesOpen.Add(-1)
}

// deletePart removes a part's file, if it has one, and forgets it; the
// current part's pending records go with it, counted as lost.
func (w *writer) deletePart(p *part) {
	c := p.c
	if c.cur == p {
		w.st.packetsLost.Add(uint64(c.bufPkts))
		w.dropPending(c)
		w.release(c)
		c.cur = nil
	}
	if p.onDisk && w.spares.recycle(w.path(p)) {
		w.st.filesRecycled.Add(1)
	} else if p.onDisk {
		if err := os.Remove(w.path(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.errs.report(errRemove, err, logrus.Fields{"file": w.path(p)})
		}
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
}

func (w *writer) path(p *part) string {
	return filepath.Join(w.cfg.LogDir, partName(p.c.base, p.seq))
}

// tick runs on the writer's timer, so lingering files are deleted on time
// even on a quiet link.
func (w *writer) tick() {
	w.wall = time.Now()
	w.expire()
	w.publish()
}

// publish copies the gauges Stats reports.
func (w *writer) publish() {
	w.st.connections.Store(int64(len(w.conns)))
	w.st.logDirBytes.Store(w.bytes)
	w.st.pendingBytes.Store(w.pendBytes)
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
	var files []movedFile
	for c := pl.head; c != nil; c = c.links[slotPair].next {
		if until != 0 && c.first >= until {
			continue
		}
		w.flush(c) // pending records belong in the archive too
		w.release(c)
		c.cur = nil
		for len(c.parts) > 0 {
			p := c.parts[0]
			if p.onDisk { // always, unless the flush failed
				files = append(files, movedFile{path: w.path(p), size: p.size, rank: len(c.parts) - 1})
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
	w.publish()
}
