// Package report turns what wherefore sees — traffic per interval, the
// heaviest talkers, the alerts with the series they were raised on — into
// one self-contained HTML page: the report of a capture file (-report) or
// the live status page of a running daemon.
//
// A Collector is a flow.Observer: each closed interval's totals, a sample
// of its pairs and its heaviest keys reach it from the flow aggregator, and
// the alerts through a wrapped emit callback. It sums them on its own
// goroutine into structures whose size is fixed by Config, whatever the
// length of the capture; the capture goroutine does no work for it. Pages
// are rendered from a Snapshot, so rendering never holds up capture or
// scoring.
package report

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

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
	// LocalText describes, for the page, the local networks that split
	// traffic into out and in (flow.Config.LocalNets).
	LocalText string
	// Lossy drops an interval, counting it, when the collector falls
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
	if c.LocalText == "" {
		c.LocalText = DefaultLocalText
	}
	return nil
}

// DefaultLocalText describes flow.DefaultLocalNets on the page.
const DefaultLocalText = "private (RFC 1918, RFC 4193), shared (RFC 6598), loopback and link-local addresses"

type pairKey [32]byte

// msg is one unit of work for the collector goroutine.
type msg struct {
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
	cfg Config
	in  chan msg
	wg  sync.WaitGroup
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

// New starts a collector; Close stops it.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Collector{
		cfg: cfg,
		in:  make(chan msg, 16),
	}
	c.obs = &Observer{c: c, n: candidates(cfg.Top), pending: make(map[int64]*shardPairs), watching: make(map[subject]struct{})}
	c.st = newState(cfg, c.obs)
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
		case m.observed != nil:
			c.st.observe(m.observed)
		case m.alerts != nil:
			for i := range m.alerts {
				c.st.alert(&m.alerts[i], m.vers[i])
			}
		case m.evidence != nil:
			c.st.evidence(m.evidence)
		case m.snap != nil:
			m.snap <- c.st.snapshot(c.droppedIntervals.Load())
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
	return c.st.snapshot(c.droppedIntervals.Load())
}

// Close waits for what was handed over to be counted and stops the
// goroutine. Observer, Alerts and Evidence calls after Close are ignored;
// Snapshot still works. Close follows the flow aggregator's Close.
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
