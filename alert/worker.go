package alert

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// worker delivers alerts to one remote notifier, one at a time, in order.
// With a spool (the normal case) every alert is written to it before the
// first attempt (write-ahead) and the worker delivers from the spool,
// removing each file once the notifier accepted it, so a crash at any
// moment loses nothing. Without a spool (or when writing it failed) alerts
// reach the worker through its bounded queue and live in memory only.
type worker struct {
	d            *Dispatcher
	n            Notifier
	name         string
	skipResolved bool
	queue        chan *Alert
	spool        *spool        // nil: spooling off
	kick         chan struct{} // something was spooled from outside

	// pausedUntil rests the spool after a budget ran out, so a dead
	// endpoint is not hammered; only the worker goroutine uses it.
	pausedUntil int64 // clock time, UnixNano
	errMu       sync.Mutex
	spoolErr    error // first spooling failure (disk), reported by Close

	delivered, failed, retried, suppressed, spooled, dropped, resent atomic.Uint64
}

// reasonOrder is why alerts are spooled while older ones wait in the spool.
const reasonOrder = "keeping order behind spooled alerts"

// offer hands a to the worker without waiting: written ahead to its spool,
// or, when there is none or writing failed, into its queue.
func (w *worker) offer(a *Alert) {
	if w.spool != nil {
		_, err := w.spool.put(a, w.d.clock.Now())
		if err == nil {
			w.wake()
			return
		}
		w.noteSpoolErr(err)
		w.d.log.WithFields(logrus.Fields{"notifier": w.name, "flow": a.Key}).WithError(err).
			Warn("alert could not be written to the spool before delivery; delivering it from memory")
	}
	select {
	case w.queue <- a:
	default:
		w.spoolAlert(a, "notifier queue full")
		w.wake()
	}
}

// wake tells the worker that its spool has something new.
func (w *worker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// noteSpoolErr keeps the first disk failure for Close to report; a full
// spool is a limit, not a failure.
func (w *worker) noteSpoolErr(err error) {
	if errors.Is(err, errSpoolFull) || w.spool == nil {
		return
	}
	w.errMu.Lock()
	if w.spoolErr == nil {
		w.spoolErr = fmt.Errorf("alert: spooling for %s: %w", w.name, err)
	}
	w.errMu.Unlock()
}

// spoolAlert writes a to the spool, logging why; an alert that cannot be
// spooled is logged with all its fields and counted as dropped.
func (w *worker) spoolAlert(a *Alert, why string) {
	name, err := w.spool.put(a, w.d.clock.Now())
	if err == nil {
		w.deferSpooled(name)
		e := w.d.log.WithFields(logrus.Fields{"notifier": w.name, "flow": a.Key, "reason": why})
		if why == reasonOrder {
			// Expected while a backlog drains; the backlog itself was logged.
			e.Debug("alert spooled")
		} else {
			e.Info("alert spooled")
		}
		return
	}
	w.dropped.Add(1)
	w.d.log.WithFields(LogFields(a)).WithFields(logrus.Fields{"notifier": w.name, "reason": why}).WithError(err).
		Error("alert could not be spooled: not delivered to this notifier")
	w.noteSpoolErr(err)
}

func (w *worker) paused() bool {
	return w.d.clock.Now().UnixNano() < w.pausedUntil
}

func (w *worker) pause() {
	w.pausedUntil = w.d.clock.Now().Add(w.d.cfg.SpoolRetry).UnixNano()
}

// run is the worker goroutine. It ends when its queue is closed and either
// everything is delivered, or the notifier is resting, or the Dispatcher's
// context ended; what is left is in the spool.
func (w *worker) run() {
	defer w.d.workersWG.Done()
	// Alerts written ahead but never tried (a stop came first) are kept
	// for the next start like the ones whose attempts failed.
	defer func() { w.spooled.Add(uint64(w.spool.deferRest())) }()
	closing := false
	for {
		if w.d.ctx.Err() != nil {
			// Close gave up waiting: keep the rest for the next start.
			for a := range w.queue {
				w.spoolAlert(a, "shutdown")
			}
			return
		}
		if w.spool.len() > 0 {
			if w.queueToSpool() {
				closing = true
			}
			if !w.paused() {
				w.deliverSpooled()
				continue
			}
			if closing {
				return
			}
			wait := w.pausedUntil - w.d.clock.Now().UnixNano()
			select {
			case a, ok := <-w.queue:
				if !ok {
					closing = true
					continue
				}
				w.spoolAlert(a, reasonOrder)
			case <-w.kick:
			case <-w.d.clock.After(timeDuration(wait)):
			}
			continue
		}
		if closing {
			return
		}
		select {
		case a, ok := <-w.queue:
			if !ok {
				closing = true
				continue
			}
			w.deliverNow(a)
		case <-w.kick:
		}
	}
}

// queueToSpool moves what is queued into the spool, behind the alerts
// already there, and reports whether the queue is closed.
func (w *worker) queueToSpool() bool {
	for {
		select {
		case a, ok := <-w.queue:
			if !ok {
				return true
			}
			w.spoolAlert(a, reasonOrder)
		default:
			return false
		}
	}
}

// deliverNow delivers a fresh alert.
func (w *worker) deliverNow(a *Alert) {
	r := w.d.policy.deliver(w.d.ctx, w.n, a, w.onRetry(a))
	w.count(r)
	switch r.outcome {
	case delivered:
	case rejected:
		w.logRejected(a, r)
	case exhausted:
		w.logExhausted(a, r)
		w.pause()
		w.spoolAlert(a, "retry budget exhausted")
	case aborted:
		w.spoolAlert(a, "shutdown")
	}
}

// deliverSpooled delivers the oldest spooled alert, removing its file
// unless it is to be tried again later.
func (w *worker) deliverSpooled() {
	name, a, found, err := w.spool.oldest()
	if err != nil {
		w.dropped.Add(1)
		w.d.log.WithFields(logrus.Fields{"notifier": w.name, "file": name}).WithError(err).Error("unreadable spool file removed")
		w.removeSpooled(name)
		return
	}
	if a == nil {
		return
	}
	r := w.d.policy.deliver(w.d.ctx, w.n, a, w.onRetry(a))
	w.count(r)
	switch r.outcome {
	case delivered:
		if found {
			w.resent.Add(1)
			w.d.log.WithFields(logrus.Fields{"notifier": w.name, "flow": a.Key, "alert_time": a.Time}).
				Info("alert spooled by an earlier run delivered")
		}
		w.removeSpooled(name)
	case rejected:
		w.logRejected(a, r)
		w.removeSpooled(name)
	case exhausted:
		w.logExhausted(a, r)
		w.pause()
		w.deferSpooled(name)
	case aborted:
		w.deferSpooled(name)
	}
}

// deferSpooled counts a spool file whose delivery is put off to a later
// attempt, once per run.
func (w *worker) deferSpooled(name string) {
	if w.spool.markDeferred(name) {
		w.spooled.Add(1)
	}
}

func (w *worker) removeSpooled(name string) {
	if err := w.spool.remove(name); err != nil {
		w.d.log.WithFields(logrus.Fields{"notifier": w.name, "file": name}).WithError(err).Error("removing spool file failed")
	}
}

func (w *worker) count(r result) {
	if r.attempts > 1 {
		w.retried.Add(uint64(r.attempts - 1))
	}
	switch r.outcome {
	case delivered:
		w.delivered.Add(1)
	case rejected:
		w.failed.Add(1)
	}
}

func (w *worker) onRetry(a *Alert) func(retryInfo) {
	return func(ri retryInfo) {
		w.d.log.WithFields(logrus.Fields{"notifier": w.name, "flow": a.Key, "attempt": ri.attempt, "wait": ri.wait}).
			WithError(ri.err).Warn("alert delivery failed; retrying")
	}
}

func (w *worker) logRejected(a *Alert, r result) {
	w.d.log.WithFields(logrus.Fields{"notifier": w.name, "flow": a.Key, "attempts": r.attempts}).
		WithError(r.err).Error("alert rejected by notifier; not retried")
}

func (w *worker) logExhausted(a *Alert, r result) {
	w.d.log.WithFields(logrus.Fields{"notifier": w.name, "flow": a.Key, "attempts": r.attempts, "resume_in": w.d.cfg.SpoolRetry}).
		WithError(r.err).Warn("alert not delivered within the retry budget; spooled, notifier resting")
}
