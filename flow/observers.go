package flow

// Observers returns an Observer that hands every call to each of obs in
// turn, in the order given, so several consumers (detection, the report)
// can watch the same intervals. Nil entries are skipped; with none left it
// returns nil (no Observer: the aggregator skips the per-interval sums),
// and with one it returns that one unwrapped.
//
// Each Observer's own contract holds: ObservePairs of different shards
// still run concurrently, so every Observer given must allow that, and
// what they are handed is valid only during the call.
func Observers(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

type multiObserver []Observer

func (m multiObserver) ObservePairs(shard int, iv Interval, pairs *PairView) {
	for _, o := range m {
		o.ObservePairs(shard, iv, pairs)
	}
}

func (m multiObserver) ObserveInterval(iv Interval, agg *Aggregates) {
	for _, o := range m {
		o.ObserveInterval(iv, agg)
	}
}
