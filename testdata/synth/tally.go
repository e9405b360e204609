package synth

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Tally is what a capture holds per directional IP pair and interval, found
// by decoding it. It is the test oracle for generated captures and for the
// daemon's own accounting: slow, simple, independent of the generator.
type Tally struct {
	Interval time.Duration
	// Start is the beginning of interval 0: the interval of the first packet.
	Start time.Time
	// Packets and Bytes count every record; Undecoded counts records without
	// a decodable IPv4/IPv6 header (their bytes count in Bytes only).
	Packets, Bytes, Undecoded int64
	// Pairs maps "src->dst" to its counts per interval, all series as long
	// as the capture.
	Pairs map[string]*PairCounts
}

// PairCounts are one pair's original-length bytes and packets per interval.
type PairCounts struct {
	Bytes, Packets []int64
}

// ReadTally decodes a pcap or pcapng capture from r and counts original
// lengths per src->dst pair per interval, intervals aligned to multiples of
// interval since the Unix epoch.
func ReadTally(r io.Reader, interval time.Duration) (*Tally, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("synth: tally interval %v: want > 0", interval)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("synth: reading capture header: %w", err)
	}
	var src interface {
		gopacket.PacketDataSource
		LinkType() layers.LinkType
	}
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		src, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(br)
	}
	if err != nil {
		return nil, fmt.Errorf("synth: opening capture: %w", err)
	}
	t := &Tally{Interval: interval, Pairs: map[string]*PairCounts{}}
	dec := newPairDecoder(src.LinkType())
	iv := int64(interval)
	var first int64
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("synth: reading packet %d: %w", t.Packets+1, err)
		}
		k := floorDiv(ci.Timestamp.UnixNano(), iv)
		if t.Packets == 0 {
			first = k
			t.Start = time.Unix(0, k*iv).UTC()
		}
		if k < first {
			return nil, fmt.Errorf("synth: packet %d at %v is before the first packet's interval", t.Packets+1, ci.Timestamp)
		}
		t.Packets++
		t.Bytes += int64(ci.Length)
		key, ok := dec.pair(data)
		if !ok {
			t.Undecoded++
			continue
		}
		pc := t.Pairs[key]
		if pc == nil {
			pc = &PairCounts{}
			t.Pairs[key] = pc
		}
		i := int(k - first)
		for len(pc.Bytes) <= i {
			pc.Bytes = append(pc.Bytes, 0)
			pc.Packets = append(pc.Packets, 0)
		}
		pc.Bytes[i] += int64(ci.Length)
		pc.Packets[i]++
	}
	n := 0
	for _, pc := range t.Pairs {
		n = max(n, len(pc.Bytes))
	}
	for _, pc := range t.Pairs {
		for len(pc.Bytes) < n {
			pc.Bytes = append(pc.Bytes, 0)
			pc.Packets = append(pc.Packets, 0)
		}
	}
	return t, nil
}

// pairDecoder finds a packet's IP addresses with gopacket's
// DecodingLayerParser, stopping at the IP layer.
type pairDecoder struct {
	first   gopacket.LayerType // by link type; 0 for raw IP
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	loop    layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	decoded []gopacket.LayerType
}

func newPairDecoder(lt layers.LinkType) *pairDecoder {
	d := &pairDecoder{parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
	switch lt {
	case layers.LinkTypeEthernet:
		d.first = layers.LayerTypeEthernet
	case layers.LinkTypeLinuxSLL:
		d.first = layers.LayerTypeLinuxSLL
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		d.first = layers.LayerTypeLoopback
	}
	return d
}

func (d *pairDecoder) pair(data []byte) (string, bool) {
	first := d.first
	if first == 0 { // raw IP: the version nibble says which
		first = layers.LayerTypeIPv4
		if len(data) > 0 && data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
	}
	p := d.parsers[first]
	if p == nil {
		p = gopacket.NewDecodingLayerParser(first, &d.eth, &d.dot1q, &d.sll, &d.loop, &d.ip4, &d.ip6)
		p.IgnoreUnsupported = true // the transport and beyond are not needed
		d.parsers[first] = p
	}
	_ = p.DecodeLayers(data, &d.decoded) // a failure past IP still leaves IP decoded
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			return addrString(d.ip4.SrcIP) + "->" + addrString(d.ip4.DstIP), true
		case layers.LayerTypeIPv6:
			return addrString(d.ip6.SrcIP) + "->" + addrString(d.ip6.DstIP), true
		}
	}
	return "", false
}

func addrString(b []byte) string {
	a, _ := netip.AddrFromSlice(b)
	return a.String()
}

// Top returns the n pairs with the largest single-interval byte counts,
// largest first (ties by key), leaving out the keys in except.
func (t *Tally) Top(n int, except ...string) []string {
	keys := make([]string, 0, len(t.Pairs))
	peak := map[string]int64{}
	for k, pc := range t.Pairs {
		if slices.Contains(except, k) {
			continue
		}
		keys = append(keys, k)
		peak[k] = slices.Max(pc.Bytes)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(peak[b], peak[a]), cmp.Compare(a, b))
	})
	return keys[:min(n, len(keys))]
}
