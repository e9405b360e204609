package synth

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Model is how a scenario makes its traffic.
type Model int

const (
	// Background models hosts and conversations whose per-interval volumes
	// vary the way real traffic does (demo, steady, exfil).
	Background Model = iota
	// Load spreads an exact number of packets over an exact number of
	// src->dst pairs, for benchmarks and memory stress (bench, many).
	Load
)

// defaultStart is where the standard scenarios begin: a multiple of every
// usual interval, so the capture's first interval is whole.
func defaultStart() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }

// Scenario describes the traffic of one capture. Get one from Demo, Steady,
// Exfil, Bench or Many and adjust fields before calling Write.
type Scenario struct {
	Name  string
	Model Model
	Seed  uint64

	// Start is the time of the first packet's earliest possible moment;
	// intervals are aligned to multiples of Interval since the Unix epoch,
	// as the daemon aligns them, so a Start off a boundary makes the first
	// interval partial. Start, Duration and Interval are whole microseconds.
	Start    time.Time
	Duration time.Duration
	Interval time.Duration

	// Hosts is the number of internal client hosts, at most MaxHosts.
	Hosts int
	// V6Share is the fraction of conversations carried over IPv6.
	V6Share float64
	// Snaplen is the snap length used when Options.Snaplen is 0: records are
	// cut there while their original length stays the wire length.
	Snaplen int

	// Background model.

	// WebPerHost is the mean number of web conversations (TCP 443/80 and
	// QUIC-like UDP 443) per host.
	WebPerHost int
	// WebMedian is the median payload a web conversation downloads per
	// interval; each conversation's own mean is spread around it, and no
	// interval of one exceeds WebCap.
	WebMedian int
	// WebCap bounds a web conversation's payload per interval, keeping
	// ordinary browsing under the daemon's 1 MB alert floor.
	WebCap int
	// DNSQueries is the mean number of DNS queries per host per interval.
	DNSQueries int
	// Heavy is the number of steady heavy flows: 2-5 MB of payload every
	// interval, within +-20%, half uploads and half downloads.
	Heavy int
	// BulkSegments is how many TCP segments one packet of a heavy flow or
	// of the exfiltration carries: 1 for MTU-sized frames, up to 44 for
	// the 64 KB super-packets a host capture shows when TSO/GRO is on.
	BulkSegments int
	// Exfil, if not nil, plants one labelled transfer.
	Exfil *ExfilSpec
	// Diurnal is the amplitude, 0 to 1, of a daily swing of web activity
	// (busiest at 14:00 UTC, quietest at 02:00); 0 keeps it flat.
	Diurnal float64
	// WebSigma is the lognormal spread of a web conversation's volume from
	// one interval to the next (0: 0.5); 1.5 gives heavy-tailed bursts.
	WebSigma float64
	// Plants are events added to the background: labelled attacks, benign
	// events that must not alert, and background shapes (see Plant).
	Plants []Plant

	// Load model.

	// Packets is the exact number of packets to write.
	Packets int
	// Pairs is the exact number of distinct directional src->dst IP pairs.
	Pairs int
	// Small makes every packet small (at most a few hundred bytes), so
	// captures with huge pair counts stay small; otherwise the size mix is
	// that of bulk TCP, ACKs, DNS and QUIC.
	Small bool
	// HeavyTail gives conversations Pareto-distributed packet counts (a few
	// elephants, many mice); otherwise every pair gets Packets/Pairs packets
	// (the remainder one each to the first pairs).
	HeavyTail bool
}

// ExfilSpec is a sudden large TCP upload between a pair that otherwise
// exchanges a few kilobytes per interval.
type ExfilSpec struct {
	Src, Dst netip.Addr
	// At is the interval of the transfer, counted from the capture's first
	// interval.
	At int
	// Bytes is the TCP payload sent in that interval on top of the pair's
	// usual trickle.
	Bytes int64
}

// Steady is realistic background only: web browsing and QUIC that varies
// from interval to interval (lognormal noise, slow drift, idle spells), DNS,
// pings, and a few steady heavy flows that cross the 1 MB floor without
// being anomalous. Three minutes, 100 hosts, full-size frames: about
// 800,000 packets and 850 MB; with Options.Snaplen 128 about 100 MB. Tests
// that need a small capture should prefer Demo or fewer Hosts and Heavy.
func Steady(seed uint64) Scenario {
	return Scenario{
		Name:         "steady",
		Model:        Background,
		Seed:         seed,
		Start:        defaultStart(),
		Duration:     3 * time.Minute,
		Interval:     5 * time.Second,
		Hosts:        100,
		V6Share:      0.3,
		Snaplen:      262144,
		WebPerHost:   3,
		WebMedian:    30000,
		WebCap:       600000,
		DNSQueries:   2,
		Heavy:        3,
		BulkSegments: 1,
	}
}

// Exfil is Steady plus one labelled anomaly: after 24 quiet intervals,
// 10.0.1.23 uploads 64 MiB to 203.0.113.77 within one interval in
// 1500-byte frames, a pair that otherwise moves 2-6 KB per interval. The
// receiver's ACKs (one per four segments) come to about 0.77 MB in that
// interval, under the daemon's 1 MB floor.
func Exfil(seed uint64) Scenario {
	s := Steady(seed)
	s.Name = "exfil"
	s.Exfil = &ExfilSpec{
		Src:   netip.MustParseAddr("10.0.1.23"),
		Dst:   netip.MustParseAddr("203.0.113.77"),
		At:    24,
		Bytes: 64 << 20,
	}
	return s
}

// Demo is Exfil made small enough to commit: 50 hosts, two and a half
// minutes with the transfer in interval 20, records cut at 96 bytes (every
// header kept), and bulk TCP in 64 KB super-packets as a host capture with
// GRO shows them. Original lengths, and so every byte count, are those of
// the full traffic.
func Demo(seed uint64) Scenario {
	s := Exfil(seed)
	s.Name = "demo"
	s.Duration = 150 * time.Second
	s.Hosts = 50
	s.WebPerHost = 2
	s.WebMedian = 2500
	s.DNSQueries = 1
	s.Heavy = 2
	s.BulkSegments = 44
	s.Snaplen = 96
	s.Exfil.At = 20
	return s
}

// Bench is a benchmark load: packets packets over pairs distinct src->dst
// pairs (two per conversation) in three minutes, Pareto-distributed
// conversation sizes and a bulk-TCP size mix with full-size frames (use
// Options.Snaplen to shrink the file).
func Bench(seed uint64, packets, pairs int) Scenario {
	return Scenario{
		Name:      "bench",
		Model:     Load,
		Seed:      seed,
		Start:     defaultStart(),
		Duration:  3 * time.Minute,
		Interval:  5 * time.Second,
		Hosts:     1000,
		V6Share:   0.3,
		Snaplen:   262144,
		Packets:   packets,
		Pairs:     pairs,
		HeavyTail: true,
	}
}

// Many is a memory stress: pairs distinct src->dst pairs, all active in each
// of three intervals (one small packet per pair per interval, so 3*pairs
// packets), IPv4 and IPv6.
func Many(seed uint64, pairs int) Scenario {
	return Scenario{
		Name:     "many",
		Model:    Load,
		Seed:     seed,
		Start:    defaultStart(),
		Duration: 15 * time.Second,
		Interval: 5 * time.Second,
		Hosts:    MaxHosts,
		V6Share:  0.4,
		Snaplen:  262144,
		Packets:  3 * pairs,
		Pairs:    pairs,
		Small:    true,
	}
}

// ByName returns the standard scenario of that name: demo, steady, exfil,
// bench (5,000,000 packets, 50,000 pairs) or many (1,000,000 pairs).
func ByName(name string, seed uint64) (Scenario, error) {
	switch name {
	case "demo":
		return Demo(seed), nil
	case "steady":
		return Steady(seed), nil
	case "exfil":
		return Exfil(seed), nil
	case "bench":
		return Bench(seed, 5_000_000, 50_000), nil
	case "many":
		return Many(seed, 1_000_000), nil
	}
	return Scenario{}, fmt.Errorf("synth: unknown scenario %q (want demo, steady, exfil, bench or many)", name)
}

// Intervals is the number of (possibly partial) intervals the capture spans.
func (s Scenario) Intervals() int {
	first, end := s.span()
	return int(end - first)
}

// span returns the index of the first interval and one past the last.
func (s Scenario) span() (first, end int64) {
	iv := int64(s.Interval)
	start := s.Start.UnixNano()
	stop := start + int64(s.Duration)
	return floorDiv(start, iv), floorDiv(stop+iv-1, iv)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Validate reports the first field that cannot work, by name.
func (s Scenario) Validate() error {
	const us = time.Microsecond
	switch {
	case s.Interval < time.Millisecond || s.Interval%us != 0:
		return fmt.Errorf("synth: Interval %v: want whole microseconds, at least 1ms", s.Interval)
	case s.Duration <= 0 || s.Duration%us != 0:
		return fmt.Errorf("synth: Duration %v: want a positive whole number of microseconds", s.Duration)
	case s.Start.Unix() < 0 || s.Start.Add(s.Duration).Unix() >= 1<<32:
		return fmt.Errorf("synth: Start %v: pcap stores seconds from 1970 to 2106", s.Start)
	case s.Start.Nanosecond()%int(us) != 0:
		return fmt.Errorf("synth: Start %v: want whole microseconds", s.Start)
	case s.Hosts < 1 || s.Hosts > MaxHosts:
		return fmt.Errorf("synth: Hosts %d: want 1 to %d", s.Hosts, MaxHosts)
	case s.V6Share < 0 || s.V6Share > 1:
		return fmt.Errorf("synth: V6Share %v: want 0 to 1", s.V6Share)
	case s.Snaplen < 0:
		return fmt.Errorf("synth: Snaplen %d: want 0 (full) or more", s.Snaplen)
	}
	switch s.Model {
	case Background:
		return s.validateBackground()
	case Load:
		return s.validateLoad()
	}
	return fmt.Errorf("synth: Model %d: want Background or Load", s.Model)
}

func (s Scenario) validateBackground() error {
	switch {
	case s.Packets != 0 || s.Pairs != 0:
		return errors.New("synth: Packets and Pairs are for the Load model (bench, many); background volumes come from Hosts")
	case s.WebPerHost < 0 || s.WebMedian < 0 || s.WebCap < 0 || s.DNSQueries < 0:
		return fmt.Errorf("synth: WebPerHost %d, WebMedian %d, WebCap %d, DNSQueries %d: want >= 0", s.WebPerHost, s.WebMedian, s.WebCap, s.DNSQueries)
	case s.Heavy < 0 || s.Heavy > 40:
		return fmt.Errorf("synth: Heavy %d: want 0 to 40 (servers 10.0.0.10 to .49)", s.Heavy)
	case s.BulkSegments < 1 || s.BulkSegments > maxSegments:
		return fmt.Errorf("synth: BulkSegments %d: want 1 to %d (64 KB packets)", s.BulkSegments, maxSegments)
	}
	if s.Diurnal < 0 || s.Diurnal > 1 || s.WebSigma < 0 || s.WebSigma > 3 {
		return fmt.Errorf("synth: Diurnal %v, WebSigma %v: want 0 to 1 and 0 to 3", s.Diurnal, s.WebSigma)
	}
	madeUp := 0
	for i, pl := range s.Plants {
		if err := pl.validate(s); err != nil {
			return fmt.Errorf("synth: Plants[%d] (%s): %w", i, pl.Class, err)
		}
		madeUp += pl.madeUp()
	}
	if madeUp > maxMadeUp {
		return fmt.Errorf("synth: Plants: %d made-up destinations, peers and clients (Count of surge, fanout, p2p, server) in all, want at most %d", madeUp, maxMadeUp)
	}
	if e := s.Exfil; e != nil {
		switch {
		case !e.Src.IsValid() || !e.Dst.IsValid() || e.Src.Is4() != e.Dst.Is4() || e.Src == e.Dst:
			return fmt.Errorf("synth: Exfil %v->%v: want two different addresses of one family", e.Src, e.Dst)
		case e.At < 0 || e.At >= s.Intervals():
			return fmt.Errorf("synth: Exfil.At %d: the capture has intervals 0 to %d", e.At, s.Intervals()-1)
		case e.Bytes < 0:
			return fmt.Errorf("synth: Exfil.Bytes %d: want >= 0", e.Bytes)
		}
	}
	return nil
}

func (s Scenario) validateLoad() error {
	switch {
	case s.Pairs < 1:
		return fmt.Errorf("synth: Pairs %d: want at least 1", s.Pairs)
	case s.Packets < s.Pairs:
		return fmt.Errorf("synth: Packets %d: want at least Pairs (%d), one packet per pair", s.Packets, s.Pairs)
	case s.Exfil != nil || len(s.Plants) > 0:
		return errors.New("synth: Exfil and Plants are for the Background model")
	}
	convs := (s.Pairs + 1) / 2
	if servers := (convs + s.Hosts - 1) / s.Hosts; servers > maxExternalV4 {
		return fmt.Errorf("synth: Pairs %d over Hosts %d needs %d servers per host, more than the %d external IPv4 addresses", s.Pairs, s.Hosts, servers, maxExternalV4)
	}
	return nil
}
