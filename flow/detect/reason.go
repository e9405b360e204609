package detect

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/flow"
)

// base fills what every alert of the stage carries. Built only for hits.
func (s *Stage) base(iv flow.Interval, det Detector, r *anomaly.Result, scope string) *alert.Alert {
	return &alert.Alert{
		Time:            iv.Start.Add(iv.Length),
		IntervalStart:   iv.Start,
		IntervalSeconds: iv.Length.Seconds(),
		Series:          []float64{r.Expected, r.Value},
		Probability:     severity(r),
		Tests:           r.SubMap(),
		Detector:        det.String(),
		Host:            s.cfg.Host,
		Baseline:        r.Expected,
		Kind:            r.Kind.String(),
		Scope:           scope,
		Threshold:       r.Threshold,
		Expected:        r.Expected,
	}
}

func (s *Stage) per() string { return alert.HumanSeconds(s.cfg.Interval.Seconds()) }

func (s *Stage) window() string { return alert.HumanSeconds(s.cfg.Window.Seconds()) }

func bytesText(v float64) string { return alert.HumanBytes(v) }

func times(value, expected float64) string {
	if expected < 1 {
		return "far more than"
	}
	return strconv.FormatFloat(value/expected, 'f', 0, 64) + " times"
}

func peersText(peers []netip.Addr) []string {
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.String()
	}
	return out
}

func portsText(ports []uint16) string {
	var b strings.Builder
	for i, p := range ports {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

// pairAlert builds the alert of a pair's hit.
func (s *Stage) pairAlert(iv flow.Interval, c *pairCand, det Detector, r *anomaly.Result) {
	a := s.base(iv, det, r, alert.ScopePair)
	p := &c.p
	src, dst := p.Src.String(), p.Dst.String()
	a.Key, a.Src, a.Dst = src+"->"+dst, src, dst
	a.Bytes, a.Packets = p.Bytes, p.Packets
	a.DistinctPorts, a.Unanswered = p.Ports, p.Attempts.Failed
	a.SamplePorts = append([]uint16(nil), p.SamplePorts()...)
	per := s.per()
	switch r.Kind {
	case anomaly.KindNewDestination:
		never := "a destination it never used before"
		if !p.New {
			never = "a destination it has barely used before"
		}
		a.Reason = fmt.Sprintf("%s sent %s to %s, %s, in %s; its uploads usually total %s per %s",
			src, bytesText(r.Value), dst, never, per, bytesText(r.Expected), per)
	case anomaly.KindSurge:
		a.Reason = fmt.Sprintf("%s sent %s to %s in %s, %s its usual %s per %s (threshold %s)",
			src, bytesText(r.Value), dst, per, times(r.Value, r.Expected), bytesText(r.Expected), per, bytesText(r.Threshold))
	case anomaly.KindRamp:
		a.Reason = fmt.Sprintf("%s's upload to %s grew every interval for %d intervals, from %s to %s per %s",
			src, dst, s.cfg.Ramp.Intervals, bytesText(r.Expected), bytesText(r.Value), per)
	case anomaly.KindVScan:
		a.Reason = fmt.Sprintf("%s tried about %.0f ports of %s that did not answer or refused in the last %s (ports %s ...); more than %.0f is a port scan",
			src, r.Value, dst, s.window(), portsText(a.SamplePorts), r.Threshold)
	case anomaly.KindBruteForce:
		a.Reason = fmt.Sprintf("%s opened about %.0f connections to %s (port %s) in the last %s; more than %.0f looks like password guessing",
			src, r.Value, dst, portsText(a.SamplePorts), s.window(), r.Threshold)
	}
	s.add(iv, a)
}

// srcAlert builds the alert of a source's hit (host surge, tunnel,
// horizontal scan, fan-out). Dst is one of the peers it tried, so the
// evidence archive holds at least that pair's packets.
func (s *Stage) srcAlert(iv flow.Interval, src *flow.SourceStat, det Detector, r *anomaly.Result, scope string) {
	a := s.base(iv, det, r, scope)
	addr := src.Addr.String()
	a.Key, a.Src = addr, addr
	a.Bytes, a.Packets = src.Bytes, src.Packets
	a.DistinctDsts, a.DistinctPorts, a.Unanswered = src.Dsts, src.Attempts.Tried, src.Attempts.Failed
	var peers [4]netip.Addr
	a.SamplePeers = peersText(src.SamplePeers(peers[:0]))
	a.SamplePorts = append([]uint16(nil), src.SamplePorts()...)
	if len(a.SamplePeers) > 0 {
		a.Dst = a.SamplePeers[0]
	}
	per, peersList := s.per(), strings.Join(a.SamplePeers, ", ")
	switch det {
	case Surge:
		a.Reason = fmt.Sprintf("%s uploaded %s to %d hosts in %s, %s its usual %s per %s (threshold %s)",
			addr, bytesText(r.Value), src.Dsts, per, times(r.Value, r.Expected), bytesText(r.Expected), per, bytesText(r.Threshold))
	case Tunnel:
		proto := "DNS"
		if _, ok := r.Sub("icmp"); ok {
			proto = "ICMP"
		}
		usual := "it had sent almost none before"
		if r.Expected >= 1 {
			usual = "it usually sends " + bytesText(r.Expected) + " per " + per
		}
		a.Reason = fmt.Sprintf("%s sent %s of %s traffic in %s (to %s); %s", addr, bytesText(r.Value), proto, per, peersList, usual)
	case HScan:
		a.Reason = fmt.Sprintf("%s tried about %.0f hosts that did not answer or refused in the last %s (%s ...; ports %s); more than %.0f is a network scan",
			addr, r.Value, s.window(), peersList, portsText(a.SamplePorts), r.Threshold)
	case FanOut:
		a.Reason = fmt.Sprintf("%s contacted about %.0f new destinations in the last %s (%s ...); more than %.0f is unusual for it (worm or ransomware spreading?)",
			addr, r.Value, s.window(), peersList, r.Threshold)
	}
	s.add(iv, a)
}

// dstAlert builds a fan-in alert. Src is one of the sources.
func (s *Stage) dstAlert(iv flow.Interval, dst *flow.DestStat, r *anomaly.Result) {
	a := s.base(iv, FanIn, r, alert.ScopeDst)
	addr := dst.Addr.String()
	a.Key, a.Dst = addr, addr
	a.Bytes, a.Packets = dst.Bytes, dst.Packets
	a.DistinctSrcs, a.Unanswered = dst.Srcs, dst.Attempts.Failed
	var peers [4]netip.Addr
	a.SamplePeers = peersText(dst.SamplePeers(peers[:0]))
	a.SamplePorts = append([]uint16(nil), dst.SamplePorts()...)
	if len(a.SamplePeers) > 0 {
		a.Src = a.SamplePeers[0]
	}
	what := "connection attempts that went unanswered or were refused"
	switch tried := min(dst.SrcsTrying, dst.Attempts.Failed); {
	case dst.SrcsUnsolicited > 0 && tried == 0:
		what = "answers to requests it never made (reflection: SYN-ACKs, UDP replies or echo replies from servers fed spoofed requests)"
	case dst.SrcsUnsolicited > 0:
		what += fmt.Sprintf(" or answers to requests it never made (reflection, from %d of them)", dst.SrcsUnsolicited)
	}
	sample := strings.Join(a.SamplePeers, ", ") + " ..."
	if len(a.SamplePorts) > 0 {
		sample += "; ports " + portsText(a.SamplePorts)
	}
	a.Reason = fmt.Sprintf("%s received about %.0f %s in the last %s, from %d sources in %s (%s); more than %.0f is a flood",
		addr, r.Value, what, s.window(), dst.Srcs, s.per(), sample, r.Threshold)
	s.add(iv, a)
}

// ceilingResult judges a volume against the static ceiling.
func (s *Stage) ceilingResult(bytes, packets uint64) *anomaly.Result {
	r := &s.res
	r.Reset()
	r.Kind, r.Hit = anomaly.KindSurge, true
	if s.cfg.CeilingBytes > 0 && bytes >= s.cfg.CeilingBytes {
		r.Value, r.Threshold = float64(bytes), float64(s.cfg.CeilingBytes)
	} else {
		r.Value, r.Threshold = float64(packets), float64(s.cfg.CeilingPackets)
		r.SetSub("packets", 1)
	}
	r.Score = 0.5 + 0.5*min(1, r.Value/r.Threshold-1+0.2)
	r.SetSub("ceiling", 1)
	return r
}

func (s *Stage) ceilingText(r *anomaly.Result) string {
	if _, ok := r.Sub("packets"); ok {
		return fmt.Sprintf("%.0f packets in %s, past the ceiling of %.0f", r.Value, s.per(), r.Threshold)
	}
	return fmt.Sprintf("%s in %s, past the ceiling of %s", bytesText(r.Value), s.per(), bytesText(r.Threshold))
}

func (s *Stage) ceilingPair(iv flow.Interval, c *pairCand) {
	r := s.ceilingResult(c.p.Bytes, c.p.Packets)
	a := s.base(iv, Ceiling, r, alert.ScopePair)
	src, dst := c.p.Src.String(), c.p.Dst.String()
	a.Key, a.Src, a.Dst = src+"->"+dst, src, dst
	a.Bytes, a.Packets = c.p.Bytes, c.p.Packets
	a.Reason = fmt.Sprintf("%s sent %s to %s", src, s.ceilingText(r), dst)
	s.add(iv, a)
}

func (s *Stage) ceilingSrc(iv flow.Interval, src *flow.SourceStat) {
	r := s.ceilingResult(src.Bytes, src.Packets)
	a := s.base(iv, Ceiling, r, alert.ScopeHost)
	addr := src.Addr.String()
	a.Key, a.Src = addr, addr
	a.Bytes, a.Packets, a.DistinctDsts = src.Bytes, src.Packets, src.Dsts
	a.Reason = fmt.Sprintf("%s sent %s, to %d hosts", addr, s.ceilingText(r), src.Dsts)
	s.add(iv, a)
}
