package synth

import (
	"cmp"
	"fmt"
	"time"
)

// flowClass is the kind of application a background conversation plays.
type flowClass uint8

const (
	classWeb    flowClass = iota // TCP 443/80: small requests up, bursty downloads
	classQUIC                    // UDP 443: datagrams down, short acks up
	classDNS                     // UDP 53 to an internal resolver
	classPing                    // ICMP echo once a second
	classHeavy                   // steady bulk TCP, 2-5 MB per interval
	classBeacon                  // a trickle up to one external host; the exfil pair
)

// bgFlow is the volume model of one background conversation.
type bgFlow struct {
	class flowClass
	down  bool    // data flows from the responder (side 1) to the initiator
	mean  float64 // payload bytes per full interval, before noise and drift
	sigma float64 // lognormal noise per interval
	// drift: a slow swing of +-30% with this period (in intervals) and phase.
	period, phase float64
	// intermittent flows switch between active and idle spells.
	intermittent, on bool
}

// background is the model of the demo, steady and exfil scenarios.
type background struct {
	s       Scenario
	flows   []bgFlow // parallel to the first planner.convs
	plants  *plants  // the planted events, conversations after flows
	bulkSeg [2]int   // payload per bulk packet, IPv4 and IPv6
	bulkAck int      // bulk data packets per ACK
}

func newBackground(s Scenario, p *planner) *background {
	b := &background{s: s}
	b.bulkSeg = [2]int{mss4 * s.BulkSegments, mss6 * s.BulkSegments}
	// Receivers acknowledge bulk data every few segments (stretch ACKs with
	// GRO): every fourth MTU-sized packet, every second super-packet.
	b.bulkAck = max(2, 4/s.BulkSegments)

	r := p.plan
	add := func(c conv, f bgFlow) int32 {
		b.flows = append(b.flows, f)
		return p.addConv(c)
	}
	ephemeral := func() uint16 { return uint16(32768 + r.intn(28232)) }
	drift := func(f *bgFlow) {
		f.period = float64(s.Intervals()) * (1 + 2*r.float())
		f.phase = r.float()
	}

	for i := range s.Hosts {
		vlan := uint16(0)
		if i%5 == 4 {
			vlan = 20 // a fifth of the hosts sit on a tagged VLAN
		}
		v6 := r.chance(s.V6Share)
		c := newConv(host(i, v6), internalServer(53, v6), ephemeral(), 53, protoUDP, true, true, r)
		c.vlan = vlan
		add(c, bgFlow{class: classDNS})

		for range r.intn(2*s.WebPerHost + 1) {
			v6 := r.chance(s.V6Share)
			quic := r.chance(0.2)
			var srv addr
			if v6 {
				srv = external(r.intn(500), v6)
			} else {
				srv = external(r.intn(1200), v6) // documentation /24s and the first cloud addresses
			}
			proto, port := uint8(protoTCP), uint16(443)
			if quic {
				proto = protoUDP
			} else if r.chance(0.15) {
				port = 80
			}
			c := newConv(host(i, v6), srv, ephemeral(), port, proto, true, false, r)
			c.vlan = vlan
			f := bgFlow{class: classWeb, down: true, sigma: 0.5, intermittent: r.chance(0.5)}
			if s.Diurnal > 0 {
				f.intermittent = true // idle spells let the daily swing show in flow counts too
			}
			if quic {
				f.class = classQUIC
			}
			f.mean = min(max(float64(s.WebMedian)*r.lognormal(1), 1000), 250000)
			f.on = !f.intermittent || r.chance(0.6)
			drift(&f)
			add(c, f)
		}

		if r.chance(0.1) {
			v6 := r.chance(s.V6Share)
			c := newConv(host(i, v6), external(0, v6), uint16(r.u64()), 0, protoICMP, true, false, r)
			c.vlan = vlan
			add(c, bgFlow{class: classPing, phase: r.float()})
		}
	}

	for k := range s.Heavy {
		// Alternate uploads over IPv4 (backups to the cloud) and downloads
		// over IPv6 (replicas pulled from a data centre).
		v6 := k%2 == 1
		var srv addr
		if v6 {
			srv = external(1000+k, true)
		} else {
			srv = external(3*254-1+100+k, false) // 172.16.0.x
		}
		port := [3]uint16{443, 5432, 873}[k%3]
		c := newConv(internalServer(byte(10+k), v6), srv, ephemeral(), port, protoTCP, true, false, r)
		f := bgFlow{class: classHeavy, down: v6, sigma: 0.07}
		f.mean = float64(2_000_000 + r.intn(3_000_001))
		add(c, f)
	}

	if e := s.Exfil; e != nil {
		c := newConv(fromNetip(e.Src), fromNetip(e.Dst), ephemeral(), 443, protoTCP, true, false, r)
		ci := add(c, bgFlow{class: classBeacon})
		first, _ := s.span()
		lo := (first + int64(e.At)) * p.interval
		start, stop := s.Start.UnixNano(), s.Start.UnixNano()+int64(s.Duration)
		p.tracks = append(p.tracks, track{
			pair: p.convs[ci].pair[0],
			lo:   max(lo, start),
			hi:   min(lo+p.interval, stop),
			label: Label{
				Key:             pairKey(fromNetip(e.Src), fromNetip(e.Dst)),
				Src:             e.Src.String(),
				Dst:             e.Dst.String(),
				IntervalStart:   time.Unix(0, lo).UTC(),
				IntervalSeconds: s.Interval.Seconds(),
				Description: fmt.Sprintf("exfiltration: %s uploads %d bytes of TCP payload to %s:443 within one interval; the pair otherwise moves 2-6 KB per interval",
					e.Src, e.Bytes, e.Dst),
			},
		})
	}
	b.plants = newPlants(s, p)
	return b
}

func (b *background) plan(p *planner, i int, lo, hi int64) {
	r := p.plan
	frac := float64(hi-lo) / float64(p.interval)
	// The daily swing: busiest at 14:00 UTC, quietest at 02:00.
	day := float64(lo%int64(24*time.Hour)) / float64(24*time.Hour)
	daily := 1 + float64(b.s.Diurnal*wave(day-14.0/24+0.25))
	sigma := cmp.Or(b.s.WebSigma, 0.5)
	for ci := range b.flows {
		f := &b.flows[ci]
		c := &p.convs[ci]
		id := int32(ci)
		v := 0
		if c.v6 {
			v = 1
		}
		// Data direction: side 0 sends uploads, side 1 downloads.
		data := uint8(0)
		if f.down {
			data = 1
		}
		switch f.class {
		case classWeb, classQUIC:
			if f.intermittent {
				if f.on && r.chance(0.25) {
					f.on = false
				} else if !f.on && r.chance(float64(0.35*daily)) {
					f.on = true
				}
			}
			if !f.on {
				continue
			}
			d := 1 + float64(0.3*wave(float64(i)/f.period+f.phase))
			vol := float64(float64(float64(f.mean*d)*daily)*r.lognormal(sigma)) * frac
			bytes := max(200, min(int64(vol), int64(b.s.WebCap)))
			for range 1 + bytes/60000 {
				p.add(id, 0, r.between(200, 700), p.at(lo, hi)) // requests
			}
			if f.class == classWeb {
				p.transfer(id, data, bytes, [2]int{mss4, mss6}[v], 2, 0, 0, lo, hi)
			} else {
				p.transfer(id, data, bytes, [2]int{udpPayload4, udpPayload6}[v], 3, 30, 45, lo, hi)
			}
		case classDNS:
			for range r.intn(2*b.s.DNSQueries + 1) {
				t := p.at(lo, hi)
				p.add(id, 0, r.between(28, 60), t)
				p.add(id, 1, r.between(60, 300), p.after(t, 200, 30000, hi))
			}
		case classPing:
			off := int64(float64(f.phase*1e9)) / p.res * p.res
			for t := lo + off; t < hi; t += int64(time.Second) {
				p.add(id, 0, pingPayload, t)
				p.add(id, 1, pingPayload, p.after(t, 500, 40000, hi))
			}
		case classHeavy:
			noise := min(max(r.lognormal(f.sigma), 0.8), 1.2)
			vol := float64(f.mean*noise) * frac
			p.transfer(id, data, int64(vol), b.bulkSeg[v], b.bulkAck, 0, 0, lo, hi)
		case classBeacon:
			p.transfer(id, 0, int64(float64(r.between(2000, 6000))*frac), [2]int{mss4, mss6}[v], 2, 0, 0, lo, hi)
			p.add(id, 1, r.between(100, 400), p.at(lo, hi))
			if e := b.s.Exfil; e != nil && i == e.At {
				p.transfer(id, 0, e.Bytes, b.bulkSeg[v], b.bulkAck, 0, 0, lo, hi)
			}
		}
	}
	b.plants.plan(p, i, lo, hi)
}
