package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// DispatcherConfig configures the Dispatcher. Fields with a flag are filled
// by main from that flag; the others have working defaults when zero
// (DefaultDispatcherConfig shows them) and exist for tests and embedding.
type DispatcherConfig struct {
	// QueueSize bounds the alerts waiting for the dispatcher goroutine, and
	// each remote notifier's own queue (-alert_queue_size).
	QueueSize int
	// Cooldown: after a flow's firing alert went to the remote notifiers,
	// its further firing alerts within this time (alert time) do not
	// (-alert_cooldown; 0: off). The local record still has them.
	Cooldown time.Duration
	// RateLimit is the most firing alerts sent to remote notifiers per
	// RateWindow (-alert_rate_limit; 0: no limit). Alerts over it are
	// counted, and one summary ("N more alerts suppressed") goes to each
	// remote notifier when the window ends.
	RateLimit int
	// RateWindow is the rate-limit window (default one minute), aligned to
	// multiples of it in alert time.
	RateWindow time.Duration
	// NotifyTimeout bounds each attempt of each remote notifier
	// (-notify_timeout).
	NotifyTimeout time.Duration
	// RetryBudget is the time within which a failed delivery is retried,
	// from its first attempt (-notify_retry_budget; 0: no retries). After
	// it the alert is spooled.
	RetryBudget time.Duration
	// MaxAttempts bounds the attempts per delivery (default 8).
	MaxAttempts int
	// RetryInitial and RetryMax shape the exponential backoff (defaults
	// 500ms and 30s).
	RetryInitial, RetryMax time.Duration
	// SpoolDir holds undelivered alerts, one subdirectory per remote
	// notifier, re-sent at the next start (main: <-l dir>/alert_spool).
	// Empty disables spooling: undelivered alerts are then logged and
	// counted as dropped.
	SpoolDir string
	// SpoolRetry is how long a notifier whose retry budget ran out rests
	// before its spool is tried again (default one minute).
	SpoolRetry time.Duration
	// SpoolLimit bounds the files per notifier's spool (default 10000).
	SpoolLimit int
	// DNSLookup adds reverse DNS names of src and dst to alerts
	// (-dns_lookup), each lookup bounded by DNSTimeout (default 500ms).
	DNSLookup  bool
	DNSTimeout time.Duration
	// Resolver answers the lookups (default net.DefaultResolver).
	Resolver AddrResolver
	// Enrich, when set, is called for each alert before it is written
	// anywhere (main fills Archive there). It runs on the dispatcher
	// goroutine, never on the caller of Submit; its context ends when Close
	// gives up.
	Enrich func(context.Context, *Alert)
	// Block makes Submit wait for room in the queue instead of overflowing.
	// For capture files: nothing stalls a live capture there, and the local
	// record then keeps the order in which alerts were raised.
	Block bool
	// Logger receives the dispatcher's own messages (default
	// logrus.StandardLogger()).
	Logger logrus.FieldLogger
	// Clock and Jitter (random in [0,1)) default to the wall clock and
	// math/rand; tests make them deterministic.
	Clock  Clock
	Jitter func() float64
}

// maxQueueSize bounds -alert_queue_size: queues are allocated up front,
// one per remote notifier besides the dispatcher's.
const maxQueueSize = 1 << 20

// DefaultDispatcherConfig returns the defaults main's flags start from.
func DefaultDispatcherConfig() DispatcherConfig {
	return DispatcherConfig{
		QueueSize:     1024,
		Cooldown:      15 * time.Minute,
		RateLimit:     20,
		RateWindow:    time.Minute,
		NotifyTimeout: 10 * time.Second,
		RetryBudget:   2 * time.Minute,
		MaxAttempts:   8,
		RetryInitial:  500 * time.Millisecond,
		RetryMax:      30 * time.Second,
		SpoolRetry:    time.Minute,
		SpoolLimit:    10000,
		DNSTimeout:    500 * time.Millisecond,
	}
}

// Validate reports the first invalid field, by flag name where it has one.
func (c DispatcherConfig) Validate() error {
	switch {
	case c.QueueSize < 1 || c.QueueSize > maxQueueSize:
		return fmt.Errorf("alert: -alert_queue_size: %d, want 1 to %d", c.QueueSize, maxQueueSize)
	case c.Cooldown < 0:
		return fmt.Errorf("alert: -alert_cooldown: %v is negative", c.Cooldown)
	case c.RateLimit < 0:
		return fmt.Errorf("alert: -alert_rate_limit: %d is negative (0 means no limit)", c.RateLimit)
	case c.RateWindow < 0:
		return fmt.Errorf("alert: DispatcherConfig.RateWindow: %v is negative", c.RateWindow)
	case c.NotifyTimeout <= 0:
		return fmt.Errorf("alert: -notify_timeout: %v, want a positive duration", c.NotifyTimeout)
	case c.RetryBudget < 0:
		return fmt.Errorf("alert: -notify_retry_budget: %v is negative", c.RetryBudget)
	case c.MaxAttempts < 0:
		return fmt.Errorf("alert: DispatcherConfig.MaxAttempts: %d is negative", c.MaxAttempts)
	case c.RetryInitial < 0 || c.RetryMax < 0:
		return fmt.Errorf("alert: DispatcherConfig.RetryInitial/RetryMax: negative backoff")
	case c.SpoolRetry < 0:
		return fmt.Errorf("alert: DispatcherConfig.SpoolRetry: %v is negative", c.SpoolRetry)
	case c.SpoolLimit < 0:
		return fmt.Errorf("alert: DispatcherConfig.SpoolLimit: %d is negative", c.SpoolLimit)
	case c.DNSTimeout < 0:
		return fmt.Errorf("alert: DispatcherConfig.DNSTimeout: %v is negative", c.DNSTimeout)
	}
	return nil
}

// withDefaults fills the zero fields that have no flag.
func (c DispatcherConfig) withDefaults() DispatcherConfig {
	def := DefaultDispatcherConfig()
	if c.RateWindow == 0 {
		c.RateWindow = def.RateWindow
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = def.MaxAttempts
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = def.RetryInitial
	}
	if c.RetryMax == 0 {
		c.RetryMax = def.RetryMax
	}
	if c.RetryMax < c.RetryInitial {
		c.RetryMax = c.RetryInitial
	}
	if c.SpoolRetry == 0 {
		c.SpoolRetry = def.SpoolRetry
	}
	if c.SpoolLimit == 0 {
		c.SpoolLimit = def.SpoolLimit
	}
	if c.DNSTimeout == 0 {
		c.DNSTimeout = def.DNSTimeout
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Logger == nil {
		c.Logger = logrus.StandardLogger()
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	return c
}

// Dispatcher takes alerts from the flow pipeline and delivers them: first,
// synchronously and in order, to the local notifiers (the JSON-lines record,
// then the log); then, through per-flow cooldown and a global rate limit,
// to each remote notifier's own worker, which retries with backoff and
// spools what it cannot deliver. A slow or hanging destination delays
// neither the pipeline nor the other destinations.
//
// NewDispatcher starts its goroutines; Close stops them.
type Dispatcher struct {
	cfg     DispatcherConfig
	log     logrus.FieldLogger
	clock   Clock
	policy  retryPolicy
	names   *namer // nil when lookups are off
	queue   chan *Alert
	local   []*localSink
	workers []*worker

	// ctx ends when Close gives up waiting; it cancels Enrich, lookups and
	// deliveries in flight.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards closed and keeps Submit from sending on the closed queue.
	mu     sync.RWMutex
	closed bool

	localMu sync.Mutex // serialises local writes (dispatcher and Submit)
	fwdMu   sync.Mutex // guards lim and the hand-off order to workers
	lim     *limiter

	dispatchDone chan struct{}
	workersWG    sync.WaitGroup
	closeOnce    sync.Once
	closeErr     error

	submitted, overflow, dropped  atomic.Uint64
	cooldown, rateLimited, summed atomic.Uint64
}

// localSink is a local notifier and its counters.
type localSink struct {
	n                 Notifier
	delivered, failed atomic.Uint64
}

// NewDispatcher validates cfg, opens the spool of each remote notifier
// (alerts left there by an earlier run are delivered first) and starts the
// dispatcher and one worker per remote notifier. local notifiers are
// written in the given order (main: JSON lines, then log); the Dispatcher
// closes those that are io.Closers when it closes. Remote notifier names
// must be unique: they name the spool directories and the statistics.
func NewDispatcher(cfg DispatcherConfig, local, remote []Notifier) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Dispatcher{
		cfg:   cfg,
		log:   cfg.Logger,
		clock: cfg.Clock,
		policy: retryPolicy{
			timeout:  cfg.NotifyTimeout,
			budget:   cfg.RetryBudget,
			attempts: cfg.MaxAttempts,
			initial:  cfg.RetryInitial,
			max:      cfg.RetryMax,
			clock:    cfg.Clock,
			jitter:   cfg.Jitter,
		},
		queue:        make(chan *Alert, cfg.QueueSize),
		lim:          newLimiter(cfg.Cooldown, cfg.RateLimit, cfg.RateWindow),
		dispatchDone: make(chan struct{}),
	}
	if cfg.DNSLookup {
		d.names = newNamer(cfg.Resolver, cfg.DNSTimeout)
	}
	for _, n := range local {
		d.local = append(d.local, &localSink{n: n})
	}
	seen := map[string]bool{}
	for _, n := range remote {
		name := n.Name()
		if !validName(name) {
			return nil, fmt.Errorf("alert: notifier name %q: want letters, digits, '-', '_' or '.'", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("alert: two remote notifiers are named %q", name)
		}
		seen[name] = true
		w := &worker{d: d, n: n, name: name, queue: make(chan *Alert, cfg.QueueSize), kick: make(chan struct{}, 1)}
		if rs, ok := n.(ResolvedSender); ok {
			w.skipResolved = !rs.SendResolved()
		}
		if cfg.SpoolDir != "" {
			sp, err := openSpool(cfg.SpoolDir, name, cfg.SpoolLimit)
			if err != nil {
				return nil, err
			}
			w.spool = sp
			if k := sp.len(); k > 0 {
				d.log.WithFields(logrus.Fields{"notifier": name, "alerts": k}).Info("re-sending alerts spooled by an earlier run")
			}
		}
		d.workers = append(d.workers, w)
	}
	if cfg.SpoolDir != "" && len(d.workers) > 0 {
		if err := d.adoptOrphans(); err != nil {
			return nil, err
		}
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	go d.run()
	for _, w := range d.workers {
		d.workersWG.Add(1)
		go w.run()
	}
	return d, nil
}

// NotifierKind returns the kind of a remote notifier from its name: the part
// before the first '-' ("webhook" for "webhook-2", "slack" for "slack").
// Remote notifiers are named "<kind>" or "<kind>-<suffix>"; spooled alerts
// whose notifier is no longer configured under its name go to the first
// notifier of the same kind.
func NotifierKind(name string) string {
	k, _, _ := strings.Cut(name, "-")
	return k
}

// adoptOrphans moves the alerts of spool folders that belong to no
// configured notifier (its name changed, or a folder an earlier version
// named by a hash of the URL) to the first notifier of the same kind, so a
// changed URL or key still delivers what was spooled under the old one.
func (d *Dispatcher) adoptOrphans() error {
	ents, err := os.ReadDir(d.cfg.SpoolDir)
	if err != nil {
		return fmt.Errorf("alert: spool: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() || slices.ContainsFunc(d.workers, func(w *worker) bool { return w.name == e.Name() }) {
			continue
		}
		old := filepath.Join(d.cfg.SpoolDir, e.Name())
		i := slices.IndexFunc(d.workers, func(w *worker) bool { return NotifierKind(w.name) == NotifierKind(e.Name()) })
		if i < 0 {
			if names, err := spoolFiles(old); err == nil && len(names) > 0 {
				d.log.WithFields(logrus.Fields{"spool": e.Name(), "alerts": len(names), "kind": NotifierKind(e.Name())}).
					Warn("alerts spooled for a notifier that is not configured; they wait for one of the same kind")
			}
			continue
		}
		w := d.workers[i]
		moved, err := w.spool.adopt(old)
		if moved > 0 {
			d.log.WithFields(logrus.Fields{"spool": e.Name(), "notifier": w.name, "alerts": moved}).
				Info("alerts spooled under an earlier notifier name or URL found; re-sending them to the notifier of the same kind")
		}
		if err != nil {
			return err
		}
		// Only an empty folder goes; anything else in it stays untouched.
		if os.Remove(old) == nil {
			_ = syncDir(d.cfg.SpoolDir)
		}
	}
	return nil
}

// validName accepts names safe as a directory name.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// Submit hands a to the Dispatcher, which owns it from now on (the caller
// must not modify it). Submit never waits on the network: when the queue
// is full it writes a to the local notifiers itself, so the durable record
// still holds it, counts and logs the overflow, and passes a on to the
// remote notifiers' queues or, when those are full too, their spools.
// Alerts submitted after Close are logged and counted as dropped.
func (d *Dispatcher) Submit(a *Alert) {
	d.submitted.Add(1)
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		d.dropped.Add(1)
		d.log.WithFields(LogFields(a)).Error("alert submitted after the dispatcher closed: not delivered")
		return
	}
	if d.cfg.Block {
		d.queue <- a
		return
	}
	select {
	case d.queue <- a:
		return
	default:
	}
	d.overflow.Add(1)
	d.log.WithFields(logrus.Fields{"flow": a.Key, "queue_size": d.cfg.QueueSize}).
		Warn("alert queue full: alert written locally and passed to remote notifiers without enrichment")
	d.writeLocal(a)
	d.forward(a)
}

// run is the dispatcher goroutine: enrich, write locally, forward. It also
// sends the rate-limit summary when no further alert comes to end the
// window.
func (d *Dispatcher) run() {
	defer close(d.dispatchDone)
	var flushC <-chan time.Time
	for {
		select {
		case a, ok := <-d.queue:
			if !ok {
				return
			}
			d.process(a)
			if flushC == nil && d.summaryPending() {
				flushC = d.clock.After(d.cfg.RateWindow)
			}
		case <-flushC:
			flushC = nil
			d.flushSummary()
		}
	}
}

func (d *Dispatcher) process(a *Alert) {
	if d.ctx.Err() == nil {
		if d.cfg.Enrich != nil {
			d.cfg.Enrich(d.ctx, a)
		}
		if d.names != nil {
			d.names.fill(d.ctx, a)
		}
	}
	d.writeLocal(a)
	d.forward(a)
}

// writeLocal writes a to every local notifier, in order. Local writes are
// not cancelled by shutdown: they are the record.
func (d *Dispatcher) writeLocal(a *Alert) {
	d.localMu.Lock()
	defer d.localMu.Unlock()
	for _, s := range d.local {
		if _, err := s.n.Notify(context.Background(), a); err != nil {
			s.failed.Add(1)
			d.log.WithFields(logrus.Fields{"notifier": s.n.Name(), "flow": a.Key}).WithError(err).Error("writing alert locally failed")
			continue
		}
		s.delivered.Add(1)
	}
}

// forward applies noise control and hands a to the remote workers.
func (d *Dispatcher) forward(a *Alert) {
	if len(d.workers) == 0 {
		return
	}
	d.fwdMu.Lock()
	defer d.fwdMu.Unlock()
	if a.Resolved {
		if !d.lim.resolve(a) {
			d.log.WithField("flow", a.Key).Debug("back to normal, but its alert never reached remote notifiers: not sent")
			return
		}
		for _, w := range d.workers {
			if !w.skipResolved {
				w.offer(a)
			}
		}
		return
	}
	v, summary := d.lim.admit(a, d.clock.Now())
	if summary != nil {
		d.sendSummary(summary)
	}
	switch v {
	case send:
		for _, w := range d.workers {
			w.offer(a)
		}
		return
	case inCooldown:
		d.cooldown.Add(1)
		d.log.WithFields(logrus.Fields{"flow": a.Key, "cooldown": d.cfg.Cooldown}).
			Info("alert not sent to remote notifiers: flow alerted recently (cooldown)")
	case rateLimited:
		d.rateLimited.Add(1)
		d.log.WithFields(logrus.Fields{"flow": a.Key, "rate_limit": d.cfg.RateLimit}).
			Info("alert not sent to remote notifiers: rate limit reached, a summary follows")
	}
	for _, w := range d.workers {
		w.suppressed.Add(1)
	}
}

func (d *Dispatcher) summaryPending() bool {
	d.fwdMu.Lock()
	defer d.fwdMu.Unlock()
	return d.lim.pending()
}

// flushSummary sends the pending rate-limit summary, if any.
func (d *Dispatcher) flushSummary() {
	d.fwdMu.Lock()
	defer d.fwdMu.Unlock()
	if s := d.lim.flush(); s != nil {
		d.sendSummary(s)
	}
}

// sendSummary hands a rate-limit summary to every remote worker; fwdMu is
// held.
func (d *Dispatcher) sendSummary(s *Alert) {
	d.summed.Add(1)
	d.log.WithFields(LogFields(s)).Warn("rate limit suppressed alerts; sending a summary to remote notifiers")
	for _, w := range d.workers {
		w.offer(s)
	}
}

// Close stops accepting alerts, lets the queued ones through the local
// notifiers and hands them on, and waits for the remote notifiers to
// deliver what they hold until ctx ends. Whatever is still undelivered then
// is spooled for the next start. Finally the local notifiers that are
// io.Closers are closed. Close is idempotent; later calls return the first
// call's result. The error reports failures to spool or to close local
// writers, not undelivered alerts (they are spooled, and logged).
func (d *Dispatcher) Close(ctx context.Context) error {
	d.closeOnce.Do(func() { d.closeErr = d.shutdown(ctx) })
	return d.closeErr
}

func (d *Dispatcher) shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	close(d.queue)
	d.mu.Unlock()

	stop := context.AfterFunc(ctx, d.cancel)
	defer stop()

	<-d.dispatchDone
	d.flushSummary()
	for _, w := range d.workers {
		close(w.queue)
	}
	d.workersWG.Wait()
	d.cancel()

	var errs []error
	for _, w := range d.workers {
		w.errMu.Lock()
		if w.spoolErr != nil {
			errs = append(errs, w.spoolErr)
		}
		w.errMu.Unlock()
		if k := w.spool.len(); k > 0 {
			d.log.WithFields(logrus.Fields{"notifier": w.name, "alerts": k}).Warn("undelivered alerts spooled for the next start")
		}
	}
	for _, s := range d.local {
		if c, ok := s.n.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("alert: closing %s: %w", s.n.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}
