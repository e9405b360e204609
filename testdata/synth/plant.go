package synth

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// The classes of planted events. Attacks are labelled; benign events are
// labelled too, as events that must not alert; background shapes are
// ordinary traffic and carry no label.
const (
	// Attacks.
	ClassUpload     = "upload"     // bulk upload: to a new destination, or a tiny flow jumping (Baseline > 0)
	ClassSurge      = "surge"      // a host's uploads to its usual destinations jump together
	ClassRamp       = "ramp"       // a pair's volume grows by half every interval
	ClassVScan      = "vscan"      // one source probes Count ports of one host
	ClassHScan      = "hscan"      // one source probes port 22 on Count hosts
	ClassFanOut     = "fanout"     // a local host sprays Count new destinations (worm, ransomware)
	ClassFanIn      = "fanin"      // Count spoofed sources flood one host with SYNs (DDoS)
	ClassBruteForce = "bruteforce" // Count short ssh connections per interval to one server
	ClassDNSTunnel  = "dnstunnel"  // Count large DNS queries per interval to one outside server
	ClassICMPTunnel = "icmptunnel" // Count large ICMP echoes per interval to one host
	ClassBeacon     = "beacon"     // a fixed-size request every Period to one destination
	ClassACKScan    = "ackscan"    // one source probes Count ports of one host with bare ACKs, each reset (nmap -sA)
	ClassReflection = "reflection" // Count outside servers answer requests spoofed in one host's name (SYN-ACKs, SNMP replies)

	// Benign events that must not alert.
	ClassDownload = "download" // a normal big download
	ClassBackup   = "backup"   // a nightly upload at its usual hour; the last night is labelled

	// Background shapes (unlabelled).
	ClassUpdate    = "update"    // Count hosts pull a software update from one server at once
	ClassVideo     = "videocall" // a video call: Size bytes each way per interval over UDP
	ClassP2P       = "p2p"       // a P2P client trading with Count answered peers
	ClassServer    = "server"    // a busy server answering Count clients
	ClassKeepalive = "keepalive" // a device's small check-in every Period (Count > 1: as many hosts from Src, each on its own phase)
)

// attackClasses and benignClasses list the labelled classes.
func attackClasses() []string {
	return []string{ClassUpload, ClassSurge, ClassRamp, ClassVScan, ClassHScan, ClassFanOut, ClassFanIn,
		ClassBruteForce, ClassDNSTunnel, ClassICMPTunnel, ClassBeacon, ClassACKScan, ClassReflection}
}

func benignClasses() []string { return []string{ClassDownload, ClassBackup} }

func shapeClasses() []string {
	return []string{ClassUpdate, ClassVideo, ClassP2P, ClassServer, ClassKeepalive}
}

// AttackClasses returns the labelled attack classes the generator plants.
func AttackClasses() []string { return attackClasses() }

// Plant is one event added to a Background scenario. Which fields matter
// depends on Class (see the constants); unused ones are ignored.
type Plant struct {
	Class string
	// Src is the attacker, uploader or client; Dst the victim, destination
	// or server. For hscan Dst is the first scanned host (the next Count-1
	// follow); for fanin Src is unused (sources are spoofed); for surge and
	// fanout Dst is unused (destinations are made up).
	Src, Dst netip.Addr
	// At is the first interval of the event counted from the capture's
	// first; Intervals how many it lasts.
	At, Intervals int
	// Size is bytes per interval (upload, surge, download, backup, video,
	// tunnels: per packet for tunnels), the first interval's bytes of a
	// ramp, or a beacon's request size.
	Size int64
	// Count is ports, hosts, destinations, sources, connections or
	// queries per interval, peers or clients, by class.
	Count int
	// Baseline is bytes per interval the pair (upload, ramp) or each of
	// the host's destinations (surge) moves over the whole capture; 0 for
	// upload means a destination never used before.
	Baseline int64
	// Period is a beacon's or keepalive's period, or a backup's (24h).
	Period time.Duration
	// Jitter is how far a beacon's or keepalive's gaps stray from Period,
	// as a fraction either way (0 means 0.02).
	Jitter float64
}

// Attack is the label of a planted attack or benign event.
type Attack struct {
	Class    string `json:"class"`
	Attacker string `json:"attacker,omitempty"`
	Victim   string `json:"victim,omitempty"`
	// Start and End bound the event: [Start, End), on interval boundaries.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Benign events must not alert.
	Benign      bool   `json:"benign,omitempty"`
	Description string `json:"description"`
}

func (pl Plant) validate(s Scenario) error {
	known := false
	for _, l := range [][]string{attackClasses(), benignClasses(), shapeClasses()} {
		for _, c := range l {
			known = known || c == pl.Class
		}
	}
	n := s.Intervals()
	needSrc := pl.Class != ClassFanIn && pl.Class != ClassReflection && pl.Class != ClassUpdate
	needDst := pl.Class != ClassSurge && pl.Class != ClassFanOut && pl.Class != ClassUpdate &&
		pl.Class != ClassP2P && pl.Class != ClassServer
	switch {
	case !known:
		return fmt.Errorf("unknown class (want one of %v, %v or %v)", attackClasses(), benignClasses(), shapeClasses())
	case needSrc && !pl.Src.IsValid(), needDst && !pl.Dst.IsValid():
		return errors.New("Src and Dst: want addresses")
	case pl.Src.IsValid() && pl.Dst.IsValid() && pl.Src.Is4() != pl.Dst.Is4():
		return errors.New("Src and Dst: want one address family")
	case pl.At < 0 || pl.Intervals < 1 || pl.At+pl.Intervals > n:
		return fmt.Errorf("At %d, Intervals %d: want within the capture's %d intervals", pl.At, pl.Intervals, n)
	case pl.Size < 0 || pl.Baseline < 0 || pl.Count < 0 || pl.Count > 200_000:
		return fmt.Errorf("Size %d, Baseline %d, Count %d: want >= 0 (Count at most 200000)", pl.Size, pl.Baseline, pl.Count)
	case pl.Size > 60000 && (pl.Class == ClassBeacon || pl.Class == ClassKeepalive || pl.Class == ClassDNSTunnel || pl.Class == ClassICMPTunnel):
		return fmt.Errorf("Size %d: a packet's payload, want at most 60000", pl.Size)
	case (pl.Class == ClassVScan || pl.Class == ClassACKScan) && pl.Count > 65535:
		return fmt.Errorf("Count %d: ports, want at most 65535", pl.Count)
	case (pl.Class == ClassBeacon || pl.Class == ClassKeepalive || pl.Class == ClassBackup) && pl.Period < s.Interval:
		return fmt.Errorf("Period %v: want at least the interval %v", pl.Period, s.Interval)
	case !(pl.Jitter >= 0 && pl.Jitter <= 0.5):
		return fmt.Errorf("Jitter %g: want a fraction of Period from 0 to 0.5", pl.Jitter)
	case pl.Class == ClassKeepalive && pl.Count > 250:
		return fmt.Errorf("Count %d: keepalive hosts, want at most 250", pl.Count)
	}
	return nil
}

// plants makes the traffic of a scenario's Plants, with random streams of
// its own so that planting an event leaves the background's packets as
// they were.
type plants struct {
	s     Scenario
	list  []plantState
	draw  *rng  // volumes, counts, addresses
	clock *rng  // timestamps
	first int64 // index of the capture's first interval since the epoch
}

// plantState is a plant and its conversations, convs[lo:hi] of the planner.
type plantState struct {
	Plant
	lo, hi int32
	nexts  []int64 // beacon, keepalive: time of each conversation's next packet
}

// externalPlant is external server j of the block reserved for plants,
// never used by the background: the made-up destinations of surge, fanout,
// p2p and server plants take j below maxMadeUp, spoofed fanin sources the
// rest.
func externalPlant(j int, v6 bool) addr { return external(200_000+j, v6) }

const maxMadeUp = 50_000

// madeUp is how many destinations or peers a plant makes up.
func (pl Plant) madeUp() int {
	switch pl.Class {
	case ClassSurge, ClassFanOut, ClassP2P, ClassServer:
		return pl.Count
	}
	return 0
}

func newPlants(s Scenario, p *planner) *plants {
	ps := &plants{s: s, draw: newRNG(s.Seed, 3), clock: newRNG(s.Seed, 4)}
	r := ps.draw
	ephemeral := func() uint16 { return uint16(32768 + r.intn(28232)) }
	ext := 0 // external plant addresses handed out so far
	for _, pl := range s.Plants {
		st := plantState{Plant: pl, lo: int32(len(p.convs))}
		src, dst := fromNetip(pl.Src), fromNetip(pl.Dst)
		v6 := (pl.Src.IsValid() && pl.Src.Is6()) || (pl.Dst.IsValid() && pl.Dst.Is6())
		conv1 := func(a, b addr, bport uint16, proto uint8) {
			p.addConv(newConv(a, b, ephemeral(), bport, proto, true, isLocal(b), r))
		}
		switch pl.Class {
		case ClassUpload, ClassRamp, ClassDownload, ClassBackup, ClassBeacon:
			conv1(src, dst, 443, protoTCP)
		case ClassKeepalive:
			for k := range max(pl.Count, 1) {
				conv1(nextAddr(src, k), dst, 443, protoTCP)
			}
		case ClassSurge:
			for range max(pl.Count, 1) {
				conv1(src, externalPlant(ext, v6), 443, protoTCP)
				ext++
			}
		case ClassVScan:
			// One conversation per port, from one source port, as nmap -sS.
			sport := ephemeral()
			for k := range pl.Count {
				c := newConv(src, dst, sport, uint16(1+k), protoTCP, isLocal(src), isLocal(dst), r)
				p.addConv(c)
			}
		case ClassACKScan:
			sport := ephemeral()
			for k := range pl.Count {
				p.addConv(newConv(src, dst, sport, uint16(1+k), protoTCP, isLocal(src), isLocal(dst), r))
			}
		case ClassReflection:
			for k := range pl.Count {
				// The servers answer from their service ports, scattered
				// over a block of their own.
				a := externalPlant(50_000+r.intn(750_000), v6)
				if k%2 == 0 {
					p.addConv(newConv(a, dst, 80, ephemeral(), protoTCP, false, true, r))
				} else {
					p.addConv(newConv(a, dst, 161, ephemeral(), protoUDP, false, true, r))
				}
			}
		case ClassHScan:
			sport := ephemeral()
			for k := range pl.Count {
				c := newConv(src, nextAddr(dst, k), sport, 22, protoTCP, isLocal(src), true, r)
				p.addConv(c)
			}
		case ClassFanOut:
			for range pl.Count {
				conv1(src, externalPlant(ext, v6), 6892, protoUDP)
				ext++
			}
		case ClassFanIn:
			for range pl.Count {
				// Spoofed: scattered over a block of their own, may repeat.
				a := externalPlant(50_000+r.intn(750_000), v6)
				p.addConv(newConv(a, dst, ephemeral(), 80, protoTCP, false, true, r))
			}
		case ClassBruteForce:
			for range pl.Count * pl.Intervals {
				p.addConv(newConv(src, dst, ephemeral(), 22, protoTCP, isLocal(src), isLocal(dst), r))
			}
		case ClassDNSTunnel:
			conv1(src, dst, 53, protoUDP)
		case ClassICMPTunnel:
			p.addConv(newConv(src, dst, uint16(r.u64()), 0, protoICMP, true, isLocal(dst), r))
		case ClassUpdate:
			for k := range pl.Count {
				conv1(host(k, v6), dst, 443, protoTCP)
			}
		case ClassVideo:
			conv1(src, dst, 3478, protoUDP)
		case ClassP2P:
			for range pl.Count {
				conv1(src, externalPlant(ext, v6), 6881, protoTCP)
				ext++
			}
		case ClassServer:
			for range pl.Count {
				c := newConv(externalPlant(ext, v6), src, ephemeral(), 443, protoTCP, false, true, r)
				p.addConv(c)
				ext++
			}
		}
		st.hi = int32(len(p.convs))
		if pl.Class == ClassBeacon || pl.Class == ClassKeepalive {
			st.nexts = make([]int64, st.hi-st.lo)
		}
		ps.list = append(ps.list, st)
	}
	return ps
}

// isLocal says whether a is in the plan's internal ranges.
func isLocal(a addr) bool {
	if a.v6 {
		return a.b[0] == 0xfd
	}
	return a.b[0] == 10
}

// nextAddr is a plus k in its last 16 bits.
func nextAddr(a addr, k int) addr {
	i := 3
	if a.v6 {
		i = 15
	}
	v := int(a.b[i-1])<<8 | int(a.b[i]) + k
	a.b[i-1], a.b[i] = byte(v>>8), byte(v)
	return a
}

// Attacks returns the labels of the scenario's attacks and benign events.
func (s Scenario) Attacks() []Attack {
	first, _ := s.span()
	iv := int64(s.Interval)
	at := func(i int) time.Time { return time.Unix(0, (first+int64(i))*iv).UTC() }
	var out []Attack
	for _, pl := range s.Plants {
		a := Attack{Class: pl.Class, Start: at(pl.At), End: at(pl.At + pl.Intervals)}
		if pl.Src.IsValid() {
			a.Attacker = pl.Src.String()
		}
		if pl.Dst.IsValid() {
			a.Victim = pl.Dst.String()
		}
		switch pl.Class {
		case ClassUpload:
			what := "a destination it never used before"
			if pl.Baseline > 0 {
				what = fmt.Sprintf("a flow that usually moves %d bytes per interval", pl.Baseline)
			}
			a.Description = fmt.Sprintf("%s uploads %d bytes per interval to %s, %s", a.Attacker, pl.Size, a.Victim, what)
		case ClassSurge:
			a.Description = fmt.Sprintf("%s's uploads to its %d usual destinations jump from %d to %d bytes per interval in all", a.Attacker, pl.Count, pl.Baseline*int64(pl.Count), pl.Size)
			a.Victim = ""
		case ClassRamp:
			a.Description = fmt.Sprintf("%s's upload to %s grows by half every interval from %d bytes", a.Attacker, a.Victim, pl.Size)
		case ClassVScan:
			a.Description = fmt.Sprintf("%s SYN-scans %d ports of %s", a.Attacker, pl.Count, a.Victim)
		case ClassACKScan:
			a.Description = fmt.Sprintf("%s ACK-scans %d ports of %s, each port resetting", a.Attacker, pl.Count, a.Victim)
		case ClassReflection:
			a.Description = fmt.Sprintf("%d servers answer requests spoofed in %s's name with SYN-ACKs and SNMP replies", pl.Count, a.Victim)
			a.Attacker = ""
		case ClassHScan:
			a.Description = fmt.Sprintf("%s SYN-scans port 22 on %d hosts from %s", a.Attacker, pl.Count, a.Victim)
			a.Victim = ""
		case ClassFanOut:
			a.Description = fmt.Sprintf("%s sends UDP/6892 to %d new destinations", a.Attacker, pl.Count)
		case ClassFanIn:
			a.Description = fmt.Sprintf("%d spoofed sources flood %s:80 with SYNs", pl.Count, a.Victim)
			a.Attacker = ""
		case ClassBruteForce:
			a.Description = fmt.Sprintf("%s opens %d short ssh connections per interval to %s", a.Attacker, pl.Count, a.Victim)
		case ClassDNSTunnel:
			a.Description = fmt.Sprintf("%s sends %d DNS queries of %d bytes per interval to %s", a.Attacker, pl.Count, pl.Size, a.Victim)
		case ClassICMPTunnel:
			a.Description = fmt.Sprintf("%s sends %d ICMP echoes of %d bytes per interval to %s", a.Attacker, pl.Count, pl.Size, a.Victim)
		case ClassBeacon:
			a.Description = fmt.Sprintf("%s sends %d bytes to %s every %v", a.Attacker, pl.Size, a.Victim, pl.Period)
		case ClassDownload:
			a.Benign = true
			a.Description = fmt.Sprintf("benign: %s downloads %d bytes per interval from %s", a.Attacker, pl.Size, a.Victim)
		case ClassBackup:
			// Only the last night is labelled: the others are its history.
			step := int(pl.Period / s.Interval)
			last := pl.At + (s.Intervals()-pl.At-pl.Intervals)/step*step
			a.Start, a.End = at(last), at(last+pl.Intervals)
			a.Benign = true
			a.Description = fmt.Sprintf("benign: %s backs up %d bytes per interval to %s every %v at its usual hour", a.Attacker, pl.Size, a.Victim, pl.Period)
		default:
			continue // background shapes carry no label
		}
		out = append(out, a)
	}
	return out
}

// TCP flags.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

func (ps *plants) plan(p *planner, i int, lo, hi int64) {
	if len(ps.list) == 0 {
		return
	}
	// Plants draw from their own streams (see plants).
	bgPlan, bgTime := p.plan, p.time
	p.plan, p.time = ps.draw, ps.clock
	defer func() { p.plan, p.time = bgPlan, bgTime }()
	r := p.plan
	frac := float64(hi-lo) / float64(p.interval)
	bulk := func(c *conv) int {
		if c.v6 {
			return mss6 * maxSegments
		}
		return mss4 * maxSegments
	}
	for k := range ps.list {
		st := &ps.list[k]
		in := i >= st.At && i < st.At+st.Intervals
		c0 := st.lo
		switch st.Class {
		case ClassUpload, ClassRamp:
			if st.Baseline > 0 {
				p.transfer(c0, 0, int64(float64(float64(st.Baseline)*(0.5+r.float()))*frac), mss4, 2, 0, 0, lo, hi)
			}
			if in {
				n := st.Size
				if st.Class == ClassRamp {
					for range i - st.At {
						n += n / 2
					}
				}
				p.transfer(c0, 0, n, bulk(&p.convs[c0]), 2, 0, 0, lo, hi)
			}
		case ClassSurge:
			for c := st.lo; c < st.hi; c++ {
				n := int64(float64(float64(st.Baseline)*(0.5+r.float())) * frac)
				if in {
					n = st.Size / int64(st.hi-st.lo)
				}
				p.transfer(c, 0, n, bulk(&p.convs[c]), 2, 0, 0, lo, hi)
			}
		case ClassDownload, ClassVideo:
			if in {
				seg, every := bulk(&p.convs[c0]), 2
				if st.Class == ClassVideo {
					seg, every = udpPayload4, 1000000
					p.transfer(c0, 0, st.Size, seg, every, 0, 0, lo, hi)
				}
				p.transfer(c0, 1, st.Size, seg, every, 0, 0, lo, hi)
			}
		case ClassBackup:
			step := int(st.Period / ps.s.Interval)
			if i >= st.At && (i-st.At)%step < st.Intervals {
				p.transfer(c0, 0, st.Size, bulk(&p.convs[c0]), 2, 0, 0, lo, hi)
			}
		case ClassBeacon, ClassKeepalive:
			if !in {
				continue
			}
			least, spread := 0.98, 0.04
			if st.Jitter > 0 {
				least, spread = 1-st.Jitter, 2*st.Jitter
			}
			for c := st.lo; c < st.hi; c++ {
				next := &st.nexts[c-st.lo]
				if *next == 0 {
					*next = lo + p.time.int63n(int64(st.Period))
				}
				for ; *next < hi; *next += int64(float64(st.Period) * (least + spread*p.time.float())) {
					t := *next / p.res * p.res
					p.add(c, 0, int(st.Size), t)
					p.add(c, 1, int(2*st.Size), p.after(t, 20_000, 80_000, hi))
				}
			}
		case ClassVScan, ClassHScan, ClassFanOut, ClassFanIn, ClassACKScan, ClassReflection:
			if !in {
				continue
			}
			// Spread the probes evenly over the window: this interval gets
			// those whose share falls in it.
			n, w, j := int64(st.hi-st.lo), int64(st.Intervals), int64(i-st.At)
			for c := st.lo + int32(n*j/w); c < st.lo+int32(n*(j+1)/w); c++ {
				t := p.at(lo, hi)
				switch st.Class {
				case ClassFanOut:
					p.add(c, 0, r.between(100, 900), t)
				case ClassFanIn:
					p.addTCP(c, 0, 0, flagSYN, t)
					if r.chance(0.5) {
						p.addTCP(c, 1, 0, flagSYN|flagACK, p.after(t, 100, 2000, hi))
					}
				case ClassACKScan:
					p.addTCP(c, 0, 0, flagACK, t)
					p.addTCP(c, 1, 0, flagRST, p.after(t, 100, 3000, hi))
				case ClassReflection:
					if p.convs[c].proto == protoTCP {
						p.addTCP(c, 0, 0, flagSYN|flagACK, t)
					} else {
						p.add(c, 0, r.between(400, 1400), t)
					}
				default:
					p.addTCP(c, 0, 0, flagSYN, t)
					x := r.float()
					switch {
					case st.Class == ClassVScan && x < 0.01, st.Class == ClassHScan && x < 0.1:
						t2 := p.after(t, 100, 3000, hi)
						p.addTCP(c, 1, 0, flagSYN|flagACK, t2)
						p.addTCP(c, 0, 0, flagRST, p.after(t2, 50, 500, hi))
					case st.Class == ClassVScan || x < 0.4:
						p.addTCP(c, 1, 0, flagRST|flagACK, p.after(t, 100, 3000, hi))
					}
				}
			}
		case ClassBruteForce:
			if !in {
				continue
			}
			for c := st.lo + int32((i-st.At)*st.Count); c < st.lo+int32((i-st.At+1)*st.Count); c++ {
				t := p.at(lo, hi)
				steps := [...]struct {
					dir   uint8
					size  int
					flags uint8
				}{{0, 0, flagSYN}, {1, 0, flagSYN | flagACK}, {0, 0, flagACK}, {1, 41, 0}, {0, 41, 0},
					{0, 1100, 0}, {1, 1000, 0}, {0, 300, 0}, {1, 50, 0}, {0, 0, flagFIN | flagACK}, {1, 0, flagFIN | flagACK}, {0, 0, flagACK}}
				for _, s := range steps {
					t = p.after(t, 200, 20_000, hi)
					p.addTCP(c, s.dir, s.size, s.flags, t)
				}
			}
		case ClassDNSTunnel, ClassICMPTunnel:
			if !in {
				continue
			}
			for range st.Count {
				t := p.at(lo, hi)
				p.add(c0, 0, int(st.Size), t)
				p.add(c0, 1, int(st.Size)+r.between(0, 200), p.after(t, 5_000, 60_000, hi))
			}
		case ClassUpdate:
			if !in {
				continue
			}
			for c := st.lo; c < st.hi; c++ {
				p.transfer(c, 1, st.Size, bulk(&p.convs[c]), 2, 0, 0, lo, hi)
			}
		case ClassP2P, ClassServer:
			// Each peer or client is busy in about a third of the intervals.
			for c := st.lo; c < st.hi; c++ {
				if !r.chance(0.3) {
					continue
				}
				n := int64(float64(float64(st.Size)*r.lognormal(1)) * frac)
				p.add(c, 0, r.between(100, 600), p.at(lo, hi))
				p.transfer(c, 1, n, mss4, 2, 0, 0, lo, hi)
				if st.Class == ClassP2P {
					p.transfer(c, 0, n/2, mss4, 2, 0, 0, lo, hi)
				}
			}
		}
	}
}
