package report

import "time"

// bucket sums the traffic of width consecutive intervals.
type bucket struct {
	id      int64 // report: position from base; live: interval index / width
	used    bool
	bytes   uint64
	packets uint64
	out     uint64 // from a local host to a non-local one
	in      uint64 // from a non-local host to a local one
	alerts  uint32
}

func (b *bucket) merge(o *bucket) {
	b.used = b.used || o.used
	b.bytes += o.bytes
	b.packets += o.packets
	b.out += o.out
	b.in += o.in
	b.alerts += o.alerts
}

// timeline is traffic per interval in at most points buckets. For a whole
// capture (ring false) it starts one interval per bucket and, when full,
// merges neighbours, doubling the width, so a month-long capture still
// fits. For a live page (ring true) the width is fixed by the window and
// the oldest bucket makes room for the newest.
type timeline struct {
	points  int
	width   int64
	ring    bool
	started bool
	base    int64 // first interval (report mode)
	newest  int64 // newest interval seen
	b       []bucket
}

func newTimeline(points int, window, interval time.Duration) *timeline {
	t := &timeline{points: points, width: 1}
	if window > 0 {
		t.ring = true
		n := int64((window + interval - 1) / interval)
		t.width = max(1, (n+int64(points)-1)/int64(points))
		t.b = make([]bucket, points)
	} else {
		t.b = make([]bucket, 0, points)
	}
	return t
}

// at returns the bucket of interval idx, or nil when it fell out of a live
// window.
func (t *timeline) at(idx int64) *bucket {
	if !t.started {
		t.started = true
		t.base = idx
		t.newest = idx
	}
	if idx > t.newest {
		t.newest = idx
	}
	if t.ring {
		id := floorDiv(idx, t.width)
		b := &t.b[int(modulo(id, int64(t.points)))]
		if b.used && b.id == id {
			return b
		}
		if b.used && b.id > id {
			return nil // older than the window
		}
		*b = bucket{id: id, used: true}
		return b
	}
	if idx < t.base {
		idx = t.base // packets from before the first interval count in it
	}
	i := (idx - t.base) / t.width
	for i >= int64(t.points) {
		t.halve()
		i = (idx - t.base) / t.width
	}
	for int64(len(t.b)) <= i {
		t.b = append(t.b, bucket{id: int64(len(t.b))})
	}
	b := &t.b[i]
	b.used = true
	return b
}

// halve merges neighbouring buckets, doubling the width.
func (t *timeline) halve() {
	n := (len(t.b) + 1) / 2
	for j := range n {
		m := t.b[2*j]
		if 2*j+1 < len(t.b) {
			m.merge(&t.b[2*j+1])
		}
		m.id = int64(j)
		t.b[j] = m
	}
	t.b = t.b[:n]
	t.width *= 2
}

// Point is one point of the traffic timeline.
type Point struct {
	Start     time.Time
	Intervals int64 // transfer intervals summed into this point
	Bytes     uint64
	Packets   uint64
	Out, In   uint64 // bytes leaving and entering the local hosts
	Alerts    int    // alerts raised in these intervals
}

// Other is the traffic neither leaving nor entering the local hosts
// (between local hosts, or between two remote ones).
func (p Point) Other() uint64 { return p.Bytes - p.Out - p.In }

// Seconds is the time the point covers.
func (p Point) Seconds(interval time.Duration) float64 {
	return float64(p.Intervals) * interval.Seconds()
}

func (t *timeline) snapshot(interval time.Duration) []Point {
	var out []Point
	if !t.started {
		return out
	}
	add := func(first int64, b *bucket) {
		n := t.width
		if last := first + n - 1; last > t.newest {
			n = t.newest - first + 1 // the newest point is still filling
		}
		out = append(out, Point{
			Start: time.Unix(0, first*int64(interval)).UTC(), Intervals: max(n, 1),
			Bytes: b.bytes, Packets: b.packets, Out: b.out, In: b.in, Alerts: int(b.alerts),
		})
	}
	if t.ring {
		newestID := floorDiv(t.newest, t.width)
		for id := newestID - int64(t.points) + 1; id <= newestID; id++ {
			b := &t.b[int(modulo(id, int64(t.points)))]
			if b.used && b.id == id {
				add(id*t.width, b)
			}
		}
		return out
	}
	for i := range t.b {
		add(t.base+int64(i)*t.width, &t.b[i])
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func modulo(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
