package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
)

// alerting holds the dispatcher in use. A reload builds a new one (new
// notifiers, a reopened alert record) and swaps it in; the old one drains
// in a goroutine alerting owns, and close waits for every drain, so a stop
// right after a reload still delivers or spools what the old one held, and
// before the recorder its archive step needs is closed.
type alerting struct {
	log *logrus.Logger
	mu  sync.RWMutex
	d   *alert.Dispatcher
	// draining are dispatchers a reload replaced that are still delivering
	// what they had queued; retired sums the counters of those that have
	// finished. Both count in stats, so the metrics' counters never go
	// backwards, not even while a swap is under way.
	draining []*alert.Dispatcher
	retired  alert.Stats
	drains   sync.WaitGroup
	closed   bool
}

// drainTimeout bounds how long a replaced or final dispatcher may take to
// deliver what it holds before the rest is spooled.
const drainTimeout = 30 * time.Second

// stats returns the current dispatcher's snapshot plus the counters of
// every replaced one (depths are the current one's).
func (al *alerting) stats() alert.Stats {
	al.mu.RLock()
	defer al.mu.RUnlock()
	s := al.d.Stats()
	for _, d := range al.draining {
		s.Add(d.Stats())
	}
	s.Add(al.retired)
	return s
}

// retire moves a closed dispatcher's final counters to the retired sums.
func (al *alerting) retire(d *alert.Dispatcher) {
	al.mu.Lock()
	defer al.mu.Unlock()
	if i := slices.Index(al.draining, d); i >= 0 {
		al.draining = slices.Delete(al.draining, i, i+1)
	}
	al.retired.Add(d.Stats())
}

func (al *alerting) submit(alerts []*alert.Alert) {
	al.mu.RLock()
	defer al.mu.RUnlock()
	for _, a := range alerts {
		al.d.Submit(a)
	}
}

// errAlertingClosed is returned by swap after close: the pipeline is
// stopping and the new dispatcher was not taken.
var errAlertingClosed = errors.New("alert delivery is shutting down")

// swap installs d and drains the old dispatcher in the background: no
// Submit can reach the old one afterwards, so closing it is safe.
func (al *alerting) swap(d *alert.Dispatcher) error {
	al.mu.Lock()
	defer al.mu.Unlock()
	if al.closed {
		return errAlertingClosed
	}
	old := al.d
	al.d = d
	al.draining = append(al.draining, old)
	al.drains.Add(1)
	go func() {
		defer al.drains.Done()
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		if err := old.Close(ctx); err != nil {
			al.log.WithError(err).Warn("previous alert delivery did not finish; what is left is spooled")
		}
		al.retire(old)
	}()
	return nil
}

// close closes the current dispatcher and waits for every replaced one to
// finish draining. A second call does nothing.
func (al *alerting) close(ctx context.Context) error {
	al.mu.Lock()
	if al.closed {
		al.mu.Unlock()
		return nil
	}
	al.closed = true
	d := al.d
	al.mu.Unlock()
	err := d.Close(ctx)
	al.drains.Wait()
	return err
}
