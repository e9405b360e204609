// Package alert defines the Alert record wherefore raises for an unusual
// flow, the Notifier interface integrations implement, and the notifiers.
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
	// Test marks an alert sent by -test_alert, not raised by traffic.
	Test bool `json:"test,omitempty"`
	// Archive lists the files that hold the flow's packets, when archiving is on.
	Archive []string `json:"archive,omitempty"`
}

// Notifier delivers alerts to one destination. Notify reports whether trying
// again could help (a timeout or a 5xx can; a rejected request cannot), so
// retry policy lives once, in the dispatcher, not in every integration.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, a *Alert) (retry bool, err error)
}
