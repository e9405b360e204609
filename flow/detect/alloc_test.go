package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/flow"
)

// TestScoringDoesNotAllocate: once its buffers have grown, judging an
// interval of ordinary traffic (no hit) allocates nothing, per pair or
// per address.
func TestScoringDoesNotAllocate(t *testing.T) {
	emitted := 0
	st, err := New(testConfig(1), flow.DefaultLocalNets(), func(as []*alert.Alert) { emitted += len(as) })
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	view := pairSlice(make([]flow.PairStat, n))
	agg := flow.Aggregates{Sources: make([]flow.SourceStat, n), Dests: make([]flow.DestStat, n)}
	for i := range n {
		src, dst := ip(fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250)), ip(fmt.Sprintf("198.51.%d.%d", i/250, 1+i%250))
		view[i] = flow.PairStat{Src: src, Dst: dst, Bytes: 5000 + uint64(i%7)*100, Packets: 10, Slot: int32(i)}
		agg.Sources[i] = flow.SourceStat{Addr: src, Bytes: view[i].Bytes, Packets: 10, Dsts: 1}
		agg.Dests[i] = flow.DestStat{Addr: dst, Bytes: view[i].Bytes, Packets: 10, Srcs: 1}
	}
	idx := int64(1_000_000)
	step := func() {
		iv := flow.Interval{Index: idx, Start: time.Unix(0, idx*int64(testInterval)).UTC(), Length: testInterval}
		st.observePairs(st.sides[0], iv, &view)
		st.ObserveInterval(iv, &agg)
		idx++
	}
	for range 20 { // learn, and grow every buffer
		step()
	}
	if allocs := testing.AllocsPerRun(20, step); allocs > 0 {
		t.Errorf("%.1f allocations per interval of %d quiet pairs and addresses", allocs, n)
	}
	if emitted != 0 {
		t.Errorf("%d alerts on steady traffic", emitted)
	}
}

// pairSlice is a pairSource over a slice; its pairs have no series.
type pairSlice []flow.PairStat

func (p pairSlice) Len() int                        { return len(p) }
func (p pairSlice) Pair(i int) flow.PairStat        { return p[i] }
func (p pairSlice) Series(int, []float64) []float64 { return nil }

// TestBeaconFollowingDoesNotAllocate: pairs that check in every other
// interval are followed and scored by the beacon detector (they are
// regular, but checking in since their hosts were first seen, so none
// alerts) without allocating once the table has grown.
func TestBeaconFollowingDoesNotAllocate(t *testing.T) {
	emitted := 0
	st, err := New(testConfig(1), flow.DefaultLocalNets(), func(as []*alert.Alert) { emitted += len(as) })
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	all := make([]flow.PairStat, n)
	for i := range n {
		src, dst := ip(fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250)), ip(fmt.Sprintf("198.51.%d.%d", i/250, 1+i%250))
		all[i] = flow.PairStat{Src: src, Dst: dst, Bytes: 400, Packets: 2, Slot: int32(i), SrcLocal: true}
	}
	views := [2]pairSlice{}
	aggs := [2]flow.Aggregates{}
	for i, p := range all {
		views[i%2] = append(views[i%2], p)
		aggs[i%2].Sources = append(aggs[i%2].Sources, flow.SourceStat{Addr: p.Src, Bytes: p.Bytes, Packets: 2, Dsts: 1})
	}
	idx := int64(1_000_000)
	step := func() {
		// Each pair is active every other interval: a check-in each time.
		iv := flow.Interval{Index: idx, Start: time.Unix(0, idx*int64(testInterval)).UTC(), Length: testInterval}
		st.observePairs(st.sides[0], iv, &views[idx%2])
		st.ObserveInterval(iv, &aggs[idx%2])
		idx++
	}
	for range 40 { // 20 check-ins per pair: past -beacon_min_events
		step()
	}
	if st.beacon.table.len() != n {
		t.Fatalf("%d pairs followed, want %d", st.beacon.table.len(), n)
	}
	if allocs := testing.AllocsPerRun(20, step); allocs > 0 {
		t.Errorf("%.1f allocations per interval of %d check-ins", allocs, n/2)
	}
	if emitted != 0 {
		t.Errorf("%d alerts on check-ins running since their hosts were first seen", emitted)
	}
}
