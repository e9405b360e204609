// Package alert defines the Alert record wherefore raises for an unusual
// flow, the Notifier interface integrations implement, the notifiers (log,
// JSON lines, Slack, PagerDuty, webhook, OpsGenie) and the Dispatcher that
// queues, rate-limits, retries and spools alerts so that capture never
// waits on the network and no alert is silently lost.
package alert

import (
	"context"
	"time"
)

// Alert is one unusual flow in one transfer interval. Its JSON field names
// are an interface: tools parse them, so they are never renamed. New fields
// may be added (omitempty) by later features.
type Alert struct {
	// Time is the end of the alerted interval (packet time, UTC).
	Time time.Time `json:"time"`
	// IntervalStart is the start of the alerted interval.
	IntervalStart   time.Time `json:"interval_start"`
	IntervalSeconds float64   `json:"interval_seconds"`
	// Key names the flow, "src->dst".
	Key string `json:"key"`
	Src string `json:"src"`
	Dst string `json:"dst"`
	// Bytes and Packets moved by the flow in the alerted interval.
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
	// Series holds the values the tests saw, oldest first; the alerted
	// interval is last.
	Series []float64 `json:"series"`
	// Probability is the combined score that crossed the alert threshold.
	Probability float64 `json:"probability"`
	// Tests holds each test's capped probability (highrank and lowrank
	// merged as "rank").
	Tests    map[string]float64 `json:"tests"`
	Detector string             `json:"detector"`
	Host     string             `json:"host"`
	// Baseline is the mean of the reference window the newest value was
	// compared with, in bytes per interval.
	Baseline float64 `json:"baseline"`
	// Kind names what was detected ("volume", "scan" ...), Scope the
	// level of the subject ("pair", "host", "source" ...), and Reason says
	// in one sentence why the detector alerted. Empty when the detector
	// does not say.
	Kind   string `json:"kind,omitempty"`
	Scope  string `json:"scope,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Expected is the detector's normal value for the subject and
	// Threshold the value it crossed, in the subject's unit; zero when
	// the detector has none.
	Expected  float64 `json:"expected,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	// Test marks an alert sent by -test_alert, not raised by traffic.
	Test bool `json:"test,omitempty"`
	// Archive lists the files that hold the flow's packets, when archiving is on.
	Archive []string `json:"archive,omitempty"`
	// Resolved marks the "back to normal" notice for a flow that alerted:
	// the flow has been normal for the configured number of intervals, and
	// Time, IntervalStart, Bytes and Series describe the interval in which
	// it counted as normal again.
	Resolved bool `json:"resolved,omitempty"`
	// SrcName and DstName are reverse DNS names of Src and Dst, filled by
	// the Dispatcher when lookups are enabled and a name was found.
	SrcName string `json:"src_name,omitempty"`
	DstName string `json:"dst_name,omitempty"`
	// Process lists the local processes owning a socket of the flow, when
	// process attribution is on and Src or Dst is an address of this host.
	Process []Process `json:"process,omitempty"`
	// ProcessNote says why Process is empty or how sure it is ("no local
	// socket: ...", "only unconnected UDP sockets match ..."), so an empty
	// Process is never a silent mystery.
	ProcessNote string `json:"process_note,omitempty"`
	// Suppressed is set only on the rate-limit summary the Dispatcher sends
	// to remote notifiers: how many firing alerts the rate limit held back
	// between IntervalStart and Time. Such a summary is never a flow alert.
	Suppressed int `json:"suppressed,omitempty"`
	// SuppressedKeys lists some of the flows behind Suppressed (at most
	// ten), so the reader knows where to look.
	SuppressedKeys []string `json:"suppressed_keys,omitempty"`
}

// IsSummary reports whether a is a rate-limit summary rather than a flow
// alert.
func (a *Alert) IsSummary() bool { return a.Suppressed > 0 }

// Notifier delivers alerts to one destination. Notify reports whether trying
// again could help (a timeout or a 5xx can; a rejected request cannot), so
// retry policy lives once, in the dispatcher, not in every integration.
//
// Notify must not modify a: the Dispatcher hands the same value to every
// notifier.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, a *Alert) (retry bool, err error)
}

// ResolvedSender is implemented by notifiers that may not want resolved
// alerts ("back to normal"); the Dispatcher does not hand them resolved
// alerts when SendResolved returns false. Notifiers without the method
// receive them.
type ResolvedSender interface {
	SendResolved() bool
}
