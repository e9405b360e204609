package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/url"
	"path/filepath"
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
	"dur":     func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"pct":     func(n, of uint64) string { return percent(n, of) },
	"prob":    func(p float64) string { return fmt.Sprintf("%.2f", p) },
	"inc":     func(i int) int { return i + 1 },
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
	n := len(a.Series)
	alerted := make(map[time.Time]bool)
	for _, o := range s.Alerts {
		if o.Key == a.Key {
			alerted[o.IntervalStart.UTC()] = true
		}
	}
	for j, b := range a.Series {
		start := a.IntervalStart.Add(-time.Duration(n-1-j) * iv).UTC()
		v.Rows = append(v.Rows, seriesRow{Start: start, Bytes: b, Alerted: alerted[start]})
	}
	if n > 0 {
		v.Window = fmt.Sprintf("the %d intervals the detector scored, %s to %s UTC, the alerted one last",
			n, v.Rows[0].Start.Format("15:04:05"), a.Time.UTC().Format("15:04:05"))
	}
	switch {
	case a.Threshold > 0:
		v.Threshold = a.Threshold
		v.ThresholdText = "the threshold the detector reported crossing"
	case sensitivity > 0 && v.Expected > 0 && n > 0:
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
