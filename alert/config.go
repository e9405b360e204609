package alert

import (
	"strings"
)

// SplitList splits repeatable, comma-separated flag values ("-webhook_url
// a,b -webhook_url c") into their non-empty, trimmed items.
func SplitList(values ...string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// dedupKey identifies one flow on one host at a destination that merges
// repeats (PagerDuty dedup_key, OpsGenie alias): "wherefore:web-3:10.0.0.5->203.0.113.9".
// The host is part of it so that one host's "back to normal" does not close
// another host's incident for the same flow.
func DedupKey(a *Alert) string {
	k := a.Key
	if a.IsSummary() {
		k = "rate-limit"
	}
	return "wherefore:" + a.Host + ":" + k
}

// truncate cuts s to at most n runes, marking the cut with "…".
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
