package flow

import "encoding/binary"

// Observer receives every closed interval's measurements: each shard's
// pairs, then the keys beyond the pair (sources, destinations, local hosts)
// summed over all shards. Detectors plug in here.
//
// Everything handed to an Observer is owned by flow and valid only during
// the call: copy what must outlive it. Calls for one interval come after
// every packet of that interval was accounted.
type Observer interface {
	// ObservePairs is called on shard goroutines, concurrently for
	// different shards (never for the same shard), once per shard and
	// interval, with that shard's pairs active in the interval. shard is
	// in [0, Config.Shards): per-pair side tables are indexed by shard and
	// PairStat.Slot, so no shard waits for another.
	ObservePairs(shard int, iv Interval, pairs *PairView)
	// ObserveInterval is called once per interval, on one goroutine, in
	// interval order, after every shard's ObservePairs for it returned.
	ObserveInterval(iv Interval, agg *Aggregates)
}

// PairView is one shard's pairs active in a closed interval, in the order
// they first sent in it. It reads them from the shard's table on demand,
// so handing over a million pairs costs 8 bytes each, not a copy.
type PairView struct {
	slots []int32
	revs  []int32 // reverse pair of slots[i], found when it was folded
	s     *shard
}

// Len returns the number of pairs.
func (v *PairView) Len() int { return len(v.slots) }

// Slots bounds PairStat.Slot on this shard: every slot is in [0, Slots()),
// so a side table indexed by slot can reserve its room once (-max_flows
// split over the shards).
func (v *PairView) Slots() int { return v.s.tab.maxFlows }

// Pair returns pair i's interval, i in [0, Len()).
func (v *PairView) Pair(i int) PairStat {
	slot := v.slots[i]
	f := &v.s.tab.flows[slot]
	p := pairStat(f, v.s.flowAt(v.revs[i]))
	p.Slot = slot
	p.New = f.length == 1 // only this interval in its series
	return p
}

// Bytes returns pair i's bytes in the interval, without building its
// PairStat: a reader looking for the heaviest pairs skips the rest cheaply.
func (v *PairView) Bytes(i int) uint64 { return v.s.tab.flows[v.slots[i]].bytes }

// Packets returns pair i's packets in the interval, without building its
// PairStat.
func (v *PairView) Packets(i int) uint64 { return uint64(v.s.tab.flows[v.slots[i]].packets) }

// Addrs16 returns pair i's source and destination in 16-byte form (IPv4
// as IPv4-mapped IPv6, as netip.Addr.As16 gives them), without building
// its PairStat.
func (v *PairView) Addrs16(i int) (src, dst [16]byte) {
	k := &v.s.tab.flows[v.slots[i]].key
	binary.BigEndian.PutUint64(src[0:8], k.src0)
	binary.BigEndian.PutUint64(src[8:16], k.src1)
	binary.BigEndian.PutUint64(dst[0:8], k.dst0)
	binary.BigEndian.PutUint64(dst[8:16], k.dst1)
	return src, dst
}

// Series copies pair i's series of bytes per interval, oldest first and
// this interval last (idle intervals count as 0), into dst[:0] and returns
// it. It allocates only when dst is too short (Config.SeriesCap values).
func (v *PairView) Series(i int, dst []float64) []float64 {
	return v.s.tab.seriesInto(v.slots[i], dst)
}

// Aggregates are one interval's keys beyond the pair, each slice sorted by
// address. A key that found its accumulator full is left out and counted
// in the Dropped fields (and in Stats).
type Aggregates struct {
	// Traffic sums every pair of the interval.
	Traffic Traffic
	Sources []SourceStat
	Dests   []DestStat
	// Hosts are the local hosts (Config.LocalNets) that sent or received.
	Hosts []HostStat

	SourcesDropped uint64
	DestsDropped   uint64
	HostsDropped   uint64
}
