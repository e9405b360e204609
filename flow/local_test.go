package flow

import (
	"net/netip"
	"testing"
)

// The default local networks are the ones net/netip calls private,
// loopback or link-local (plus RFC 6598's shared range), IPv4-mapped
// addresses included.
func TestDefaultLocalNetsMatchNetip(t *testing.T) {
	words := makeWordPrefixes(DefaultLocalNets())
	local := func(a netip.Addr) bool {
		k := makeKey(a, a) // the key holds IPv4 as IPv4-mapped IPv6
		return localIn(words, k.src0, k.src1)
	}
	for _, tc := range []struct {
		addr  string
		local bool
	}{
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"172.31.255.255", true}, {"172.32.0.1", false},
		{"192.168.1.1", true}, {"192.169.1.1", false}, {"127.0.0.1", true}, {"169.254.1.1", true},
		{"203.0.113.9", false}, {"8.8.8.8", false}, {"fd00::1", true}, {"fc00::1", true}, {"fe80::1", true},
		{"::1", true}, {"2001:db8::1", false}, {"::ffff:10.0.0.1", true},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := local(a); got != tc.local {
			t.Errorf("%s: local %v, want %v", tc.addr, got, tc.local)
		}
		if want := a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast(); want != tc.local {
			t.Errorf("%s: the table disagrees with net/netip", tc.addr)
		}
	}
}
