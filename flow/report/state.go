package report

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/flow"
)

// cacheSize is the number of pairs whose bytes are summed before they reach
// the heavy-hitter counters: packets of a transfer come in runs, so most
// packets cost one cache hit rather than three map updates.
const cacheSize = 4096

type cacheEntry struct {
	key            pairKey
	used           bool
	bytes, packets uint64
}

// generation is one set of heavy-hitter counters.
type generation struct {
	pairs *topK[pairKey]
	srcs  *topK[[16]byte]
	dsts  *topK[[16]byte]
	since int64 // first interval counted
}

func newGeneration(capacity int, since int64) *generation {
	return &generation{
		pairs: newTopK(capacity, cmpPair),
		srcs:  newTopK(capacity, cmpAddr),
		dsts:  newTopK(capacity, cmpAddr),
		since: since,
	}
}

// state is owned by the collector goroutine (and by Snapshot once that
// goroutine has stopped).
type state struct {
	cfg      Config
	interval int64
	windowIv int64 // live window in intervals; 0 for a whole capture
	tl       *timeline
	cache    []cacheEntry
	cur      *generation
	prev     *generation // live only: the window before cur
	// genStarted: cur.since is set (by the first packet).
	genStarted bool

	step uint64 // the largest sampling step used

	started        bool
	first, last    int64 // packet time span, ns
	packets, bytes uint64

	subj *subjects

	alerts   []alert.Alert
	next     int // live: the slot the next alert overwrites once full
	total    int // alerts raised (kept or not)
	resolved int
}

func newState(cfg Config, obs *Observer) *state {
	s := &state{
		cfg:      cfg,
		interval: int64(cfg.Interval),
		tl:       newTimeline(cfg.Points, cfg.Window, cfg.Interval),
		cache:    make([]cacheEntry, cacheSize),
		cur:      newGeneration(tracked(cfg.Top), 0),
		alerts:   make([]alert.Alert, 0, min(cfg.Alerts, 64)),
	}
	if cfg.Window > 0 {
		s.windowIv = max(1, int64(cfg.Window/cfg.Interval))
		s.prev = newGeneration(tracked(cfg.Top), 0)
	}
	s.subj = newSubjects(cfg, obs, s.tl.width)
	return s
}

// tracked is how many keys each heavy-hitter table counts to show top:
// space-saving's error shrinks as the tables grow, and a few thousand
// entries cost a few hundred kilobytes.
func tracked(top int) int { return max(50*top, 1000) }

func hashPair(src, dst *[16]byte) uint64 {
	a := binary.LittleEndian.Uint64(src[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(src[8:]), 23)
	b := binary.LittleEndian.Uint64(dst[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(dst[8:]), 41)
	h := a*0x9e3779b97f4a7c15 ^ b*0xc2b2ae3d27d4eb4f
	return h ^ h>>29
}

// observe counts one closed interval: its totals on the timeline, its
// sampled pairs in the talker tables, its keys in the subject tables.
func (s *state) observe(ob *observed) {
	t := &ob.traffic
	s.addTotal(ob.idx, t)
	s.step = max(s.step, ob.step)
	for i := range ob.talkers {
		r := &ob.talkers[i]
		e := &s.cache[hashPair((*[16]byte)(r.key[:16]), (*[16]byte)(r.key[16:]))&(cacheSize-1)]
		if !e.used || e.key != r.key {
			if e.used {
				s.flushEntry(e)
			}
			e.key, e.used = r.key, true
		}
		e.bytes += r.weight
		e.packets += r.packets
	}
	s.subj.observe(ob, s.windowIv)
}

// addTotal adds interval idx's sums to the timeline and, on a live page,
// starts a new generation of talkers once the current one spans the window.
func (s *state) addTotal(idx int64, t *flow.Traffic) {
	if t.Packets == 0 {
		return
	}
	if !s.started {
		s.started = true
		s.first, s.last = t.First, t.Last
	}
	s.first, s.last = min(s.first, t.First), max(s.last, t.Last)
	s.packets += t.Packets
	s.bytes += t.Bytes
	if s.windowIv > 0 {
		if !s.genStarted {
			s.genStarted = true
			s.cur.since = idx
		}
		if idx >= s.cur.since+s.windowIv {
			s.flushCache()
			s.prev, s.cur = s.cur, s.prev
			s.cur.pairs.reset()
			s.cur.srcs.reset()
			s.cur.dsts.reset()
			s.cur.since = idx
		}
	}
	if b := s.tl.at(idx); b != nil {
		b.bytes += t.Bytes
		b.packets += t.Packets
		b.out += t.OutBytes
		b.in += t.InBytes
	}
}

func (s *state) flushEntry(e *cacheEntry) {
	g := s.cur
	g.pairs.add(e.key, e.bytes, e.packets)
	g.srcs.add([16]byte(e.key[:16]), e.bytes, e.packets)
	g.dsts.add([16]byte(e.key[16:]), e.bytes, e.packets)
	*e = cacheEntry{}
}

func (s *state) flushCache() {
	for i := range s.cache {
		if s.cache[i].used {
			s.flushEntry(&s.cache[i])
		}
	}
}

func (s *state) alert(a *alert.Alert, ver uint64) {
	if a.Resolved {
		s.resolved++
		return
	}
	s.total++
	s.subj.alerted(a, ver)
	if s.started {
		if b := s.tl.at(floorDiv(a.IntervalStart.UnixNano(), s.interval)); b != nil {
			b.alerts++
		}
	}
	if len(s.alerts) < s.cfg.Alerts {
		s.alerts = append(s.alerts, *a)
		return
	}
	if s.windowIv > 0 {
		s.alerts[s.next] = *a // the newest replace the oldest
		s.next = (s.next + 1) % len(s.alerts)
		return
	}
	// A capture keeps its most probable alerts; of equals, the earliest.
	low := 0
	for i := range s.alerts {
		if s.alerts[i].Probability < s.alerts[low].Probability ||
			(s.alerts[i].Probability == s.alerts[low].Probability && s.alerts[i].Time.After(s.alerts[low].Time)) {
			low = i
		}
	}
	if a.Probability > s.alerts[low].Probability {
		s.alerts[low] = *a
	}
}

func (s *state) evidence(e *evidence) {
	for i := range s.alerts {
		a := &s.alerts[i]
		if a.Key == e.key && a.Time.Equal(e.time) {
			a.Archive = e.paths
			return
		}
	}
}

// Talker is one row of a top-talkers table.
type Talker struct {
	Subject string // "src->dst" or an address
	Bytes   uint64
	Packets uint64
	// Error bounds the overcount: the true bytes lie in [Bytes-Error, Bytes].
	Error uint64
}

// Snapshot is a copy of everything a page shows.
type Snapshot struct {
	Interval time.Duration
	// Live is set for a live collector, whose figures cover Window.
	Live   bool
	Window time.Duration
	// First and Last are the times of the oldest and newest packet seen.
	First, Last time.Time
	Packets     uint64
	Bytes       uint64
	// Timeline is the traffic per point, oldest first.
	Timeline []Point
	// Talkers and the time they are counted from.
	Pairs, Sources, Destinations []Talker
	TalkersSince                 time.Time
	// Tracked is how many keys each heavy-hitter table tracks.
	Tracked int
	// SampleStep is 1 when the talkers counted every pair of every
	// interval; otherwise the most bytes one sampled pair stood for.
	SampleStep uint64
	LocalText  string
	// Alerts kept, oldest first; Total counts all raised, Resolved the
	// back-to-normal notices.
	Alerts   []alert.Alert
	Total    int
	Resolved int
	MaxKept  int
	// Series holds the tracked series of the kept alerts' subjects, by
	// subject ("src->dst" or an address); SeriesKept is the most subjects
	// tracked (-report_series).
	Series     map[string]*SubjectSeries
	SeriesKept int
	// Sources by their most distinct destinations, (destination, port)
	// tries and failed tries in one interval; destinations by their most
	// distinct sources. ObservedIntervals counts the intervals these
	// tables saw; MissedIntervals those a live page missed.
	PeersOut, PortsTried, FailedTries, PeersIn []CountRow
	ObservedIntervals                          int
	MissedIntervals                            uint64
}

func (s *state) snapshot(missed uint64) *Snapshot {
	s.flushCache()
	iv := s.cfg.Interval
	out := &Snapshot{
		Interval: iv, Live: s.windowIv > 0, Window: s.cfg.Window,
		Packets: s.packets, Bytes: s.bytes,
		Timeline: s.tl.snapshot(iv), Tracked: tracked(s.cfg.Top), LocalText: s.cfg.LocalText,
		Total: s.total, Resolved: s.resolved, MaxKept: s.cfg.Alerts, SampleStep: max(s.step, 1),
		SeriesKept: s.cfg.Series, ObservedIntervals: s.subj.observed, MissedIntervals: missed,
		Series: make(map[string]*SubjectSeries),
	}
	n := s.cfg.Top
	out.PeersOut = s.subj.srcPeers.rows(n, s.interval)
	out.PortsTried = s.subj.srcTried.rows(n, s.interval)
	out.FailedTries = s.subj.srcFailed.rows(n, s.interval)
	out.PeersIn = s.subj.dstPeers.rows(n, s.interval)
	for i := range s.alerts {
		if ser := s.subj.seriesOf(&s.alerts[i]); ser != nil {
			out.Series[seriesKey(&s.alerts[i])] = ser
		}
	}
	if s.started {
		out.First, out.Last = time.Unix(0, s.first).UTC(), time.Unix(0, s.last).UTC()
		out.TalkersSince = out.First
	}
	if s.prev != nil {
		out.Pairs = pairTalkers(merged(s.prev.pairs, s.cur.pairs, n))
		out.Sources = addrTalkers(merged(s.prev.srcs, s.cur.srcs, n))
		out.Destinations = addrTalkers(merged(s.prev.dsts, s.cur.dsts, n))
		since := s.cur.since
		if len(s.prev.pairs.heap) > 0 {
			since = s.prev.since
		}
		if s.started {
			out.TalkersSince = time.Unix(0, max(since*s.interval, s.first)).UTC()
		}
	} else {
		out.Pairs = pairTalkers(s.cur.pairs.top(n))
		out.Sources = addrTalkers(s.cur.srcs.top(n))
		out.Destinations = addrTalkers(s.cur.dsts.top(n))
	}
	out.Alerts = make([]alert.Alert, len(s.alerts))
	for i, a := range s.alerts {
		out.Alerts[i] = a
		out.Alerts[i].Archive = slices.Clone(a.Archive)
	}
	slices.SortStableFunc(out.Alerts, func(a, b alert.Alert) int {
		if c := a.IntervalStart.Compare(b.IntervalStart); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

func pairTalkers(cs []counter[pairKey]) []Talker {
	out := make([]Talker, len(cs))
	for i, c := range cs {
		out[i] = Talker{
			Subject: addrOf([16]byte(c.key[:16])).String() + "->" + addrOf([16]byte(c.key[16:])).String(),
			Bytes:   c.bytes, Packets: c.packets, Error: c.err,
		}
	}
	return out
}

func addrTalkers(cs []counter[[16]byte]) []Talker {
	out := make([]Talker, len(cs))
	for i, c := range cs {
		out[i] = Talker{Subject: addrOf(c.key).String(), Bytes: c.bytes, Packets: c.packets, Error: c.err}
	}
	return out
}

// seriesKey names an alert's subject in Snapshot.Series.
func seriesKey(a *alert.Alert) string {
	if k, ok := subjectOf(a); ok {
		return k.String()
	}
	return ""
}
