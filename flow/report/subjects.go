package report

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/wherefore/wherefore/alert"
)

// admitPerInterval is how many of each interval's heaviest subjects (by
// bytes, and sources by distinct destinations and tries) start being
// tracked while there is room.
const admitPerInterval = 4

type subjectKind uint8

const (
	subjPair subjectKind = iota
	subjSrc
	subjDst
	subjHost
)

// subject is a key whose series can be tracked: a pair (a, b) or an
// address of one role.
type subject struct {
	kind subjectKind
	a, b [16]byte
}

func (s subject) String() string {
	if s.kind == subjPair {
		return addrOf(s.a).String() + "->" + addrOf(s.b).String()
	}
	return addrOf(s.a).String()
}

// seriesPoint is a tracked subject's point: the largest of each measure
// over the intervals it covers.
type seriesPoint struct {
	id int64
	m  measures
	// unknown: the subject may have had traffic the observer did not
	// copy (it was not yet watched); such a point is not drawn.
	unknown bool
}

// trackedSeries is one subject's series from when tracking started.
type trackedSeries struct {
	since   int64 // first interval tracked
	alerted bool
	width   int64 // intervals per point, behind the grid's until caught up
	pts     []seriesPoint
	peak    uint64 // the most bytes in one interval, for eviction
	ver     uint64 // the watch set that first holds it
	last    int64  // the last interval with data
}

// grid places intervals on points shared by every tracked series: for a
// capture, from its first interval, the width doubling when Points are
// filled; for a live page, a fixed width (the timeline's) and the last
// Points of them.
type grid struct {
	points  int
	live    bool
	width   int64
	base    int64
	started bool
	newest  int64
}

func (g *grid) id(idx int64) int64 {
	if g.live {
		return floorDiv(idx, g.width)
	}
	return (idx - g.base) / g.width
}

// place makes room for interval idx and returns its point id.
func (g *grid) place(idx int64) int64 {
	if !g.started {
		g.started, g.base, g.newest = true, idx, idx
	}
	g.newest = max(g.newest, idx)
	if idx < g.base {
		idx = g.base
	}
	for !g.live && g.id(idx) >= int64(g.points) {
		g.width *= 2
	}
	return g.id(idx)
}

func (g *grid) start(id int64, interval int64) time.Time {
	first := id * g.width
	if !g.live {
		first = g.base + id*g.width
	}
	return time.Unix(0, first*interval).UTC()
}

// add folds m of point id into t, merging points when the grid widened
// and, live, forgetting points that left the window.
func (t *trackedSeries) add(g *grid, id int64, m measures) {
	for t.width < g.width {
		t.halve()
	}
	t.peak = max(t.peak, m.Bytes)
	t.put(seriesPoint{id: id, m: m})
	t.forget(g)
}

// put merges p into the newest point or appends it.
func (t *trackedSeries) put(p seriesPoint) {
	n := len(t.pts)
	switch {
	case n > 0 && t.pts[n-1].id == p.id:
		q := &t.pts[n-1]
		q.m = maxMeasures(q.m, p.m)
		q.unknown = q.unknown && p.unknown
	case n == 0 || t.pts[n-1].id < p.id:
		t.pts = append(t.pts, p)
	}
}

// fill gives an unknown point the bytes a pair's own series holds for it.
func (t *trackedSeries) fill(id int64, bytes uint64) {
	i, ok := slices.BinarySearchFunc(t.pts, id, func(p seriesPoint, id int64) int { return cmp.Compare(p.id, id) })
	if !ok {
		return
	}
	p := &t.pts[i]
	if p.unknown {
		p.unknown, p.m = false, measures{Bytes: bytes}
	} else {
		p.m.Bytes = max(p.m.Bytes, bytes)
	}
	t.peak = max(t.peak, bytes)
}

// forget drops the points that left a live window.
func (t *trackedSeries) forget(g *grid) {
	if g.live {
		oldest := g.id(g.newest) - int64(g.points) + 1
		drop := 0
		for drop < len(t.pts) && t.pts[drop].id < oldest {
			drop++
		}
		if drop > 0 {
			t.pts = append(t.pts[:0], t.pts[drop:]...)
		}
	}
}

func (t *trackedSeries) halve() {
	out := t.pts[:0]
	for _, p := range t.pts {
		p.id /= 2
		if n := len(out); n > 0 && out[n-1].id == p.id {
			out[n-1].m = maxMeasures(out[n-1].m, p.m)
			out[n-1].unknown = out[n-1].unknown && p.unknown
			continue
		}
		out = append(out, p)
	}
	t.pts = out
	t.width *= 2
}

func maxMeasures(a, b measures) measures {
	return measures{Bytes: max(a.Bytes, b.Bytes), Peers: max(a.Peers, b.Peers), Tried: max(a.Tried, b.Tried),
		Failed: max(a.Failed, b.Failed), SYNs: max(a.SYNs, b.SYNs)}
}

// peakEntry is a subject's busiest interval by one measure.
type peakEntry struct {
	value uint64
	idx   int64
	s     addrSample
}

// peakTable keeps, in bounded space, the subjects with the highest value
// of one measure in any single interval. A subject missing from a full
// table displaces the lowest peak only if it beats it: the kept peaks are
// exactly the highest ones seen (ties aside), because a subject's peak
// interval always brings it in as a candidate.
type peakTable struct {
	cap     int
	measure func(*addrSample) uint64
	m       map[[16]byte]*peakEntry
}

func newPeakTable(capacity int, measure func(*addrSample) uint64) *peakTable {
	return &peakTable{cap: capacity, measure: measure, m: make(map[[16]byte]*peakEntry, capacity)}
}

func (t *peakTable) add(idx int64, s *addrSample) {
	v := t.measure(s)
	if v == 0 {
		return
	}
	if e, ok := t.m[s.addr]; ok {
		if v > e.value {
			*e = peakEntry{value: v, idx: idx, s: *s}
		}
		return
	}
	if len(t.m) >= t.cap {
		var low [16]byte
		var lowV uint64
		first := true
		for k, e := range t.m {
			if first || e.value < lowV || (e.value == lowV && cmpAddr(k, low) > 0) {
				low, lowV, first = k, e.value, false
			}
		}
		if v <= lowV {
			return
		}
		delete(t.m, low)
	}
	t.m[s.addr] = &peakEntry{value: v, idx: idx, s: *s}
}

// prune forgets peaks of intervals before oldest (a live page's window).
func (t *peakTable) prune(oldest int64) {
	for k, e := range t.m {
		if e.idx < oldest {
			delete(t.m, k)
		}
	}
}

// CountRow is one row of a table of subjects by a distinct count: the
// interval in which the count peaked, and the other counts of that
// interval.
type CountRow struct {
	Subject string
	// Count is the table's measure in that interval.
	Count uint64
	At    time.Time
	Bytes uint64
	// Peers are distinct destinations of a source, or sources of a
	// destination; Tried distinct (destination, port) tries; Failed those
	// unanswered or refused, Refused those turned down.
	Peers, Tried, Failed, Refused uint64
	Ports                         []uint16
	SamplePeers                   []string
}

func (t *peakTable) rows(n int, interval int64) []CountRow {
	es := make([]*peakEntry, 0, len(t.m))
	for _, e := range t.m {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *peakEntry) int {
		if c := cmp.Compare(b.value, a.value); c != 0 {
			return c
		}
		return cmpAddr(a.s.addr, b.s.addr)
	})
	out := make([]CountRow, 0, min(n, len(es)))
	for _, e := range es[:min(n, len(es))] {
		r := CountRow{Subject: addrOf(e.s.addr).String(), Count: e.value, At: time.Unix(0, e.idx*interval).UTC(),
			Bytes: e.s.m.Bytes, Peers: e.s.m.Peers, Tried: e.s.m.Tried, Failed: e.s.m.Failed, Refused: e.s.refused,
			Ports: slices.Clone(e.s.ports)}
		for _, p := range e.s.peers {
			r.SamplePeers = append(r.SamplePeers, p.String())
		}
		out = append(out, r)
	}
	return out
}

// subjects is the collector's state for the distinct-count tables and the
// tracked series.
type subjects struct {
	cfg   Config
	obs   *Observer
	grid  grid
	track map[subject]*trackedSeries
	// Sources by distinct destinations, by (destination, port) tries and
	// by failed tries; destinations by distinct sources.
	srcPeers, srcTried, srcFailed, dstPeers *peakTable
	// observed counts intervals seen; missed those a live page dropped.
	observed int
	order    []int32 // scratch: an interval's keys in admission order
}

func newSubjects(cfg Config, obs *Observer, timelineWidth int64) *subjects {
	n := tracked(cfg.Top)
	s := &subjects{
		cfg: cfg, obs: obs, track: make(map[subject]*trackedSeries, cfg.Series),
		grid:      grid{points: cfg.Points, live: cfg.Window > 0, width: timelineWidth},
		srcPeers:  newPeakTable(n, func(a *addrSample) uint64 { return a.m.Peers }),
		srcTried:  newPeakTable(n, func(a *addrSample) uint64 { return a.m.Tried }),
		srcFailed: newPeakTable(n, func(a *addrSample) uint64 { return a.m.Failed }),
		dstPeers:  newPeakTable(n, func(a *addrSample) uint64 { return a.m.Peers }),
	}
	return s
}

// observe counts one closed interval.
func (s *subjects) observe(ob *observed, windowIv int64) {
	s.observed++
	id := s.grid.place(ob.idx)
	for i := range ob.addrs {
		a := &ob.addrs[i]
		switch a.kind {
		case subjSrc:
			s.srcPeers.add(ob.idx, a)
			s.srcTried.add(ob.idx, a)
			s.srcFailed.add(ob.idx, a)
		case subjDst:
			s.dstPeers.add(ob.idx, a)
		}
	}
	if windowIv > 0 {
		for _, t := range []*peakTable{s.srcPeers, s.srcTried, s.srcFailed, s.dstPeers} {
			t.prune(ob.idx - 2*windowIv)
		}
	}
	// Series of the subjects tracked so far.
	for i := range ob.pairs {
		p := &ob.pairs[i]
		if t := s.track[subject{kind: subjPair, a: [16]byte(p.key[:16]), b: [16]byte(p.key[16:])}]; t != nil {
			t.add(&s.grid, id, p.m)
			t.last = ob.idx
			for j := 1; j <= p.nback; j++ {
				if at := ob.idx - int64(j); at >= t.since {
					t.fill(s.grid.id(at), uint64(p.back[p.nback-j]))
				}
			}
		}
	}
	for i := range ob.addrs {
		a := &ob.addrs[i]
		if t := s.track[subject{kind: a.kind, a: a.addr}]; t != nil {
			t.add(&s.grid, id, a.m)
			t.last = ob.idx
		}
	}
	// A subject absent from an interval whose copies were made before it
	// was watched is unknown there, not idle.
	for _, t := range s.track {
		if t.last != ob.idx && ob.idx >= t.since {
			for t.width < s.grid.width {
				t.halve()
			}
			t.put(seriesPoint{id: id, unknown: t.ver > ob.ver})
			t.forget(&s.grid)
		}
	}
	// The interval's heaviest subjects start being tracked while there is
	// room, with this interval as their first point.
	var added []subject
	admit := func(k subject, m measures) {
		if len(s.track) >= s.cfg.Series || s.track[k] != nil {
			return
		}
		t := &trackedSeries{since: ob.idx, width: s.grid.width, last: ob.idx}
		t.add(&s.grid, id, m)
		s.track[k] = t
		added = append(added, k)
	}
	slices.SortFunc(ob.pairs, func(a, b pairSample) int { return cmp.Compare(b.m.Bytes, a.m.Bytes) })
	for i := range ob.pairs[:min(admitPerInterval, len(ob.pairs))] {
		p := &ob.pairs[i]
		admit(subject{kind: subjPair, a: [16]byte(p.key[:16]), b: [16]byte(p.key[16:])}, p.m)
	}
	s.order = s.order[:0]
	for i := range ob.addrs {
		s.order = append(s.order, int32(i))
	}
	order := s.order
	for _, by := range []func(*addrSample) uint64{
		func(a *addrSample) uint64 { return a.m.Bytes },
		func(a *addrSample) uint64 { return a.m.Peers },
		func(a *addrSample) uint64 { return a.m.Tried },
	} {
		// The indices are sorted, not the samples (large structs); each
		// measure's ties stay in the previous measure's order.
		slices.SortStableFunc(order, func(i, j int32) int { return cmp.Compare(by(&ob.addrs[j]), by(&ob.addrs[i])) })
		for _, i := range order[:min(admitPerInterval, len(order))] {
			if a := &ob.addrs[i]; a.kind != subjHost && by(a) > 0 {
				admit(subject{kind: a.kind, a: a.addr}, a.m)
			}
		}
	}
	if len(added) > 0 {
		ver := s.obs.update(added, nil)
		for _, k := range added {
			s.track[k].ver = ver
		}
	}
}

// subjectOf returns the subject an alert is about.
func subjectOf(a *alert.Alert) (subject, bool) {
	parse := func(v string) ([16]byte, bool) {
		ad, err := netip.ParseAddr(v)
		if err != nil {
			return [16]byte{}, false
		}
		return ad.As16(), true
	}
	switch a.Scope {
	case alert.ScopeSrc, alert.ScopeDst, alert.ScopeHost:
		kind, v := subjSrc, a.Src
		switch a.Scope {
		case alert.ScopeDst:
			kind, v = subjDst, a.Dst
		case alert.ScopeHost:
			kind = subjHost
			if v == "" {
				v = a.Key
			}
		}
		ad, ok := parse(v)
		return subject{kind: kind, a: ad}, ok
	}
	src, ok1 := parse(a.Src)
	dst, ok2 := parse(a.Dst)
	return subject{kind: subjPair, a: src, b: dst}, ok1 && ok2
}

// alerted starts tracking an alert's subject from its alert on, making
// room by forgetting the least busy subject that never alerted. ver is
// the watch set that Collector.Alerts added the subject to.
func (s *subjects) alerted(a *alert.Alert, ver uint64) {
	k, ok := subjectOf(a)
	if !ok {
		return
	}
	if t := s.track[k]; t != nil {
		t.alerted = true
		return
	}
	if len(s.track) >= s.cfg.Series {
		var low subject
		var lowT *trackedSeries
		for k2, t := range s.track {
			if !t.alerted && (lowT == nil || t.peak < lowT.peak || (t.peak == lowT.peak && k2.String() > low.String())) {
				low, lowT = k2, t
			}
		}
		if lowT == nil {
			// Every tracked subject alerted: keep the first ones.
			s.obs.update(nil, []subject{k})
			return
		}
		delete(s.track, low)
		s.obs.update(nil, []subject{low})
	}
	// From the interval after the alert, or, if later intervals were
	// already counted without it, from the next one to come.
	idx := floorDiv(a.IntervalStart.UnixNano(), int64(s.cfg.Interval)) + 1
	if s.grid.started {
		idx = max(idx, s.grid.newest+1)
	}
	s.track[k] = &trackedSeries{since: idx, alerted: true, width: s.grid.width, ver: ver, last: idx - 1}
}

// SubjectSeries is a tracked subject's series, for an alert's chart.
type SubjectSeries struct {
	Subject string
	// Since is the start of the first interval tracked.
	Since time.Time
	// Width is transfer intervals per point; each point holds the largest
	// value of any of its intervals. Intervals without traffic are 0.
	Width  int64
	Points []SubjectPoint
}

// SubjectPoint is one point of a SubjectSeries.
type SubjectPoint struct {
	Start time.Time
	Bytes uint64
	// Peers, Tried, Failed and SYNs are the distinct counts (see CountRow).
	Peers, Tried, Failed, SYNs uint64
}

// seriesOf returns the tracked series of the alert's subject, the empty
// intervals since tracking started filled with zeros, or nil.
func (s *subjects) seriesOf(a *alert.Alert) *SubjectSeries {
	k, ok := subjectOf(a)
	if !ok {
		return nil
	}
	t := s.track[k]
	if t == nil || !s.grid.started {
		return nil
	}
	for t.width < s.grid.width {
		t.halve()
	}
	iv := int64(s.cfg.Interval)
	out := &SubjectSeries{Subject: k.String(), Since: time.Unix(0, t.since*iv).UTC(), Width: s.grid.width}
	first := s.grid.id(max(t.since, s.grid.base))
	if s.grid.live {
		first = max(first, s.grid.id(s.grid.newest)-int64(s.grid.points)+1)
	}
	last := s.grid.id(s.grid.newest)
	j := 0
	for id := first; id <= last; id++ {
		p := SubjectPoint{Start: s.grid.start(id, iv)}
		for j < len(t.pts) && t.pts[j].id < id {
			j++
		}
		if j < len(t.pts) && t.pts[j].id == id {
			if t.pts[j].unknown {
				continue
			}
			m := t.pts[j].m
			p.Bytes, p.Peers, p.Tried, p.Failed, p.SYNs = m.Bytes, m.Peers, m.Tried, m.Failed, m.SYNs
		}
		out.Points = append(out.Points, p)
	}
	return out
}
