package alert

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// siUnits are the 1000-based units HumanBytes uses past plain bytes;
// network volumes and rates are customarily decimal.
func siUnits() [6]string { return [...]string{"kB", "MB", "GB", "TB", "PB", "EB"} }

// HumanBytes formats n bytes for people, in decimal units as network tools
// count: "512 B", "1.5 kB", "64.0 MB". Negative and NaN values (which a
// byte count never is) are formatted as "0 B" rather than as nonsense.
func HumanBytes(n float64) string {
	if math.IsNaN(n) || n < 0 {
		n = 0
	}
	if n < 999.5 {
		return strconv.FormatFloat(math.Round(n), 'f', 0, 64) + " B"
	}
	units := siUnits()
	v, i := n/1000, 0
	// Step up while one decimal would round to "1000.0".
	for v >= 999.95 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// HumanRate formats bytes moved in seconds as a rate, "12.8 MB/s". It
// returns "" when seconds is not positive, since there is no rate to show.
func HumanRate(bytes, seconds float64) string {
	if !(seconds > 0) {
		return ""
	}
	return HumanBytes(bytes/seconds) + "/s"
}

// HumanSeconds formats an interval length compactly: "5s", "1m", "1m30s",
// "250ms".
func HumanSeconds(sec float64) string {
	if math.IsNaN(sec) || sec <= 0 {
		return "0s"
	}
	s := time.Duration(sec * float64(time.Second)).Round(time.Millisecond).String()
	// time.Duration prints "1m0s" and "1h0m0s"; people write "1m", "1h".
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// sparkLow is the lowest of the eight consecutive block characters
// ▁▂▃▄▅▆▇█ (U+2581..U+2588) a sparkline is drawn with.
const (
	sparkLow    = '▁'
	sparkLevels = 8
)

// Sparkline draws the last width values of series (all of them when width
// is not positive) as unicode bars, oldest first, so the alerted interval is
// the last bar. Bars are scaled from zero to the largest value shown, since
// the values are volumes: a flow that is steady at a high level looks
// steady, not noisy. Negative and NaN values are drawn as the lowest bar,
// +Inf as the highest.
func Sparkline(series []float64, width int) string {
	if width > 0 && len(series) > width {
		series = series[len(series)-width:]
	}
	top := 0.0
	for _, v := range series {
		if v > top && !math.IsInf(v, 1) {
			top = v
		}
	}
	var b strings.Builder
	b.Grow(len(series) * 3)
	for _, v := range series {
		i := 0
		switch {
		case math.IsInf(v, 1):
			i = sparkLevels - 1
		case top > 0 && v > 0:
			i = int(math.Round(v / top * (sparkLevels - 1)))
		}
		b.WriteRune(sparkLow + rune(i))
	}
	return b.String()
}

// firedThreshold is the per-test probability from which a test counts as
// having fired: more likely anomalous than not.
const firedThreshold = 0.5

// FiredTests lists the tests whose probability is at least 0.5, highest
// first (ties by name), formatted "magnitude 1.00". When none reached 0.5
// (the combination rules can still alert), all tests are listed.
func FiredTests(tests map[string]float64) []string {
	type tp struct {
		name string
		p    float64
	}
	all := make([]tp, 0, len(tests))
	for n, p := range tests {
		all = append(all, tp{n, p})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].p != all[j].p {
			return all[i].p > all[j].p
		}
		return all[i].name < all[j].name
	})
	fired := all[:0:0]
	for _, t := range all {
		if t.p >= firedThreshold {
			fired = append(fired, t)
		}
	}
	if len(fired) == 0 {
		fired = all
	}
	out := make([]string, len(fired))
	for i, t := range fired {
		out[i] = fmt.Sprintf("%s %.2f", t.name, t.p)
	}
	return out
}

// endpoint formats an address with its reverse DNS name when known:
// "10.0.0.5 (db-1.internal)".
func endpoint(addr, name string) string {
	if name == "" || name == addr {
		return addr
	}
	return addr + " (" + name + ")"
}

// flowLabel names the flow with names when known, using arrow between the
// two ends.
func FlowLabel(a *Alert, arrow string) string {
	if a.Src == "" && a.Dst == "" {
		return a.Key
	}
	return endpoint(a.Src, a.SrcName) + " " + arrow + " " + endpoint(a.Dst, a.DstName)
}

// hostPrefix is "web-3: " or "" when the host is unknown.
func hostPrefix(a *Alert) string {
	if a.Host == "" {
		return ""
	}
	return a.Host + ": "
}

// Headline is the one-line description notifiers use where space is short
// (a PagerDuty summary, an OpsGenie message, a log message):
//
//	web-3: 10.0.0.5 -> 203.0.113.9 moved 64.0 MB in 5s (12.8 MB/s, typical 1.2 kB), p=0.97
func Headline(a *Alert) string { return HeadlineWith(a, "->") }

// headline is Headline with the arrow between the flow's ends chosen by
// the destination.
func HeadlineWith(a *Alert, arrow string) string {
	switch {
	case a.IsSummary():
		return fmt.Sprintf("%srate limit suppressed %d more alerts between %s and %s UTC",
			hostPrefix(a), a.Suppressed, a.IntervalStart.UTC().Format("15:04:05"), a.Time.UTC().Format("15:04:05"))
	case a.Resolved:
		return fmt.Sprintf("%s%s back to normal (%s in %s)",
			hostPrefix(a), FlowLabel(a, arrow), HumanBytes(float64(a.Bytes)), HumanSeconds(a.IntervalSeconds))
	}
	if a.Reason != "" {
		// The detector's own sentence says more than a volume line could.
		s := hostPrefix(a) + a.Reason
		if a.Test {
			s = "[TEST] wherefore test alert, no action needed: " + s
		}
		return s
	}
	s := fmt.Sprintf("%s%s moved %s in %s (%s, typical %s), p=%.2f",
		hostPrefix(a), FlowLabel(a, arrow), HumanBytes(float64(a.Bytes)), HumanSeconds(a.IntervalSeconds),
		HumanRate(float64(a.Bytes), a.IntervalSeconds), HumanBytes(a.Baseline), a.Probability)
	if a.Test {
		s = "[TEST] wherefore test alert, no action needed: " + s
	}
	return s
}

// Title names what an alert found, for message headings: "New
// destination", "Vertical port scan" ..., "Unusual transfer" for the
// anomalyzer's volume alerts (no Kind).
func Title(a *Alert) string {
	switch a.Kind {
	case KindNewDestination:
		return "New destination"
	case KindSurge:
		return "Volume surge"
	case KindVScan:
		return "Vertical port scan"
	case KindHScan:
		return "Horizontal scan"
	case KindFanOut:
		return "Fan-out"
	case KindFanIn:
		return "Fan-in"
	case KindBruteForce:
		return "Brute force"
	case KindTunnel:
		return "Possible tunnel"
	case KindBeacon:
		return "Beaconing"
	}
	return "Unusual transfer"
}
