// Package report turns what wherefore sees — traffic per interval, the
// heaviest talkers, the alerts with the series they were raised on — into
// one self-contained HTML page: the report of a capture file (-report) or
// the live status page of a running daemon.
//
// A Collector receives copies of the capture's records through a Sink that
// wraps the flow aggregator, and the alerts through a wrapped emit
// callback; it sums them on its own goroutine into structures whose size is
// fixed by Config, whatever the length of the capture. Pages are rendered
// from a Snapshot, so rendering never holds up capture or scoring.
package report

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wherefore/wherefore/flow"

	"github.com/wherefore/wherefore/alert"
)

// Config bounds what a Collector keeps.
type Config struct {
	// Interval is the transfer interval (-transfer_interval).
	Interval time.Duration
	// Points is the most timeline points kept; a longer capture is shown
	// with several intervals per point.
	Points int
	// Top is how many talkers each table shows; the heavy-hitter counters
	// track fifty times as many keys (at least 1000), so the shown ones
	// are accurate.
	Top int
	// Alerts is the most alerts kept with their charts: the most probable
	// ones of a capture, the newest ones of a live window.
	Alerts int
	// Series is the most subjects (pairs, sources, destinations, hosts)
	// whose series is kept, Points values each, for the alert charts:
	// each interval's few heaviest while there is room, and every alerted
	// subject from its alert on.
	Series int
	// Window, when set, makes a live collector: the timeline covers the
	// last Window, the talkers the last one to two Windows, and the alerts
	// are the newest. Zero keeps the whole capture.
	Window time.Duration
	// Local says whether an address belongs to the hosts watched, to split
	// traffic into out and in. LocalText describes it for the page.
	Local     func(netip.Addr) bool
	LocalText string
	// Lossy drops record batches, counting them, when the collector falls
	// behind, instead of waiting (live capture must never wait for it).
	Lossy bool
}

// Validate fills defaults and names the first bad field.
func (c *Config) Validate() error {
	if c.Interval <= 0 {
		return fmt.Errorf("-transfer_interval %s: must be positive (e.g. 5s, 1m)", c.Interval)
	}
	if c.Points == 0 {
		c.Points = 720
	}
	if c.Top == 0 {
		c.Top = 20
	}
	if c.Alerts == 0 {
		c.Alerts = 50
	}
	if c.Series == 0 {
		c.Series = 200
	}
	switch {
	case c.Points < 2 || c.Points > 100_000:
		return fmt.Errorf("-report_points %d: must be between 2 and 100000", c.Points)
	case c.Top < 1 || c.Top > 10_000:
		return fmt.Errorf("-report_top %d: must be between 1 and 10000", c.Top)
	case c.Alerts < 1 || c.Alerts > 10_000:
		return fmt.Errorf("-report_alerts %d: must be between 1 and 10000", c.Alerts)
	case c.Series < 1 || c.Series > 100_000:
		return fmt.Errorf("-report_series %d: must be between 1 and 100000", c.Series)
	case c.Window < 0:
		return fmt.Errorf("report: window %s must not be negative", c.Window)
	}
	if c.Local == nil {
		c.Local = flow.LocalMatcher(nil)
		c.LocalText = DefaultLocalText
	}
	return nil
}

// DefaultLocalText describes flow.DefaultLocalNets on the page.
const DefaultLocalText = "private (RFC 1918, RFC 4193), shared (RFC 6598), loopback and link-local addresses"

// rec is a sampled packet: no pointers, so buffers of them cost the
// garbage collector nothing. weight is the bytes it stands for (its own
// length when every packet is counted).
type rec struct {
	src, dst [16]byte
	weight   uint64
	wire     uint32
}

type pairKey [32]byte

// msg is one unit of work for the collector goroutine.
type msg struct {
	chunk    *chunk
	observed *observed
	alerts   []alert.Alert
	vers     []uint64 // per alert: the watch set that holds its subject
	evidence *evidence
	snap     chan *Snapshot
}

type evidence struct {
	key   string
	time  time.Time
	paths []string
}

// Collector gathers the report's figures. Its methods may be called from
// any goroutine; Close ends it.
type Collector struct {
	cfg     Config
	in      chan msg
	free    chan *chunk
	wg      sync.WaitGroup
	dropped atomic.Uint64
	// droppedIntervals counts intervals a live collector missed from the
	// Observer because it was behind.
	droppedIntervals atomic.Uint64
	obs              *Observer
	// sendMu orders sends against Close, which closes in.
	sendMu sync.RWMutex
	closed bool

	// mu guards st once the goroutine has stopped (Snapshot after Close).
	mu sync.Mutex
	st *state
}

// recBuf is the most sampled packets per hand-over to the collector.
const recBuf = 2048

// New starts a collector; Close stops it.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Collector{
		cfg:  cfg,
		in:   make(chan msg, 16),
		free: make(chan *chunk, 8),
	}
	c.obs = &Observer{c: c, n: candidates(cfg.Top), pending: make(map[int64]*shardPairs), watching: make(map[subject]struct{})}
	c.st = newState(cfg, c.obs)
	for range cap(c.free) {
		c.free <- &chunk{recs: make([]rec, 0, recBuf), totals: make([]total, 0, 64)}
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.loop()
	}()
	return c, nil
}

func (c *Collector) loop() {
	for m := range c.in {
		switch {
		case m.chunk != nil:
			c.st.chunk(m.chunk)
			m.chunk.recs, m.chunk.totals = m.chunk.recs[:0], m.chunk.totals[:0]
			c.free <- m.chunk
		case m.observed != nil:
			c.st.subj.observe(m.observed, c.st.windowIv)
		case m.alerts != nil:
			for i := range m.alerts {
				c.st.alert(&m.alerts[i], m.vers[i])
			}
		case m.evidence != nil:
			c.st.evidence(m.evidence)
		case m.snap != nil:
			m.snap <- c.st.snapshot(c.dropped.Load(), c.droppedIntervals.Load())
		}
	}
}

// send hands m to the goroutine unless the collector is closed.
func (c *Collector) send(m msg) bool {
	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.closed {
		return false
	}
	c.in <- m
	return true
}

// trySend hands m over unless the collector is closed or behind.
func (c *Collector) trySend(m msg) bool {
	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.closed {
		return false
	}
	select {
	case c.in <- m:
		return true
	default:
		return false
	}
}

// Alerts records copies of a closed interval's alerts; the originals go on
// to the dispatcher, whose enrichers change them. Call it before handing
// them on.
func (c *Collector) Alerts(as []*alert.Alert) {
	cp := make([]alert.Alert, 0, len(as))
	vers := make([]uint64, 0, len(as))
	for _, a := range as {
		if a.IsSummary() || a.Test {
			continue
		}
		// Watch the subject from the next interval on; the collector's
		// goroutine decides whether it keeps it.
		var ver uint64
		if k, ok := subjectOf(a); ok && !a.Resolved {
			ver = c.obs.update([]subject{k}, nil)
		}
		vers = append(vers, ver)
		v := *a
		v.Series = append([]float64(nil), a.Series...)
		v.Tests = make(map[string]float64, len(a.Tests))
		for k, p := range a.Tests {
			v.Tests[k] = p
		}
		v.Archive, v.Process, v.SuppressedKeys = nil, nil, nil
		cp = append(cp, v)
	}
	if len(cp) > 0 {
		c.send(msg{alerts: cp, vers: vers})
	}
}

// Emit wraps an alert callback (flow.New's emit) so the collector sees
// each alert before next does.
func (c *Collector) Emit(next func([]*alert.Alert)) func([]*alert.Alert) {
	return func(as []*alert.Alert) {
		c.Alerts(as)
		next(as)
	}
}

// Evidence records the evidence files of an alert once its packets are
// archived. It has the shape of a dispatcher enricher and runs after the
// archiving one.
func (c *Collector) Evidence(a *alert.Alert) {
	if len(a.Archive) == 0 || a.Resolved {
		return
	}
	c.send(msg{evidence: &evidence{key: a.Key, time: a.Time, paths: append([]string(nil), a.Archive...)}})
}

// Snapshot returns a copy of everything the page shows.
func (c *Collector) Snapshot() *Snapshot {
	ch := make(chan *Snapshot, 1)
	if c.send(msg{snap: ch}) {
		return <-ch
	}
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.snapshot(c.dropped.Load(), c.droppedIntervals.Load())
}

// Close waits for what was handed over to be counted and stops the
// goroutine. Records, Alerts and Evidence calls after Close are ignored;
// Snapshot still works. Close must not run concurrently with the sink's
// methods (it follows the end of the capture).
func (c *Collector) Close() {
	c.sendMu.Lock()
	if c.closed {
		c.sendMu.Unlock()
		return
	}
	c.closed = true
	close(c.in)
	c.sendMu.Unlock()
	c.wg.Wait()
}

func cmpPair(a, b pairKey) int     { return bytes.Compare(a[:], b[:]) }
func cmpAddr(a, b [16]byte) int    { return bytes.Compare(a[:], b[:]) }
func addrOf(b [16]byte) netip.Addr { return netip.AddrFrom16(b).Unmap() }
