package synth

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
)

// Label is one planted anomaly, as written to the labels JSON file.
type Label struct {
	Key             string    `json:"key"` // "src->dst", as the daemon keys flows
	Src             string    `json:"src"`
	Dst             string    `json:"dst"`
	IntervalStart   time.Time `json:"interval_start"`
	IntervalSeconds float64   `json:"interval_seconds"`
	// Bytes is the sum of the original lengths of all the pair's packets in
	// the interval (the anomaly and the pair's usual traffic), as written.
	Bytes       int64  `json:"bytes"`
	Packets     int64  `json:"packets"`
	Description string `json:"description"`
}

// Summary describes what Write wrote.
type Summary struct {
	Packets       int64
	Bytes         int64 // sum of original (wire) lengths
	CapturedBytes int64 // sum of record lengths, after the snap length
	Pairs         int   // distinct directional src->dst IP pairs
	Intervals     int
	First, Last   time.Time // first and last packet timestamps
	Labels        []Label
	// Attacks are the labels of the scenario's planted attacks and benign
	// events (Scenario.Attacks).
	Attacks []Attack
	// PairIntervals counts (pair, interval) cells with at least one packet:
	// times the interval, the flow-hours false alert rates are measured in.
	PairIntervals int64
}

// packetWriter is what pcapgo's Writer and NgWriter have in common.
type packetWriter interface {
	WritePacket(ci gopacket.CaptureInfo, data []byte) error
}

// Write writes the capture of s to w and returns what it wrote. The same
// scenario and options always produce the same bytes.
func Write(w io.Writer, s Scenario, opts Options) (Summary, error) {
	if err := s.Validate(); err != nil {
		return Summary{}, err
	}
	if err := opts.Validate(); err != nil {
		return Summary{}, err
	}
	snaplen := cmp.Or(opts.Snaplen, s.Snaplen, 262144)
	enc, err := newEncoder(opts.LinkType, snaplen)
	if err != nil {
		return Summary{}, err
	}
	p := &planner{
		plan:     newRNG(s.Seed, 1),
		time:     newRNG(s.Seed, 2),
		res:      int64(time.Microsecond),
		interval: int64(s.Interval),
		pairs:    map[[33]byte]int32{},
	}
	if opts.Nanosecond {
		p.res = 1
	}
	var m model
	switch s.Model {
	case Background:
		m = newBackground(s, p)
		p.npairs = len(p.pairs)
	default:
		m = newLoad(s, p)
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	var pw packetWriter
	var ng *pcapgo.NgWriter
	if opts.Format == PCAPNG {
		// Explicit section and interface options: the defaults name the
		// build's OS and architecture, which would make files differ.
		ng, err = pcapgo.NewNgWriterInterface(bw,
			pcapgo.NgInterface{Name: "synth0", LinkType: opts.LinkType.layers(), SnapLength: uint32(snaplen), TimestampResolution: 9},
			pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "wherefore synth"}})
		if err != nil {
			return Summary{}, fmt.Errorf("synth: writing pcapng header: %w", err)
		}
		pw = ng
	} else {
		pcw := pcapgo.NewWriter(bw)
		if opts.Nanosecond {
			pcw = pcapgo.NewWriterNanos(bw)
		}
		if err := pcw.WriteFileHeader(uint32(snaplen), opts.LinkType.layers()); err != nil {
			return Summary{}, fmt.Errorf("synth: writing pcap header: %w", err)
		}
		pw = pcw
	}

	sum := Summary{Intervals: s.Intervals()}
	seen := make([]uint64, (p.npairs+63)/64)
	seenNow := make([]uint64, len(seen)) // pairs seen in the current interval
	start := s.Start.UnixNano()
	stop := start + int64(s.Duration)
	first, end := s.span()
	var firstTS, lastTS int64
	for k := first; k < end; k++ {
		lo, hi := max(k*p.interval, start), min((k+1)*p.interval, stop)
		p.events = p.events[:0]
		m.plan(p, int(k-first), lo, hi)
		p.events, p.spare = sortByTime(p.events, p.spare, lo, hi-lo)
		clear(seenNow)
		for _, ev := range p.events {
			c := &p.convs[ev.conv]
			data, wire := enc.encode(c, ev)
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ev.ts), CaptureLength: len(data), Length: wire}
			if err := pw.WritePacket(ci, data); err != nil {
				return sum, fmt.Errorf("synth: writing packet %d: %w", sum.Packets+1, err)
			}
			if sum.Packets == 0 {
				firstTS = ev.ts
			}
			lastTS = ev.ts
			sum.Packets++
			sum.Bytes += int64(wire)
			sum.CapturedBytes += int64(len(data))
			pair := c.pair[ev.dir]
			seen[pair/64] |= 1 << (pair % 64)
			if seenNow[pair/64]&(1<<(pair%64)) == 0 {
				seenNow[pair/64] |= 1 << (pair % 64)
				sum.PairIntervals++
			}
			for i := range p.tracks {
				t := &p.tracks[i]
				if t.pair == pair && ev.ts >= t.lo && ev.ts < t.hi {
					t.packets++
					t.bytes += int64(wire)
				}
			}
		}
	}
	if ng != nil {
		if err := ng.Flush(); err != nil {
			return sum, fmt.Errorf("synth: flushing pcapng: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return sum, fmt.Errorf("synth: flushing capture: %w", err)
	}
	for _, w := range seen {
		sum.Pairs += bits.OnesCount64(w)
	}
	if sum.Packets > 0 {
		sum.First, sum.Last = time.Unix(0, firstTS).UTC(), time.Unix(0, lastTS).UTC()
	}
	sum.Attacks = s.Attacks()
	for _, t := range p.tracks {
		l := t.label
		l.Bytes, l.Packets = t.bytes, t.packets
		sum.Labels = append(sum.Labels, l)
	}
	return sum, nil
}
