package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wherefore/wherefore/alert"
)

// Run describes the run a page is about: what the collector cannot see.
type Run struct {
	// Source is what was read ("file x.pcap", "interface eth0").
	Source string
	// Host names the machine (the live page's title).
	Host string
	// Packets and Bytes read; Skipped lists packets not accounted to a
	// flow, by reason; Filtered those the address filter dropped.
	Packets  uint64
	Bytes    uint64
	Skipped  []Count
	Filtered uint64
	// Settings lists the settings used, flag name and value.
	Settings []Setting
	// Elapsed is the run time so far.
	Elapsed time.Duration
	// Generated is when the page was made.
	Generated time.Time
	// Refresh, when set, makes the browser reload the page this often.
	Refresh time.Duration
	// Sensitivity is -anom_sensitivity, the magnitude test's gate, drawn
	// as the threshold of alerts that carry none.
	Sensitivity float64
}

// Count is a number with its reason.
type Count struct {
	Reason string
	N      uint64
}

// Setting is one setting of the run.
type Setting struct{ Name, Value string }

//go:embed page.html
var pageHTML string

// page is the template's data.
type page struct {
	Run      Run
	S        *Snapshot
	Title    string
	Span     string
	Timeline template.HTML
	Alerts   []alertView
	Omitted  int
	Pairs    []Talker
	Sources  []Talker
	Dests    []Talker
	Talkers  string // the window the talkers cover
	// ScanAlerts are the kept scan, fan-out, fan-in and brute-force alerts.
	ScanAlerts []alert.Alert
}

var funcs = template.FuncMap{
	"bytes": func(v any) string {
		switch n := v.(type) {
		case uint64:
			return alert.HumanBytes(float64(n))
		case float64:
			return alert.HumanBytes(n)
		}
		return fmt.Sprint(v)
	},
	"rate": func(n uint64, sec float64) string { return alert.HumanRate(float64(n), sec) },
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"dur":  func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"pct":  func(n, of uint64) string { return percent(n, of) },
	"prob": func(p float64) string { return fmt.Sprintf("%.2f", p) },
	"inc":  func(i int) int { return i + 1 },
	// value shows a series value in its measure.
	"value": func(v float64, count bool) string {
		if count {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return alert.HumanBytes(v)
	},
	"join": func(v any) string {
		switch l := v.(type) {
		case []uint16:
			parts := make([]string, len(l))
			for i, p := range l {
				parts[i] = strconv.Itoa(int(p))
			}
			return strings.Join(parts, ", ")
		case []string:
			return strings.Join(l, ", ")
		}
		return fmt.Sprint(v)
	},
	"fileURL": fileURL,
	"svg":     func(s string) template.HTML { return template.HTML(s) }, // only for SVG we rendered
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

func percent(n, of uint64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// fileURL links an evidence file: absolute paths as file URLs (the report
// is opened from disk), others as given, relative to the page.
func fileURL(p string) template.URL {
	if filepath.IsAbs(p) {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(p)}
		return template.URL(u.String())
	}
	return template.URL((&url.URL{Path: filepath.ToSlash(p)}).String())
}

var tmpl = template.Must(template.New("page").Funcs(funcs).Parse(pageHTML))

// Render writes the page for s and run to w.
func Render(w io.Writer, s *Snapshot, run Run) error {
	pg := page{Run: run, S: s, Pairs: s.Pairs, Sources: s.Sources, Dests: s.Destinations}
	pg.Title = "wherefore report: " + run.Source
	if s.Live {
		pg.Title = "wherefore on " + run.Host + ": last " + s.Window.String()
	}
	if !s.First.IsZero() {
		pg.Span = fmt.Sprintf("%s to %s UTC (%s)", s.First.Format("2006-01-02 15:04:05"), s.Last.Format("2006-01-02 15:04:05"),
			s.Last.Sub(s.First).Round(time.Millisecond))
	}
	pg.Talkers = "the whole capture"
	if s.Live {
		pg.Talkers = fmt.Sprintf("since %s UTC (the counts restart every %s and cover the last one to two of those)",
			s.TalkersSince.Format("2006-01-02 15:04:05"), s.Window)
	}
	tl, err := timelineChart(s)
	if err != nil {
		return err
	}
	pg.Timeline = template.HTML(tl)
	pg.Alerts = make([]alertView, 0, len(s.Alerts))
	for i := range s.Alerts {
		v := viewOf(s, i, run.Sensitivity)
		if v.SVG, err = alertChart(&v); err != nil {
			return err
		}
		pg.Alerts = append(pg.Alerts, v)
	}
	pg.Omitted = s.Total - len(s.Alerts)
	for _, a := range s.Alerts {
		if isScanKind(a.Kind) {
			pg.ScanAlerts = append(pg.ScanAlerts, a)
		}
	}
	if err := tmpl.Execute(w, &pg); err != nil {
		return fmt.Errorf("report: writing the page: %w", err)
	}
	return nil
}

// viewOf prepares alert i of s for its chart and table.
func viewOf(s *Snapshot, i int, sensitivity float64) alertView {
	a := s.Alerts[i]
	v := alertView{Alert: a, Reason: a.Reason, Kind: a.Kind, Scope: a.Scope,
		Severity: alert.SeverityOf(a.Probability).String(), Fired: alert.FiredTests(a.Tests)}
	if v.Reason == "" {
		v.Reason = alert.Headline(&a)
	}
	if v.Kind == "" {
		v.Kind = "volume"
	}
	if v.Scope == "" {
		v.Scope = "pair"
	}
	switch {
	case a.Expected > 0 && !math.IsInf(a.Expected, 0):
		v.Expected = a.Expected
	case a.Baseline > 0 && !math.IsInf(a.Baseline, 0):
		v.Expected = a.Baseline
	}
	iv := time.Duration(a.IntervalSeconds * float64(time.Second))
	if iv <= 0 {
		iv = s.Interval
	}
	n := len(a.Series)
	var alertedAt []time.Time
	for _, o := range s.Alerts {
		if o.Key == a.Key {
			alertedAt = append(alertedAt, o.IntervalStart.UTC())
		}
	}
	hit := func(start time.Time, width int64) bool {
		end := start.Add(time.Duration(width) * iv)
		for _, t := range alertedAt {
			if !t.Before(start) && t.Before(end) {
				return true
			}
		}
		return false
	}
	v.Measure, v.Count = measureOf(&a)
	// The alert's own series is exact; the subject's tracked series, when
	// kept, adds what came before and after it.
	var own []seriesRow
	for j, b := range a.Series {
		start := a.IntervalStart.Add(-time.Duration(n-1-j) * iv).UTC()
		own = append(own, seriesRow{Start: start, Intervals: 1, Value: b, Alerted: hit(start, 1)})
	}
	ownFirst, ownEnd := a.IntervalStart.UTC(), a.Time.UTC()
	if n > 0 {
		ownFirst = own[0].Start
	}
	ser := s.Series[seriesKey(&a)]
	var before, after int
	if ser != nil {
		for _, p := range ser.Points {
			end := p.Start.Add(time.Duration(ser.Width) * iv)
			if n > 0 && end.After(ownFirst) && p.Start.Before(ownEnd) {
				continue // the alert's own values cover it
			}
			r := seriesRow{Start: p.Start, Intervals: ser.Width, Value: pick(p, &a), Tracked: true, Alerted: hit(p.Start, ser.Width)}
			if p.Start.Before(ownFirst) {
				before++
				v.Rows = append(v.Rows, r)
			} else {
				after++
				own = append(own, r)
			}
		}
	}
	v.Rows = append(v.Rows, own...)
	if len(v.Rows) > 0 {
		first, last := v.Rows[0], v.Rows[len(v.Rows)-1]
		end := last.Start.Add(time.Duration(last.Intervals) * iv)
		w := fmt.Sprintf("%s %s to %s UTC: ", v.Measure, first.Start.Format("2006-01-02 15:04:05"), end.Format("15:04:05"))
		var parts []string
		if before > 0 {
			parts = append(parts, fmt.Sprintf("the subject's tracked series from %s (%d points)", first.Start.Format("15:04:05"), before))
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("the %d intervals the detector scored, %s to %s, exact", n, ownFirst.Format("15:04:05"), ownEnd.Format("15:04:05")))
		}
		if after > 0 {
			parts = append(parts, fmt.Sprintf("the tracked series after the alert (%d points)", after))
		}
		w += strings.Join(parts, ", then ")
		switch {
		case ser != nil && ser.Width > 1:
			w += fmt.Sprintf("; a tracked point spans %d intervals and shows the largest of them", ser.Width)
		case ser == nil:
			w += "; no longer series was kept for this subject (-report_series subjects are tracked: each interval's heaviest while there is room, and alerted ones from their alert on)"
		}
		if ser != nil && s.Live {
			w += fmt.Sprintf("; the page keeps the last %s", s.Window)
		}
		v.Window = w
	}
	switch {
	case a.Threshold > 0:
		v.Threshold = a.Threshold
		v.ThresholdText = "the threshold the detector reported crossing"
	case sensitivity > 0 && v.Expected > 0 && n > 0 && !v.Count:
		// The anomalyzer crosses a probability, not a byte count; what it
		// has in bytes is the magnitude gate around the expected value.
		newest := a.Series[n-1]
		if newest >= v.Expected {
			v.Threshold = v.Expected * (1 + sensitivity)
		} else {
			v.Threshold = v.Expected * (1 - sensitivity)
		}
		v.ThresholdText = fmt.Sprintf("the magnitude gate, expected × (1 %s %g): this detector reports no byte threshold (it crossed a probability, %.2f ≥ -alert_threshold); a newest interval inside the gate never alerts",
			map[bool]string{true: "+", false: "−"}[newest >= v.Expected], sensitivity, a.Probability)
	default:
		v.ThresholdText = "none: the detector reported no threshold and no expected value to derive one from"
	}
	return v
}

// WriteTopTalkers writes the n heaviest pairs, sources and destinations as
// a few lines of the text summary.
func WriteTopTalkers(w io.Writer, s *Snapshot, n int) {
	line := func(label string, ts []Talker) {
		if len(ts) == 0 {
			return
		}
		parts := make([]string, 0, n)
		for i, t := range ts {
			if i == n {
				break
			}
			parts = append(parts, fmt.Sprintf("%s %s", t.Subject, alert.HumanBytes(float64(t.Bytes))))
		}
		fmt.Fprintf(w, "  %-13s %s\n", label, strings.Join(parts, ", "))
	}
	line("top pairs", s.Pairs)
	line("top sources", s.Sources)
	line("top dests", s.Destinations)
}

// measureOf says what an alert's series counts: distinct counts for scans,
// fan-out, fan-in and brute force, bytes otherwise.
func measureOf(a *alert.Alert) (string, bool) {
	switch a.Kind {
	case alert.KindVScan:
		return "distinct (destination, port) tries", true
	case alert.KindHScan, alert.KindFanOut:
		return "distinct destinations", true
	case alert.KindFanIn:
		return "distinct sources", true
	case alert.KindBruteForce:
		return "connection attempts", true
	}
	return "bytes", false
}

// pick returns the tracked point's value in the alert's measure.
func pick(p SubjectPoint, a *alert.Alert) float64 {
	switch a.Kind {
	case alert.KindVScan:
		return float64(p.Tried)
	case alert.KindHScan, alert.KindFanOut, alert.KindFanIn:
		return float64(p.Peers)
	case alert.KindBruteForce:
		return float64(p.SYNs)
	}
	return float64(p.Bytes)
}

// isScanKind reports whether alerts of kind k are listed with their
// counts under scans, fan-out and fan-in.
func isScanKind(k string) bool {
	switch k {
	case alert.KindVScan, alert.KindHScan, alert.KindFanOut, alert.KindFanIn, alert.KindBruteForce:
		return true
	}
	return false
}
