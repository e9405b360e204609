package flow

import (
	"fmt"
	"net/netip"
	"strings"
)

// Filter keeps or drops packets by whether their addresses fall in a set of
// CIDR blocks (-filter_ip_CIDR, -filter_bool, -filter_src, -filter_dst).
type Filter struct {
	prefixes []netip.Prefix
	// Allow keeps only matching packets; false drops matching packets.
	allow bool
	src   bool
	dst   bool
}

// ParseFilter builds a filter from a comma-separated list of CIDR blocks.
// An empty list returns nil: no filtering. When neither src nor dst is set,
// a packet matches if either of its addresses is in a block.
func ParseFilter(cidrs string, allow, src, dst bool) (*Filter, error) {
	var prefixes []netip.Prefix
	for _, s := range strings.Split(cidrs, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			// A bare address means that one host.
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("-filter_ip_CIDR: %q is not a CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32) or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, p.Masked())
	}
	if len(prefixes) == 0 {
		if src || dst {
			return nil, fmt.Errorf("-filter_src/-filter_dst need -filter_ip_CIDR")
		}
		return nil, nil
	}
	if !src && !dst {
		src, dst = true, true
	}
	return &Filter{prefixes: prefixes, allow: allow, src: src, dst: dst}, nil
}

func (f *Filter) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range f.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Keep reports whether a packet from src to dst is accounted.
func (f *Filter) Keep(src, dst netip.Addr) bool {
	if f == nil {
		return true
	}
	match := (f.src && f.contains(src)) || (f.dst && f.contains(dst))
	return match == f.allow
}

// String describes the filter for logs.
func (f *Filter) String() string {
	if f == nil {
		return "none"
	}
	verb := "keep"
	if !f.allow {
		verb = "drop"
	}
	var which string
	switch {
	case f.src && f.dst:
		which = "src or dst"
	case f.src:
		which = "src"
	default:
		which = "dst"
	}
	ps := make([]string, len(f.prefixes))
	for i, p := range f.prefixes {
		ps[i] = p.String()
	}
	return fmt.Sprintf("%s packets whose %s is in %s", verb, which, strings.Join(ps, ","))
}
