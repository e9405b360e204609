package detect

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wherefore/wherefore/anomaly"
)

// Names of saved baselines: "<measure> <address>".
var srcMeasures = []string{"up", "dns", "icmp", "hscan", "fanout"}

func srcBaselines(st *srcState) []*anomaly.Baseline {
	return []*anomaly.Baseline{&st.up, &st.dns, &st.icmp, &st.hscan, &st.fan}
}

// State returns the learned state worth keeping across a restart: the
// pooled models, every source's and destination's baselines and the
// beacon detector's pairs. Pairs' volumes relearn: a pair without
// history is judged by its source's. Call it on
// the goroutine that calls ObserveInterval, or once the flow aggregator
// is closed.
func (s *Stage) State() *anomaly.State {
	st := &anomaly.State{Pooled: make(map[string]*anomaly.Pooled), Baselines: make(map[string]anomaly.Baseline),
		Beacons: s.beaconState()}
	for scope, p := range s.pooled {
		st.Pooled[scope] = p
	}
	s.srcs.each(func(a netip.Addr, v *srcState, _ int64) {
		for i, b := range srcBaselines(v) {
			if b.Active > 0 {
				st.Baselines[srcMeasures[i]+" "+a.String()] = *b
			}
		}
	})
	s.dsts.each(func(a netip.Addr, v *dstState, _ int64) {
		if v.fanin.Active > 0 {
			st.Baselines["fanin "+a.String()] = v.fanin
		}
	})
	return st
}

// Restore installs state saved by State, before the first interval. A
// pooled model saved with another risk is left out (its threshold answers
// another question); an unknown name is an error naming it.
func (s *Stage) Restore(st *anomaly.State) error {
	for scope, p := range st.Pooled {
		cur, ok := s.pooled[scope]
		if !ok {
			return fmt.Errorf("detect: learned state has an unknown model %q", scope)
		}
		if p.Config() == cur.Config() {
			s.pooled[scope] = p
		}
	}
	s.publishPairBase()
	for name, b := range st.Baselines {
		measure, addr, ok := strings.Cut(name, " ")
		a, err := netip.ParseAddr(addr)
		if !ok || err != nil {
			return fmt.Errorf("detect: learned state has a baseline named %q (want \"<measure> <address>\")", name)
		}
		if measure == "fanin" {
			s.dsts.get(a, 0).fanin = b
			continue
		}
		i := -1
		for j, m := range srcMeasures {
			if m == measure {
				i = j
			}
		}
		if i < 0 {
			return fmt.Errorf("detect: learned state has a baseline of unknown measure %q", measure)
		}
		*srcBaselines(s.srcs.get(a, 0))[i] = b
	}
	return s.restoreBeacons(st.Beacons)
}
