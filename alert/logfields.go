package alert

import (
	"sort"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
)

// LogFields describes a for a log entry: raw values for machines, human
// units next to them for people.
func LogFields(a *Alert) logrus.Fields {
	if a.IsSummary() {
		return logrus.Fields{
			"suppressed":     a.Suppressed,
			"flows":          strings.Join(a.SuppressedKeys, ","),
			"host":           a.Host,
			"interval_start": a.IntervalStart,
			"interval_end":   a.Time,
		}
	}
	f := logrus.Fields{
		"flow":           a.Key,
		"src":            a.Src,
		"dst":            a.Dst,
		"host":           a.Host,
		"bytes":          a.Bytes,
		"human":          HumanBytes(float64(a.Bytes)),
		"packets":        a.Packets,
		"interval_start": a.IntervalStart,
		"interval_end":   a.Time, // "time" is logrus's own (wall clock)
		"series":         Sparkline(a.Series, SparkWidth),
	}
	if r := HumanRate(float64(a.Bytes), a.IntervalSeconds); r != "" {
		f["rate"] = r
	}
	if !a.Resolved {
		f["probability"] = a.Probability
		f["severity"] = a.Severity().String()
		f["baseline"] = HumanBytes(a.Baseline)
		f["tests"] = TestsText(a.Tests)
		f["detector"] = a.Detector
	}
	if a.Reason != "" {
		f["reason"] = a.Reason
	}
	if a.Kind != "" {
		f["kind"] = a.Kind
	}
	if a.SrcName != "" {
		f["src_name"] = a.SrcName
	}
	if a.DstName != "" {
		f["dst_name"] = a.DstName
	}
	if len(a.Process) > 0 {
		ps := make([]string, len(a.Process))
		for i, p := range a.Process {
			ps[i] = p.String()
		}
		f["process"] = strings.Join(ps, "; ")
	}
	if a.ProcessNote != "" {
		f["process_note"] = a.ProcessNote
	}
	if len(a.Archive) > 0 {
		f["archive"] = strings.Join(a.Archive, ",")
	}
	if a.Test {
		f["test"] = true
	}
	return f
}

// SparkWidth is how many recent intervals sparklines show: enough to see
// the spike against its history, short enough for one line.
const SparkWidth = 30

// TestsText lists every test with its probability, highest first:
// "magnitude=1.00 fence=1.00 rank=0.90".
func TestsText(tests map[string]float64) string {
	names := make([]string, 0, len(tests))
	for n := range tests {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if tests[names[i]] != tests[names[j]] {
			return tests[names[i]] > tests[names[j]]
		}
		return names[i] < names[j]
	})
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(tests[n], 'f', 2, 64))
	}
	return b.String()
}
