package jsonl

import (
	"context"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
)

// Log writes each alert as one structured log entry (logrus fields flow,
// bytes, probability ...): Warn for an unusual flow, Info for "back to
// normal" and test alerts. It is a local notifier: it never fails.
type Log struct {
	log logrus.FieldLogger
}

// NewLog returns a Log notifier writing to l (logrus.StandardLogger() when
// nil).
func NewLog(l logrus.FieldLogger) *Log {
	if l == nil {
		l = logrus.StandardLogger()
	}
	return &Log{log: l}
}

// Name returns "log".
func (*Log) Name() string { return "log" }

// Notify logs a.
func (l *Log) Notify(_ context.Context, a *alert.Alert) (bool, error) {
	e := l.log.WithFields(alert.LogFields(a))
	switch {
	case a.Test:
		e.Info("test alert: no action needed")
	case a.IsSummary():
		e.Warn("rate limit suppressed alerts")
	case a.Resolved:
		e.Info("flow back to normal")
	default:
		e.Warn("unusual flow volume")
	}
	return false, nil
}
