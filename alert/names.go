package alert

import (
	"context"
	"strings"
	"sync"
	"time"
)

// AddrResolver finds names for an IP address; *net.Resolver satisfies it.
// Tests inject a fake so they need no network.
type AddrResolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// maxNames bounds the reverse DNS cache; when full it starts over, which
// is cheap and keeps memory fixed however many addresses alert.
const maxNames = 4096

// namer adds reverse DNS names to alerts, with a short timeout per lookup
// and a cache (including failures, so an address without a name costs one
// timeout, not one per alert).
type namer struct {
	r       AddrResolver
	timeout time.Duration

	mu    sync.Mutex
	cache map[string]string
}

func newNamer(r AddrResolver, timeout time.Duration) *namer {
	return &namer{r: r, timeout: timeout, cache: make(map[string]string)}
}

// fill sets a.SrcName and a.DstName, looking both up at once.
func (n *namer) fill(ctx context.Context, a *Alert) {
	var wg sync.WaitGroup
	var src, dst string
	wg.Add(2)
	go func() { defer wg.Done(); src = n.name(ctx, a.Src) }()
	go func() { defer wg.Done(); dst = n.name(ctx, a.Dst) }()
	wg.Wait()
	if src != "" {
		a.SrcName = src
	}
	if dst != "" {
		a.DstName = dst
	}
}

// name returns the first name of addr without the trailing dot, or "".
func (n *namer) name(ctx context.Context, addr string) string {
	if addr == "" {
		return ""
	}
	n.mu.Lock()
	v, ok := n.cache[addr]
	n.mu.Unlock()
	if ok {
		return v
	}
	lctx, cancel := context.WithTimeout(ctx, n.timeout)
	names, err := n.r.LookupAddr(lctx, addr)
	cancel()
	if err == nil && len(names) > 0 {
		v = strings.TrimSuffix(names[0], ".")
	}
	if ctx.Err() != nil {
		// Shutting down: not the address's fault, do not remember it.
		return v
	}
	n.mu.Lock()
	if len(n.cache) >= maxNames {
		clear(n.cache)
	}
	n.cache[addr] = v
	n.mu.Unlock()
	return v
}
