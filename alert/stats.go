package alert

import "slices"

// Stats is a snapshot of the Dispatcher's counters, for logs and (later)
// Prometheus. Counters only grow; depths are current values.
type Stats struct {
	// Submitted counts calls of Submit.
	Submitted uint64
	// QueueDepth and QueueCapacity describe the dispatcher queue now.
	QueueDepth, QueueCapacity int
	// Overflow counts alerts that found the queue full (they were written
	// locally and passed on by Submit itself).
	Overflow uint64
	// Cooldown and RateLimited count firing alerts not sent to the remote
	// notifiers (one count per alert, not per notifier).
	Cooldown, RateLimited uint64
	// Summaries counts rate-limit summaries sent.
	Summaries uint64
	// Dropped counts alerts submitted after Close.
	Dropped uint64
	// Notifiers has one entry per local, then per remote notifier, in the
	// order given to NewDispatcher.
	Notifiers []NotifierStats
}

// NotifierStats are one notifier's counters.
type NotifierStats struct {
	Name   string
	Remote bool
	// Delivered alerts; for local notifiers, successful writes.
	Delivered uint64
	// Failed: rejected by the destination (not retried) or, for local
	// notifiers, failed writes.
	Failed uint64
	// Retried counts attempts after the first.
	Retried uint64
	// Suppressed counts firing alerts cooldown or rate limit kept from it.
	Suppressed uint64
	// Spooled counts alerts of this run kept in its spool for a later
	// attempt (the retry budget ran out, the notifier was resting, or the
	// daemon stopped first); every remote delivery is also written to the
	// spool ahead of its first attempt, which is not counted. Dropped
	// counts alerts lost because they could not be spooled (spooling off,
	// spool full, disk error, unreadable file).
	Spooled, Dropped uint64
	// Resent counts delivered alerts that an earlier run (or a notifier
	// of the same kind under another name) had left in the spool; they
	// are also in Delivered.
	Resent uint64
	// QueueDepth and SpoolDepth are the alerts waiting now.
	QueueDepth, SpoolDepth int
}

// Stats returns a snapshot of the counters. It is safe to call at any time.
func (d *Dispatcher) Stats() Stats {
	s := Stats{
		Submitted:     d.submitted.Load(),
		QueueDepth:    len(d.queue),
		QueueCapacity: cap(d.queue),
		Overflow:      d.overflow.Load(),
		Cooldown:      d.cooldown.Load(),
		RateLimited:   d.rateLimited.Load(),
		Summaries:     d.summed.Load(),
		Dropped:       d.dropped.Load(),
	}
	for _, l := range d.local {
		s.Notifiers = append(s.Notifiers, NotifierStats{
			Name:      l.n.Name(),
			Delivered: l.delivered.Load(),
			Failed:    l.failed.Load(),
		})
	}
	for _, w := range d.workers {
		s.Notifiers = append(s.Notifiers, NotifierStats{
			Name:       w.name,
			Remote:     true,
			Delivered:  w.delivered.Load(),
			Failed:     w.failed.Load(),
			Retried:    w.retried.Load(),
			Suppressed: w.suppressed.Load(),
			Spooled:    w.spooled.Load(),
			Dropped:    w.dropped.Load(),
			Resent:     w.resent.Load(),
			QueueDepth: len(w.queue),
			SpoolDepth: w.spool.len(),
		})
	}
	return s
}

// Add adds other's counters to s, matching notifiers by name (a notifier
// only other has is appended). Depths (queue and spool) are current
// values, not counters: s keeps its own. main uses it to total the
// dispatchers a reload replaced with the running one, so counters never go
// backwards.
func (s *Stats) Add(other Stats) {
	s.Submitted += other.Submitted
	s.Overflow += other.Overflow
	s.Cooldown += other.Cooldown
	s.RateLimited += other.RateLimited
	s.Summaries += other.Summaries
	s.Dropped += other.Dropped
	for _, n := range other.Notifiers {
		i := slices.IndexFunc(s.Notifiers, func(m NotifierStats) bool { return m.Name == n.Name })
		if i < 0 {
			n.QueueDepth, n.SpoolDepth = 0, 0
			s.Notifiers = append(s.Notifiers, n)
			continue
		}
		s.Notifiers[i].add(n)
	}
}

// add adds n's counters, not its depths, to m.
func (m *NotifierStats) add(n NotifierStats) {
	m.Delivered += n.Delivered
	m.Failed += n.Failed
	m.Retried += n.Retried
	m.Suppressed += n.Suppressed
	m.Spooled += n.Spooled
	m.Dropped += n.Dropped
	m.Resent += n.Resent
}
