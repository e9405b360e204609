package archive

import "math/bits"

// Pending records. A connection's newest records wait in memory, in the
// buffer of its current part, until the part is full, the connection is
// archived, the recorder closes, or the memory budget (PendingMB) needs the
// room. A part whose records have all waited has no file yet: most short
// connections end, unalerted, before that and cost no file system call at
// all. The header leads a new part's buffer, so creating a file and writing
// its first records is one create and one write.
//
// Buffers come in size classes, 1 KiB doubling up to pendMaxBuf; the budget
// counts their capacity. When it is spent, the writer writes out the buffer
// with the most bytes times age (age counted in bytes held since, by all
// connections). Flushing the largest alone would let slow connections sit
// on the memory for ever, and the busy ones would be written a few records
// at a time; oldest first would write slow connections a record at a
// time. Size times age aims at the split that minimises writes for a given
// budget, where each connection's writes grow with the square root of its
// rate. Candidates are the longest-held buffer of each class.

const (
	pendMinBuf  = 1 << 10
	pendClasses = 11
	// pendMaxBuf is one connection's most pending bytes: larger writes gain
	// nothing. It holds any record (maxSnaplen) with a file header.
	pendMaxBuf = pendMinBuf << (pendClasses - 1)
)

// pendClass is the smallest class whose buffers hold n bytes.
func pendClass(n int) int {
	if n <= pendMinBuf {
		return 0
	}
	return bits.Len(uint(n-1)) - bits.Len(pendMinBuf-1)
}

// bufPool keeps emptied buffers by class for reuse, up to max bytes, so a
// steady stream allocates nothing.
type bufPool struct {
	free  [pendClasses][][]byte
	bytes int64
	max   int64
}

func (p *bufPool) get(class int) []byte {
	if n := len(p.free[class]); n > 0 {
		b := p.free[class][n-1]
		p.free[class][n-1] = nil
		p.free[class] = p.free[class][:n-1]
		p.bytes -= int64(cap(b))
		return b[:0]
	}
	return make([]byte, 0, pendMinBuf<<class)
}

func (p *bufPool) put(b []byte) {
	if p.bytes+int64(cap(b)) > p.max {
		return // the garbage collector takes it
	}
	k := pendClass(cap(b))
	p.free[k] = append(p.free[k], b[:0])
	p.bytes += int64(cap(b))
}

// hold makes room for n more bytes in c's pending buffer, moving it up a
// class (or more) when it is full.
func (w *writer) hold(c *conn, n int) {
	w.pendClock += int64(n)
	if len(c.buf)+n <= cap(c.buf) {
		return
	}
	old := c.buf
	if old == nil {
		c.pendSince = w.pendClock
	}
	k := pendClass(len(old) + n)
	b := append(w.pool.get(k), old...)
	if old != nil {
		w.unlinkPending(c)
		w.pool.put(old)
	}
	c.buf = b
	w.pend[k].pushFront(c)
	w.pendBytes += int64(cap(b))
}

// dropPending lets c's buffer go, written or not.
func (w *writer) dropPending(c *conn) {
	if c.buf == nil {
		return
	}
	w.unlinkPending(c)
	w.pool.put(c.buf)
	c.buf, c.bufPkts = nil, 0
}

func (w *writer) unlinkPending(c *conn) {
	w.pend[pendClass(cap(c.buf))].remove(c)
	w.pendBytes -= int64(cap(c.buf))
}

// spill writes out pending buffers, most bytes times age first, until the budget
// holds again.
func (w *writer) spill() {
	for w.pendBytes > w.waitMax {
		var victim *conn
		var best float64
		for k := range w.pend {
			c := w.pend[k].tail
			if c == nil {
				continue
			}
			if score := float64(len(c.buf)) * float64(w.pendClock-c.pendSince+1); score > best {
				victim, best = c, score
			}
		}
		if victim == nil {
			return
		}
		w.flush(victim) // on failure the records are lost, counted, and the buffer freed all the same
	}
}
