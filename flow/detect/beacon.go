package detect

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/flow"
)

// Beacon detection follows a local host's small, intermittent contacts
// with outside addresses. Flow hands over every active pair each interval;
// a pair that was idle the interval before and sends little starts an
// event (a "connection", timed to its interval). Pairs active every
// interval (bulk, video, chatty sessions) make one event when they start
// and no more, so they never gather enough events to be judged and are
// the first forgotten when the table is full.
//
// A pair whose last events come at a regular period with similar sizes
// (anomaly.Beacon, RITA's scoring) is a beacon only if, besides:
//   - its destination is outside the local networks and at most
//     BeaconMaxHosts local hosts contact it (malware calls home alone; a
//     service many hosts poll is infrastructure);
//   - it started while the source was being watched: its first event came
//     more than one and a half periods (plus two intervals), and more than
//     beaconSettle, after the source's first packet seen in this run.
//     Software that checks in from the start (agents, keep-alives,
//     telemetry) has been doing so since before the daemon looked, so its
//     first check-in comes within a period of the source's first packet;
//     and what a host does in its first minutes in view (sessions already
//     open, programs starting) is its baseline, not news.
//   - it is not a habit of the source moving address: a device whose
//     cloud service rotates its addresses checks in at the same period
//     with the same sizes with one address after another. The period and
//     size of every regular pair the source had from the start (and of
//     every beacon reported) are remembered per source (maxHabits); a new
//     pair matching one (period within 15% or half an interval, sizes
//     within a factor of two) is that habit, not news.
//
// The table is bounded (BeaconMaxPairs); a new pair that finds it full is
// dropped and counted.

// beaconRing is how many of a pair's last events are kept and judged.
const beaconRing = 16

// beaconMaxGap is the longest gap between two events of one series: a
// longer one starts the series afresh, and a pair silent that long is
// forgotten. Beacons slower than this are not looked for.
const beaconMaxGap = time.Hour

// beaconSettle is how long after a source is first seen its new periodic
// contacts still count as what it always did.
const beaconSettle = 2 * time.Minute

// maxHabits is how many periodic habits are remembered per source.
const maxHabits = 4

// beaconHabit is a source's periodic check-in: period (seconds) and
// median size (bytes).
type beaconHabit struct{ period, size float32 }

// matches reports whether a pair checking in every period with size
// bytes is this habit; sec is the interval.
func (h beaconHabit) matches(period, size, sec float64) bool {
	hp, hs := float64(h.period), float64(h.size)
	return math.Abs(period-hp) <= max(0.15*hp, sec/2) && size <= 2*hs && hs <= 2*size
}

// habit reports whether a pair checking in every period with size bytes
// matches one of st's habits.
func (st *srcState) habit(period, size, sec float64) bool {
	for _, h := range st.habits[:min(int(st.nh), maxHabits)] {
		if h.matches(period, size, sec) {
			return true
		}
	}
	return false
}

// learnHabit remembers a periodic check-in of st, replacing the oldest
// when all slots are taken; one it already has is not added twice.
func (st *srcState) learnHabit(period, size, sec float64) {
	if st.habit(period, size, sec) {
		return
	}
	st.habits[int(st.nh)%maxHabits] = beaconHabit{float32(period), float32(size)}
	st.nh++
	if st.nh == 2*maxHabits {
		st.nh = maxHabits // keeps counting round the slots without overflowing
	}
}

// beaconKey is a directional pair in 16-byte form (IPv4 mapped).
type beaconKey struct{ src, dst [16]byte }

func (k beaconKey) addrs() (netip.Addr, netip.Addr) {
	return netip.AddrFrom16(k.src).Unmap(), netip.AddrFrom16(k.dst).Unmap()
}

// beaconEvent is a pair's event in one interval, found by its shard.
type beaconEvent struct {
	key     beaconKey
	bytes   uint32
	packets uint32
	ports   [4]uint16
	nports  uint8
}

// beaconTrack is what the table keeps of one pair: about 200 bytes.
type beaconTrack struct {
	key beaconKey
	// srcFirst is the interval its source was first seen in this run (or
	// as saved), born the interval of the pair's first event.
	srcFirst, born int64
	// first is the first event of the current series, last the latest.
	first, last int64
	total       uint32 // events in the current series
	n, head     uint8  // events held in the ring, next slot
	alerted     bool
	// settled is set once the pair, regular, was found to be its source's
	// habit: it is not judged again while it is followed.
	settled bool
	at      [beaconRing]int64
	bytes   [beaconRing]uint32
}

func (t *beaconTrack) push(idx int64, bytes uint32) {
	t.at[t.head], t.bytes[t.head] = idx, bytes
	t.head = (t.head + 1) % beaconRing
	t.n = min(t.n+1, beaconRing)
	t.total++
	t.last = idx
}

// events appends the held events, oldest first.
func (t *beaconTrack) events(at []float64, sizes []float64, sec float64) ([]float64, []float64) {
	start := (int(t.head) - int(t.n) + beaconRing) % beaconRing
	for i := range int(t.n) {
		j := (start + i) % beaconRing
		at = append(at, float64(t.at[j])*sec)
		sizes = append(sizes, float64(t.bytes[j]))
	}
	return at, sizes
}

// beaconTable is the bounded table of tracked pairs, touched only by the
// goroutine that calls ObserveInterval.
type beaconTable struct {
	idx    map[beaconKey]int32
	tracks []beaconTrack
	free   []int32
	max    int
	// perDst counts the tracked pairs towards each destination: the local
	// hosts that contact it.
	perDst  map[[16]byte]uint32
	dropped uint64
	sweptAt int64
}

func newBeaconTable(maxPairs int) *beaconTable {
	// The slices are reserved whole: untouched room costs address space,
	// not memory, and spares copying 200-byte tracks as they grow.
	return &beaconTable{idx: make(map[beaconKey]int32), perDst: make(map[[16]byte]uint32), max: maxPairs, sweptAt: -1,
		tracks: make([]beaconTrack, 0, maxPairs), free: make([]int32, 0, maxPairs)}
}

func (b *beaconTable) len() int { return len(b.idx) }

// insert adds a track for k, or returns false when the table is full of
// pairs worth keeping.
func (b *beaconTable) insert(k beaconKey, now, maxGap int64) (*beaconTrack, bool) {
	if len(b.idx) >= b.max {
		if b.sweptAt == now {
			return nil, false
		}
		b.sweptAt = now
		b.sweep(now, maxGap)
		if len(b.idx) >= b.max {
			return nil, false
		}
	}
	var i int32
	if n := len(b.free); n > 0 {
		i = b.free[n-1]
		b.free = b.free[:n-1]
	} else {
		i = int32(len(b.tracks))
		b.tracks = append(b.tracks, beaconTrack{})
	}
	b.tracks[i] = beaconTrack{key: k}
	b.idx[k] = i
	b.perDst[k.dst]++
	return &b.tracks[i], true
}

func (b *beaconTable) remove(k beaconKey) {
	i, ok := b.idx[k]
	if !ok {
		return
	}
	delete(b.idx, k)
	b.free = append(b.free, i)
	if b.perDst[k.dst] <= 1 {
		delete(b.perDst, k.dst)
	} else {
		b.perDst[k.dst]--
	}
}

// sweep forgets pairs silent for longer than maxGap, and pairs that made
// a single event before this interval: they never came back (yet), or
// they have been active ever since, which no beacon is.
func (b *beaconTable) sweep(now, maxGap int64) {
	for k, i := range b.idx {
		t := &b.tracks[i]
		if now-t.last > maxGap || (t.total == 1 && t.last < now) {
			b.remove(k)
		}
	}
}

// beaconSide is the stage's beacon state (ObserveInterval's goroutine).
type beaconSide struct {
	table     *beaconTable
	scorer    *anomaly.Beacon
	scorerCfg anomaly.BeaconConfig
	events    []beaconEvent
	fresh     []int32 // events of pairs not followed yet, by position
	at        []float64
	sizes     []float64
	sorted    []float64
	// open are the tracks that alerted, kept open while they go on.
	open map[beaconKey]int64
}

// noteBeacon records pair p's event for the beacon detector when it is
// one: idle the interval before (prev is its last active interval), small,
// from a local host to an outside address. Called by the pair's shard.
func (s *Stage) noteBeacon(cfg *Config, fd *findings, p *flow.PairStat, prev int64, iv flow.Interval) {
	if !p.New && prev >= iv.Index-1 {
		return
	}
	if float64(p.Bytes) > cfg.BeaconMaxBytes || !p.SrcLocal || p.DstLocal {
		return
	}
	// A flood of new pairs cannot grow the events past what the table
	// could follow: the rest are counted as dropped.
	if len(fd.beacons) >= max(1024, 2*cfg.BeaconMaxPairs/max(cfg.Shards, 1)) {
		fd.beaconOver++
		return
	}
	ev := beaconEvent{key: beaconKey{p.Src.As16(), p.Dst.As16()}, bytes: uint32(p.Bytes), packets: uint32(min(p.Packets, 1<<32-1))}
	for _, port := range p.SamplePorts() {
		if int(ev.nports) < len(ev.ports) {
			ev.ports[ev.nports] = port
			ev.nports++
		}
	}
	fd.beacons = append(fd.beacons, ev)
}

// beaconGapIntervals is beaconMaxGap in intervals.
func (s *Stage) beaconGapIntervals() int64 {
	return max(1, int64(beaconMaxGap/s.cfg.Interval))
}

// judgeBeacons files the shards' events in the table and judges the pairs
// that had one.
func (s *Stage) judgeBeacons(iv flow.Interval, buf uint64) {
	bs := &s.beacon
	bs.events = bs.events[:0]
	for _, sd := range s.sides {
		bs.events = append(bs.events, sd.found[buf].beacons...)
		bs.table.dropped += sd.found[buf].beaconOver
	}
	if len(bs.open) > 0 {
		s.keepBeaconsOpen(iv)
	}
	if len(bs.events) == 0 {
		return
	}
	if bs.scorer == nil || bs.scorerCfg != s.cfg.Beacon {
		// Validate checked the settings; a reload may change them.
		bs.scorer, _ = anomaly.NewBeacon(s.cfg.Beacon)
		bs.scorerCfg = s.cfg.Beacon
	}
	defer func() {
		s.stats.beaconPairs.Store(uint64(bs.table.len()))
		s.stats.beaconDropped.Store(bs.table.dropped)
	}()
	now, maxGap := iv.Index, s.beaconGapIntervals()
	// Events of followed pairs first: each touches only its own track, in
	// any order. New pairs are filed after them, in key order when the
	// table cannot take them all, so which find room does not depend on
	// the shard count (nor does sorting cost anything when they all fit).
	bs.fresh = bs.fresh[:0]
	for i := range bs.events {
		if t := bs.lookup(bs.events[i].key); t != nil {
			s.beaconCheckIn(iv, t, &bs.events[i], maxGap)
		} else {
			bs.fresh = append(bs.fresh, int32(i))
		}
	}
	if bs.table.len()+len(bs.fresh) > bs.table.max {
		slices.SortFunc(bs.fresh, func(i, j int32) int {
			x, y := &bs.events[i].key, &bs.events[j].key
			if c := compare16(x.src, y.src); c != 0 {
				return c
			}
			return compare16(x.dst, y.dst)
		})
	}
	for _, i := range bs.fresh {
		ev := &bs.events[i]
		t, ok := bs.table.insert(ev.key, now, maxGap)
		if !ok {
			bs.table.dropped++
			continue
		}
		src, _ := ev.key.addrs()
		t.srcFirst, t.born, t.first = now, now, now
		if st, ok := s.srcs.lookup(src); ok && st.seen {
			t.srcFirst = st.since
		}
		s.beaconCheckIn(iv, t, ev, maxGap)
	}
}

// beaconCheckIn files one check-in in its pair's track and judges the
// track once it holds enough.
func (s *Stage) beaconCheckIn(iv flow.Interval, t *beaconTrack, ev *beaconEvent, maxGap int64) {
	now := iv.Index
	if now-t.last > maxGap && t.total > 0 {
		// A new series: the old one ended long ago.
		t.n, t.head, t.total, t.first, t.alerted = 0, 0, 0, now, false
	}
	t.push(now, ev.bytes)
	if s.cfg.on(Beacon) && int(t.n) >= s.cfg.Beacon.MinEvents && !t.alerted && !t.settled {
		s.judgeBeacon(iv, t, ev)
	}
}

func (bs *beaconSide) lookup(k beaconKey) *beaconTrack {
	if i, ok := bs.table.idx[k]; ok {
		return &bs.table.tracks[i]
	}
	return nil
}

// judgeBeacon scores one track's events and alerts on a beacon.
func (s *Stage) judgeBeacon(iv flow.Interval, t *beaconTrack, ev *beaconEvent) {
	bs := &s.beacon
	sec := s.cfg.Interval.Seconds()
	bs.at, bs.sizes = t.events(bs.at[:0], bs.sizes[:0], sec)
	r := &s.res
	bs.scorer.Score(bs.at, bs.sizes, r)
	if !r.Hit {
		return
	}
	period := r.Expected
	bs.sorted = append(bs.sorted[:0], bs.sizes...)
	slices.Sort(bs.sorted)
	size := bs.sorted[len(bs.sorted)/2]
	srcAddr, _ := t.key.addrs()
	st, known := s.srcs.lookup(srcAddr)
	lead := float64(t.born-t.srcFirst) * sec
	if lead <= max(1.5*period+2*sec, beaconSettle.Seconds()) {
		// Checking in since the source was first seen: its habit.
		if known {
			st.learnHabit(period, size, sec)
		}
		t.settled = true
		return
	}
	hosts := bs.table.perDst[t.key.dst]
	if int(hosts) > s.cfg.BeaconMaxHosts {
		return
	}
	if known {
		if st.habit(period, size, sec) {
			t.settled = true
			return // a habit of the source, moved to another address
		}
		st.learnHabit(period, size, sec)
	}
	t.alerted = true
	s.beaconAlert(iv, t, ev, r, beaconFacts{hosts: hosts, lead: lead, sizes: bs.sizes, times: bs.at})
	if s.cfg.ResolveAfter > 0 {
		bs.open[t.key] = int64(period/sec + 0.5)
	}
}

// keepBeaconsOpen keeps the alerts of beacons that go on open: a beacon
// is quiet between its events, which is not back to normal. A track
// silent for two periods stops being refreshed and resolves as other
// alerts do; once resolved, it may alert again.
func (s *Stage) keepBeaconsOpen(iv flow.Interval) {
	bs := &s.beacon
	for k, periodIv := range bs.open {
		key := beaconOpenKey(k)
		o, ok := s.open[key]
		t := bs.lookup(k)
		if !ok || t == nil {
			// Resolved (or forgotten): it may alert again.
			delete(bs.open, k)
			if t != nil {
				t.alerted = false
			}
			continue
		}
		if iv.Index-t.last <= 2*max(periodIv, 1) {
			o.last = iv.Index
		}
	}
}

// beaconOpenKey is the key under which a beacon's alert is held open.
func beaconOpenKey(k beaconKey) string {
	src, dst := k.addrs()
	return Beacon.String() + " " + src.String() + "->" + dst.String()
}

// compare16 orders addresses as their bytes do, a word at a time.
func compare16(a, b [16]byte) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// beaconFacts are what the reason sentence tells besides the result.
type beaconFacts struct {
	hosts        uint32
	lead         float64 // seconds from the source's first packet to the pair's first event
	times, sizes []float64
}

// beaconAlert builds the alert of a beacon. Series holds the gaps between
// the judged events, in seconds.
func (s *Stage) beaconAlert(iv flow.Interval, t *beaconTrack, ev *beaconEvent, r *anomaly.Result, f beaconFacts) {
	a := s.base(iv, Beacon, r, alert.ScopePair)
	srcA, dstA := t.key.addrs()
	src, dst := srcA.String(), dstA.String()
	a.Key, a.Src, a.Dst = src+"->"+dst, src, dst
	a.Bytes, a.Packets = uint64(ev.bytes), uint64(ev.packets)
	a.SamplePorts = append([]uint16(nil), ev.ports[:ev.nports]...)
	a.DistinctSrcs = uint64(f.hosts)
	gaps := make([]float64, 0, len(f.times))
	for i := 1; i < len(f.times); i++ {
		gaps = append(gaps, f.times[i]-f.times[i-1])
	}
	a.Series = slices.Clone(gaps)
	sec := s.cfg.Interval.Seconds()
	// Event times are known to the interval, so the spread shown is at
	// least half of one.
	spread := max(medianAbsDev(gaps), sec/2)
	others := "a destination no other local host uses"
	if f.hosts > 1 {
		others = fmt.Sprintf("a destination only %d local hosts use", f.hosts)
	}
	a.Reason = fmt.Sprintf("%s contacted %s every %s (±%s) with ~%s, %d times in %s; %s, first contacted %s after %s was first seen (regularity %.2f, over %.2f is a beacon)",
		src, dst, alert.HumanSeconds(r.Expected), alert.HumanSeconds(spread), bytesText(median(f.sizes)),
		t.total, alert.HumanSeconds(float64(t.last-t.first)*sec+sec), others, alert.HumanSeconds(f.lead), src, r.Value, r.Threshold)
	s.add(iv, a)
}

// median returns the median of xs (sorting a copy).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	c := slices.Clone(xs)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// medianAbsDev returns the median absolute deviation of xs from their median.
func medianAbsDev(xs []float64) float64 {
	m := median(xs)
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = math.Abs(x - m)
	}
	return median(d)
}

// validateBeacon applies the beacon detector's defaults and checks them.
func (c *Config) validateBeacon() error {
	if c.Beacon.MinEvents > beaconRing {
		return fmt.Errorf("-beacon_min_events %d: must be between 4 and %d (the events kept per pair)", c.Beacon.MinEvents, beaconRing)
	}
	if err := c.Beacon.Validate(); err != nil {
		return fmt.Errorf("-beacon_min_events %d, -beacon_threshold %g: %w", c.Beacon.MinEvents, c.Beacon.Threshold, err)
	}
	switch {
	case c.BeaconMaxHosts == 0:
		c.BeaconMaxHosts = DefaultBeaconMaxHosts
	case c.BeaconMaxHosts < 0:
		return fmt.Errorf("-beacon_max_hosts %d: must be 0 (the default, %d) or a number of local hosts", c.BeaconMaxHosts, DefaultBeaconMaxHosts)
	}
	switch {
	case c.BeaconMaxPairs == 0:
		c.BeaconMaxPairs = DefaultBeaconMaxPairs
	case c.BeaconMaxPairs < 0 || c.BeaconMaxPairs > 1<<24:
		return fmt.Errorf("-beacon_max_pairs %d: must be 0 (the default, %d) or a number of pairs up to 2^24", c.BeaconMaxPairs, DefaultBeaconMaxPairs)
	}
	return nil
}

// beaconState returns the tracks worth keeping across a restart (those
// with two events or more), in key order.
func (s *Stage) beaconState() []anomaly.BeaconTrack {
	tb := s.beacon.table
	keys := make([]beaconKey, 0, tb.len())
	for k, i := range tb.idx {
		if tb.tracks[i].total > 1 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y beaconKey) int {
		return cmp.Or(compare16(x.src, y.src), compare16(x.dst, y.dst))
	})
	ms := s.cfg.Interval.Milliseconds()
	out := make([]anomaly.BeaconTrack, 0, len(keys))
	for _, k := range keys {
		t := &tb.tracks[tb.idx[k]]
		src, dst := k.addrs()
		bt := anomaly.BeaconTrack{Src: src.String(), Dst: dst.String(), SrcFirst: t.srcFirst * ms, Born: t.born * ms,
			Start: t.first * ms, Total: t.total, Alerted: t.alerted, Settled: t.settled}
		start := (int(t.head) - int(t.n) + beaconRing) % beaconRing
		for i := range int(t.n) {
			j := (start + i) % beaconRing
			bt.Times = append(bt.Times, t.at[j]*ms)
			bt.Sizes = append(bt.Sizes, t.bytes[j])
		}
		out = append(out, bt)
	}
	return out
}

// restoreBeacons installs saved tracks, as many as the table holds.
func (s *Stage) restoreBeacons(saved []anomaly.BeaconTrack) error {
	ms := s.cfg.Interval.Milliseconds()
	if ms < 1 {
		return nil // intervals under a millisecond: times would not map back
	}
	for i := range saved {
		bt := &saved[i]
		src, err1 := netip.ParseAddr(bt.Src)
		dst, err2 := netip.ParseAddr(bt.Dst)
		if err := cmp.Or(err1, err2); err != nil {
			return fmt.Errorf("detect: learned state has a beacon track of %q->%q: %w", bt.Src, bt.Dst, err)
		}
		k := beaconKey{src.As16(), dst.As16()}
		if s.beacon.lookup(k) != nil {
			continue
		}
		if s.beacon.table.len() >= s.beacon.table.max {
			break // the most recent runs first would be better; the cap rarely bites here
		}
		t, _ := s.beacon.table.insert(k, 0, s.beaconGapIntervals())
		t.srcFirst, t.born, t.first, t.alerted, t.settled = bt.SrcFirst/ms, bt.Born/ms, bt.Start/ms, bt.Alerted, bt.Settled
		times := bt.Times[max(0, len(bt.Times)-beaconRing):]
		sizes := bt.Sizes[max(0, len(bt.Sizes)-beaconRing):]
		for j := range times {
			t.push(times[j]/ms, sizes[j])
		}
		t.total = max(bt.Total, uint32(t.n))
		s.relearnHabit(t)
	}
	return nil
}

// relearnHabit learns again, from a restored track, the habit it taught
// its source: regular, and checking in since the source was first seen
// or reported already.
func (s *Stage) relearnHabit(t *beaconTrack) {
	bs := &s.beacon
	if int(t.n) < s.cfg.Beacon.MinEvents {
		return
	}
	if bs.scorer == nil || bs.scorerCfg != s.cfg.Beacon {
		bs.scorer, _ = anomaly.NewBeacon(s.cfg.Beacon)
		bs.scorerCfg = s.cfg.Beacon
	}
	sec := s.cfg.Interval.Seconds()
	bs.at, bs.sizes = t.events(bs.at[:0], bs.sizes[:0], sec)
	var r anomaly.Result
	bs.scorer.Score(bs.at, bs.sizes, &r)
	lead := float64(t.born-t.srcFirst) * sec
	if !r.Hit || !t.alerted && !t.settled && lead > max(1.5*r.Expected+2*sec, beaconSettle.Seconds()) {
		return
	}
	bs.sorted = append(bs.sorted[:0], bs.sizes...)
	slices.Sort(bs.sorted)
	src, _ := t.key.addrs()
	s.srcs.get(src, 0).learnHabit(r.Expected, bs.sorted[len(bs.sorted)/2], sec)
}
