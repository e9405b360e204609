package flow

import (
	"fmt"
	"net/netip"
	"strings"
)

// DefaultLocalNets returns the networks counted as local when none are
// configured: the private (RFC 1918), shared (RFC 6598), link-local,
// unique-local and loopback ranges. A live capture adds the interface's own
// addresses.
func DefaultLocalNets() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("fc00::/7"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("::1/128"),
	}
}

// ParseLocalNets reads a comma-separated list of CIDR blocks or addresses
// (-local_nets). An empty list returns nil, which Validate turns into
// DefaultLocalNets.
func ParseLocalNets(s string) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("-local_nets: %q is not a CIDR block (e.g. 10.0.0.0/8, fd00::/8) or an address: %w", f, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		nets = append(nets, p.Masked())
	}
	return nets, nil
}

// isLocal reports whether a is in one of nets. IPv4-mapped IPv6 addresses
// count as the IPv4 address they carry.
func isLocal(nets []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
