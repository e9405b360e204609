package alert

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Clock is the Dispatcher's time source. Tests substitute a fake one so
// that backoff waits, Retry-After and rate-limit windows take no real time
// and are deterministic.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done and then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// outcome is how one delivery ended, after all its attempts.
type outcome int

const (
	delivered outcome = iota // the notifier accepted the alert
	rejected                 // it failed and retrying cannot help
	exhausted                // retries could help but the budget is spent
	aborted                  // the Dispatcher is shutting down
)

// retryPolicy runs a notification with a timeout per attempt and, when the
// notifier says retrying can help, exponential backoff with jitter (or the
// server's Retry-After), within a budget of attempts and time.
type retryPolicy struct {
	timeout  time.Duration // per attempt
	budget   time.Duration // total time from the first attempt
	attempts int           // at most this many attempts
	initial  time.Duration // first backoff
	max      time.Duration // backoff cap
	clock    Clock
	jitter   func() float64 // in [0, 1)
}

// retryInfo describes a failed attempt that will be retried, for logging.
type retryInfo struct {
	attempt int
	wait    time.Duration
	err     error
}

// result is a delivery's outcome, its last error and how many attempts it
// took.
type result struct {
	outcome  outcome
	err      error
	attempts int
}

// deliver sends a through n until it is accepted, rejected, the budget is
// spent or ctx ends. onRetry (may be nil) is told of each retry before its
// wait.
func (p retryPolicy) deliver(ctx context.Context, n Notifier, a *Alert, onRetry func(retryInfo)) result {
	start := p.clock.Now()
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return result{outcome: aborted, err: ctx.Err(), attempts: attempt - 1}
		}
		actx, cancel := context.WithTimeout(ctx, p.timeout)
		retry, err := n.Notify(actx, a)
		cancel()
		if err == nil {
			return result{outcome: delivered, attempts: attempt}
		}
		r := result{err: err, attempts: attempt}
		switch {
		case ctx.Err() != nil:
			r.outcome = aborted
			return r
		case !retry:
			r.outcome = rejected
			return r
		case attempt >= p.attempts:
			r.outcome = exhausted
			return r
		}
		wait := p.backoff(attempt)
		now := p.clock.Now()
		var ra interface {
			RetryDelay(time.Time) (time.Duration, bool)
		}
		if errors.As(err, &ra) {
			if d, ok := ra.RetryDelay(now); ok {
				// The server said when; waiting less would be refused again.
				wait = d
			}
		}
		if now.Add(wait).After(start.Add(p.budget)) {
			// A wait past the budget (including a Retry-After longer than
			// it) ends this delivery; the spool tries again later.
			r.outcome = exhausted
			return r
		}
		if onRetry != nil {
			onRetry(retryInfo{attempt: attempt, wait: wait, err: err})
		}
		if p.clock.Sleep(ctx, wait) != nil {
			r.outcome = aborted
			return r
		}
	}
}

// backoff is the wait after the given failed attempt: initial doubling per
// attempt up to max, with "equal jitter" (a random point in the upper
// half) so that many daemons of a fleet do not retry in step while the
// wait still grows.
func (p retryPolicy) backoff(attempt int) time.Duration {
	d := p.initial
	for i := 1; i < attempt && d < p.max; i++ {
		d *= 2
	}
	if d > p.max {
		d = p.max
	}
	j := p.jitter
	if j == nil {
		j = rand.Float64
	}
	return d/2 + time.Duration(j()*float64(d/2))
}

// timeDuration converts nanoseconds to a Duration, never negative.
func timeDuration(ns int64) time.Duration {
	if ns < 0 {
		return 0
	}
	return time.Duration(ns)
}
