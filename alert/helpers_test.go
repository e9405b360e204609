package alert_test

import (
	"context"
	"sort"
	"sync"

	"github.com/wherefore/wherefore/alert"
)

// recorder is a Notifier that remembers what it was sent; fail, when set,
// decides the answer per call.
type recorder struct {
	name       string
	mu         sync.Mutex
	got        []*alert.Alert
	fail       func(n int, a *alert.Alert) (bool, error)
	noResolved bool
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Notify(_ context.Context, a *alert.Alert) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if retry, err := r.fail(len(r.got), a); err != nil {
			return retry, err
		}
	}
	r.got = append(r.got, a)
	return false, nil
}

func (r *recorder) SendResolved() bool { return !r.noResolved }

func (r *recorder) Got() []*alert.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*alert.Alert(nil), r.got...)
}

// keys lists the keys of alerts (summaries as "summary:N"), resolved ones
// suffixed with "/resolved".
func keys(as []*alert.Alert) []string {
	var out []string
	for _, a := range as {
		k := a.Key
		switch {
		case a.IsSummary():
			k = "summary"
		case a.Resolved:
			k += "/resolved"
		}
		out = append(out, k)
	}
	return out
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
