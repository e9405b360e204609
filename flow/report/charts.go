package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/wherefore/wherefore/alert"
)

// Chart colours, chosen to stay distinct for colour-blind readers.
var (
	colOut       = color.RGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}
	colIn        = color.RGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}
	colOther     = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
	colAlert     = color.RGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff}
	colSeries    = color.RGBA{R: 0x33, G: 0x33, B: 0x33, A: 0xff}
	colExpected  = color.RGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}
	colThreshold = color.RGBA{R: 0xcc, G: 0x00, B: 0x00, A: 0xff}
)

// svg renders p as an SVG element to inline in HTML (without the XML
// prolog, which HTML does not want).
func svg(p *plot.Plot, w, h vg.Length) (string, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("report: rendering a chart: %w", err)
	}
	b := buf.Bytes()
	if i := bytes.Index(b, []byte("<svg")); i > 0 {
		b = b[i:]
	}
	return string(b), nil
}

// byteTicks labels a byte axis with units (kB, MB ...).
type byteTicks struct{ perSecond bool }

func (t byteTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		ticks[i].Label = alert.HumanBytes(ticks[i].Value)
		if t.perSecond {
			ticks[i].Label += "/s"
		}
	}
	return ticks
}

func timeAxis(p *plot.Plot, span time.Duration) {
	format := "15:04:05"
	switch {
	case span > 48*time.Hour:
		format = "Jan 2"
	case span > 12*time.Hour:
		format = "Jan 2 15:04"
	case span > 10*time.Minute:
		format = "15:04"
	}
	p.X.Tick.Marker = plot.TimeTicks{Format: format}
	p.X.Label.Text = "UTC"
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// timelineChart plots traffic per point as rates (bytes per second, so
// points of different widths compare), with every point that saw an alert
// marked.
func timelineChart(s *Snapshot) (string, error) {
	p := plot.New()
	p.Title.Text = "Traffic per interval"
	p.Y.Label.Text = "bytes/s"
	p.Y.Tick.Marker = byteTicks{perSecond: true}
	p.Y.Min = 0
	p.Legend.Top = true
	if len(s.Timeline) > 0 {
		timeAxis(p, s.Timeline[len(s.Timeline)-1].Start.Sub(s.Timeline[0].Start))
	}
	out := make(plotter.XYs, len(s.Timeline))
	in := make(plotter.XYs, len(s.Timeline))
	other := make(plotter.XYs, len(s.Timeline))
	var marks plotter.XYs
	for i, pt := range s.Timeline {
		x := unix(pt.Start)
		sec := pt.Seconds(s.Interval)
		out[i] = plotter.XY{X: x, Y: float64(pt.Out) / sec}
		in[i] = plotter.XY{X: x, Y: float64(pt.In) / sec}
		other[i] = plotter.XY{X: x, Y: float64(pt.Other()) / sec}
		if pt.Alerts > 0 {
			marks = append(marks, plotter.XY{X: x, Y: math.Max(out[i].Y, math.Max(in[i].Y, other[i].Y))})
		}
	}
	for _, l := range []struct {
		name string
		xy   plotter.XYs
		col  color.Color
	}{{"out (local to remote)", out, colOut}, {"in (remote to local)", in, colIn}, {"other", other, colOther}} {
		if len(l.xy) == 0 {
			continue
		}
		line, err := plotter.NewLine(l.xy)
		if err != nil {
			return "", fmt.Errorf("report: timeline: %w", err)
		}
		line.Color = l.col
		line.Width = vg.Points(1.2)
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	if len(marks) > 0 {
		sc, err := plotter.NewScatter(marks)
		if err != nil {
			return "", fmt.Errorf("report: timeline: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colAlert, Radius: vg.Points(4), Shape: draw.TriangleGlyph{}}
		p.Add(sc)
		p.Legend.Add("alert", sc)
	}
	p.Add(plotter.NewGrid())
	return svg(p, 10*vg.Inch, 3.2*vg.Inch)
}

// alertView is what one alert's chart and table show.
type alertView struct {
	Alert     alert.Alert
	Reason    string
	Kind      string
	Scope     string
	Severity  string
	Fired     []string
	Expected  float64 // 0: none
	Threshold float64 // 0: none
	// ThresholdText says what the threshold line is.
	ThresholdText string
	Rows          []seriesRow
	Window        string // the span the chart covers
	SVG           string
	// Measure names what the series counts ("bytes", "distinct
	// destinations" ...); Count is set when it is not bytes.
	Measure string
	Count   bool
}

type seriesRow struct {
	Start     time.Time
	Intervals int64 // transfer intervals the row covers
	Value     float64
	Alerted   bool
	// Tracked rows come from the subject's tracked series (the largest
	// value of their intervals); the others are the alert's own series.
	Tracked bool
}

// alertChart plots the subject's series with the expected value, the
// threshold and the alerted intervals.
func alertChart(v *alertView) (string, error) {
	a := &v.Alert
	p := plot.New()
	p.Title.Text = a.Key
	p.Y.Label.Text = v.Measure + " per interval"
	if !v.Count {
		p.Y.Tick.Marker = byteTicks{}
	}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	iv := time.Duration(a.IntervalSeconds * float64(time.Second))
	if len(v.Rows) > 0 {
		timeAxis(p, v.Rows[len(v.Rows)-1].Start.Sub(v.Rows[0].Start)+iv)
	}
	xy := make(plotter.XYs, len(v.Rows))
	var hits plotter.XYs
	for i, r := range v.Rows {
		xy[i] = plotter.XY{X: unix(r.Start), Y: r.Value}
		if r.Alerted {
			hits = append(hits, xy[i])
		}
	}
	if len(xy) > 0 {
		line, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return "", fmt.Errorf("report: chart of %s: %w", a.Key, err)
		}
		line.Color, line.Width = colSeries, vg.Points(1.2)
		pts.GlyphStyle = draw.GlyphStyle{Color: colSeries, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(line, pts)
		p.Legend.Add(v.Measure, line, pts)
	}
	hline := func(y float64, col color.Color, dashes []vg.Length, name string) {
		f := plotter.NewFunction(func(float64) float64 { return y })
		f.Color, f.Width, f.Dashes = col, vg.Points(1.5), dashes
		p.Add(f)
		p.Legend.Add(name, f)
	}
	if v.Expected > 0 {
		hline(v.Expected, colExpected, []vg.Length{vg.Points(6), vg.Points(3)}, "expected")
	}
	if v.Threshold > 0 {
		hline(v.Threshold, colThreshold, []vg.Length{vg.Points(2), vg.Points(2)}, "threshold")
	}
	if len(hits) > 0 {
		sc, err := plotter.NewScatter(hits)
		if err != nil {
			return "", fmt.Errorf("report: chart of %s: %w", a.Key, err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colAlert, Radius: vg.Points(5), Shape: draw.RingGlyph{}}
		p.Add(sc)
		p.Legend.Add("alerted", sc)
	}
	// A function line needs the x range set: the series' span.
	if len(xy) > 0 {
		p.X.Min, p.X.Max = xy[0].X, xy[len(xy)-1].X
		if p.X.Min == p.X.Max {
			p.X.Min -= iv.Seconds()
			p.X.Max += iv.Seconds()
		}
		top := math.Max(v.Threshold, v.Expected)
		for _, q := range xy {
			top = math.Max(top, q.Y)
		}
		p.Y.Max = top * 1.1
	}
	p.Add(plotter.NewGrid())
	return svg(p, 7*vg.Inch, 2.8*vg.Inch)
}
