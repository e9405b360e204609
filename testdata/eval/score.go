package main

import (
	"slices"
	"sort"
	"time"

	"github.com/wherefore/wherefore/testdata/synth"
)

// scenarioFile is a generated capture of the suite and what is known about it.
type scenarioFile struct {
	Name      string         `json:"name"`
	Path      string         `json:"-"`
	Set       string         `json:"set"`
	Clean     bool           `json:"clean"`
	Interval  time.Duration  `json:"interval"`
	FlowHours float64        `json:"flow_hours"`
	Packets   int64          `json:"packets"`
	Labels    []synth.Attack `json:"labels,omitempty"`
}

// match is the first alert that names a label's attacker or victim within
// its window, and how many intervals after the start it came.
type match struct {
	Found bool   `json:"found"`
	Delay int    `json:"delay_intervals"`
	Alert *alert `json:"alert,omitempty"`
}

// matchLabel finds the earliest alert whose interval overlaps [Start, End)
// and that names the label's attacker or victim.
func matchLabel(l synth.Attack, interval time.Duration, alerts []alert) match {
	var best *alert
	for i := range alerts {
		a := &alerts[i]
		end := a.IntervalStart.Add(interval)
		if !end.After(l.Start) || !a.IntervalStart.Before(l.End) || !a.names(l.Attacker, l.Victim) {
			continue
		}
		if best == nil || a.IntervalStart.Before(best.IntervalStart) {
			best = a
		}
	}
	if best == nil {
		return match{}
	}
	d := int(best.IntervalStart.Sub(l.Start) / interval)
	return match{Found: true, Delay: max(d, 0), Alert: best}
}

// classScore is one configuration's result on one attack class.
type classScore struct {
	Class   string  `json:"class"`
	Planted int     `json:"planted"`
	Caught  int     `json:"caught"`
	Within2 int     `json:"caught_within_2_intervals"`
	Delays  []int   `json:"delays"`
	Median  float64 `json:"median_delay_intervals"` // -1 when nothing was caught
}

// suiteScore is one configuration's result on the whole suite.
type suiteScore struct {
	Classes []classScore `json:"classes"`
	// Benign events (must not alert) and how many did.
	Benign        int `json:"benign_events"`
	BenignAlerted int `json:"benign_alerted"`
	// False alerts on the clean backgrounds, per set.
	HeldOutAlerts    int     `json:"heldout_false_alerts"`
	HeldOutFlowHours float64 `json:"heldout_flow_hours"`
	HeldOutRate      float64 `json:"heldout_false_alerts_per_1000_flow_hours"`
	TuningAlerts     int     `json:"tuning_false_alerts"`
	TuningFlowHours  float64 `json:"tuning_flow_hours"`
	// Alerts in the attack captures that match no label.
	Unmatched int `json:"unmatched_alerts_in_attack_captures"`
}

// scoreSuite scores one configuration's alerts, alerts[i] being those of files[i].
func scoreSuite(files []scenarioFile, alerts [][]alert) suiteScore {
	var s suiteScore
	byClass := map[string]*classScore{}
	for _, c := range synth.AttackClasses() {
		byClass[c] = &classScore{Class: c}
	}
	for i, f := range files {
		if f.Clean {
			if f.Set == synth.SetHeldOut {
				s.HeldOutAlerts += len(alerts[i])
				s.HeldOutFlowHours += f.FlowHours
			} else {
				s.TuningAlerts += len(alerts[i])
				s.TuningFlowHours += f.FlowHours
			}
			continue
		}
		used := make([]bool, len(alerts[i]))
		for _, l := range f.Labels {
			// Every alert that names the label in its window is its own.
			for j, a := range alerts[i] {
				if a.IntervalStart.Add(f.Interval).After(l.Start) && a.IntervalStart.Before(l.End) && a.names(l.Attacker, l.Victim) {
					used[j] = true
				}
			}
			m := matchLabel(l, f.Interval, alerts[i])
			if l.Benign {
				s.Benign++
				if m.Found {
					s.BenignAlerted++
				}
				continue
			}
			cs := byClass[l.Class]
			if cs == nil {
				cs = &classScore{Class: l.Class}
				byClass[l.Class] = cs
			}
			cs.Planted++
			if m.Found {
				cs.Caught++
				cs.Delays = append(cs.Delays, m.Delay)
				if m.Delay <= 2 {
					cs.Within2++
				}
			}
		}
		for _, u := range used {
			if !u {
				s.Unmatched++
			}
		}
	}
	if s.HeldOutFlowHours > 0 {
		s.HeldOutRate = float64(s.HeldOutAlerts) / s.HeldOutFlowHours * 1000
	}
	for _, c := range synth.AttackClasses() {
		cs := byClass[c]
		if cs.Planted == 0 {
			continue
		}
		cs.Median = median(cs.Delays)
		s.Classes = append(s.Classes, *cs)
	}
	return s
}

func median(v []int) float64 {
	if len(v) == 0 {
		return -1
	}
	v = slices.Clone(v)
	sort.Ints(v)
	n := len(v)
	if n%2 == 1 {
		return float64(v[n/2])
	}
	return float64(v[n/2-1]+v[n/2]) / 2
}

// publicScore is one configuration's result on one public capture.
type publicScore struct {
	Capture string `json:"capture"`
	Attack  bool   `json:"attack"`
	Alerts  int    `json:"alerts"`
	// Named: alerts naming an address the README names (all alerts when
	// it names none).
	Named int `json:"named"`
	// Keys are the alerted keys, most alerted first, with their counts.
	Keys  []keyCount `json:"keys,omitempty"`
	Error string     `json:"error,omitempty"`
}

type keyCount struct {
	Key      string `json:"key"`
	Count    int    `json:"count"`
	Detector string `json:"detector,omitempty"`
	Kind     string `json:"kind,omitempty"`
}

func scorePublic(c publicCapture, alerts []alert, err error) publicScore {
	ps := publicScore{Capture: c.Name, Attack: c.Attack, Alerts: len(alerts)}
	if err != nil {
		ps.Error = err.Error()
	}
	counts := map[string]*keyCount{}
	for _, a := range alerts {
		if len(c.Addrs) == 0 || a.names(c.Addrs...) {
			ps.Named++
		}
		k := counts[a.Key+"\x00"+a.Kind]
		if k == nil {
			k = &keyCount{Key: a.Key, Detector: a.Detector, Kind: a.Kind}
			counts[a.Key+"\x00"+a.Kind] = k
			ps.Keys = append(ps.Keys, keyCount{})
		}
		k.Count++
	}
	ps.Keys = ps.Keys[:0]
	for _, k := range counts {
		ps.Keys = append(ps.Keys, *k)
	}
	slices.SortFunc(ps.Keys, func(a, b keyCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return ps
}
