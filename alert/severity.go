package alert

// Severity grades an alert for destinations that rank them (PagerDuty
// severity, OpsGenie priority, Slack colour). It is derived from the
// alert's probability, the only graded measure an alert has.
type Severity int

// The severities, lowest first. Their names are PagerDuty's.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityError
	SeverityCritical
)

// SeverityOf maps a probability to a severity:
//
//	p >= 0.95  critical  (OpsGenie P1)
//	p >= 0.80  error     (P2)
//	p >= 0.60  warning   (P3; 0.6 is the default alert threshold)
//	otherwise  info      (P4)
//
// Test alerts are sent as info (OpsGenie P5) whatever their probability.
func SeverityOf(p float64) Severity {
	switch {
	case p >= 0.95:
		return SeverityCritical
	case p >= 0.80:
		return SeverityError
	case p >= 0.60:
		return SeverityWarning
	}
	return SeverityInfo
}

// Severity is SeverityOf for a whole alert: tests are info, rate-limit
// summaries warning.
func (a *Alert) Severity() Severity {
	switch {
	case a.Test:
		return SeverityInfo
	case a.IsSummary():
		return SeverityWarning
	}
	return SeverityOf(a.Probability)
}

// String returns the PagerDuty name of s: "info", "warning", "error" or
// "critical".
func (s Severity) String() string {
	switch s {
	case SeverityCritical:
		return "critical"
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "info"
}
