package alert

import (
	"slices"
	"time"
)

// Noise control decides which firing alerts reach the remote notifiers
// (people); the local record always has them all. It runs on packet time
// (each alert's Time), like the rest of the pipeline, so that a capture file
// analysed at disk speed is limited as it would have been live, and gives
// the same result on every run.

// verdict is the limiter's answer for one firing alert.
type verdict int

const (
	send        verdict = iota
	inCooldown          // its flow was sent less than the cooldown ago
	rateLimited         // the window's quota is used up
)

// maxSummaryKeys bounds the flows a rate-limit summary names.
const maxSummaryKeys = 10

// openTTL forgets a flow that has a pending "back to normal" after this
// long without alerts, bounding memory when a resolve never comes.
const openTTL = 24 * time.Hour

// pruneEvery is how often (in alert time) stale flow entries are dropped.
const pruneEvery = time.Minute

// flowNoise is what the limiter remembers of one flow.
type flowNoise struct {
	lastSent time.Time // last firing alert sent to remote notifiers
	lastSeen time.Time // last firing alert of any fate
	open     bool      // sent, not yet resolved: a resolve is worth sending
}

// limiter applies the per-flow cooldown and the global rate limit. It is
// not safe for concurrent use; the Dispatcher serialises calls.
type limiter struct {
	cooldown time.Duration
	rate     int           // firing alerts per window, 0: unlimited
	window   time.Duration // rate-limit window, aligned to multiples of it since the epoch

	flows     map[string]*flowNoise
	winStart  time.Time
	sent      int      // in the current window
	held      int      // suppressed by the rate limit, not yet summarised
	heldKeys  []string // some of their flows
	heldHost  string
	lastPrune time.Time
}

func newLimiter(cooldown time.Duration, rate int, window time.Duration) *limiter {
	return &limiter{cooldown: cooldown, rate: rate, window: window, flows: make(map[string]*flowNoise)}
}

// admit decides a firing alert's fate. When its time starts a new window
// and the old one held alerts back, the summary of the old window comes
// back too, to be sent before anything else.
func (l *limiter) admit(a *Alert, now time.Time) (verdict, *Alert) {
	t := a.Time
	if t.IsZero() {
		t = now
	}
	var summary *Alert
	if l.rate > 0 {
		if w := alignDown(t, l.window); w.After(l.winStart) {
			summary = l.flush()
			l.winStart, l.sent = w, 0
		}
	}
	l.prune(t)
	f := l.flows[a.Key]
	if f == nil {
		f = &flowNoise{}
		l.flows[a.Key] = f
	}
	if t.After(f.lastSeen) {
		f.lastSeen = t
	}
	if l.cooldown > 0 && !f.lastSent.IsZero() && t.Sub(f.lastSent) < l.cooldown {
		return inCooldown, summary
	}
	if l.rate > 0 && l.sent >= l.rate {
		l.held++
		l.heldHost = a.Host
		if len(l.heldKeys) < maxSummaryKeys && !slices.Contains(l.heldKeys, a.Key) {
			l.heldKeys = append(l.heldKeys, a.Key)
		}
		return rateLimited, summary
	}
	l.sent++
	f.lastSent, f.open = t, true
	return send, summary
}

// resolve reports whether a resolved alert should reach the remote
// notifiers: only when a firing alert of its flow did, so that flows the
// rate limit held back do not produce "back to normal" noise. It also ends
// the flow's cooldown: a new transfer after it is a new story.
func (l *limiter) resolve(a *Alert) bool {
	f := l.flows[a.Key]
	if f == nil || !f.open {
		return false
	}
	f.open, f.lastSent = false, time.Time{}
	return true
}

// pending reports whether a summary is waiting.
func (l *limiter) pending() bool { return l.held > 0 }

// flush returns the summary of alerts held back so far (nil when none) and
// starts counting anew.
func (l *limiter) flush() *Alert {
	if l.held == 0 {
		return nil
	}
	s := &Alert{
		Time:            l.winStart.Add(l.window).UTC(),
		IntervalStart:   l.winStart.UTC(),
		IntervalSeconds: l.window.Seconds(),
		Key:             "rate-limit",
		Host:            l.heldHost,
		Series:          []float64{},
		Detector:        "rate-limit",
		Suppressed:      l.held,
		SuppressedKeys:  l.heldKeys,
	}
	l.held, l.heldKeys = 0, nil
	return s
}

// prune drops flows that neither cool down nor wait for a resolve.
func (l *limiter) prune(t time.Time) {
	if t.Sub(l.lastPrune) < pruneEvery {
		return
	}
	l.lastPrune = t
	for k, f := range l.flows {
		coolingDown := l.cooldown > 0 && !f.lastSent.IsZero() && t.Sub(f.lastSent) < l.cooldown
		waiting := f.open && t.Sub(f.lastSeen) < openTTL
		if !coolingDown && !waiting {
			delete(l.flows, k)
		}
	}
}

// alignDown returns the start of the window of length d holding t, windows
// being aligned to multiples of d since the Unix epoch like the transfer
// intervals, so the hosts of a fleet agree on them.
func alignDown(t time.Time, d time.Duration) time.Time {
	ns := t.UnixNano()
	m := ns % int64(d)
	if m < 0 {
		m += int64(d)
	}
	return time.Unix(0, ns-m).UTC()
}
