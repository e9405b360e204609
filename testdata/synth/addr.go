package synth

import (
	"fmt"
	"net/netip"
)

// The address plan. Everything is private (RFC 1918, RFC 4193) or reserved
// for documentation (RFC 5737, RFC 3849), so generated files name no real host.
//
//	internal hosts   10.0.1.1 ... (10.0.0.0/16), fd00::1:1 ... (fd00::/64)
//	internal servers 10.0.0.0/24, fd00::/112 (resolvers, backup, database)
//	external         198.51.100.0/24, 192.0.2.0/24, 203.0.113.0/24,
//	                 "cloud" 172.16.0.0/12, 2001:db8::/32
//	exfil receiver   203.0.113.77, never used by background traffic

// MaxHosts is the number of internal client addresses the plan holds:
// 10.0.1.1 to 10.0.255.254, skipping .0 and .255.
const MaxHosts = 255 * 254

// addr is an IPv4 or IPv6 address in a fixed 16-byte form (IPv4 in the
// first four bytes) so that flows are plain values without pointers.
type addr struct {
	b  [16]byte
	v6 bool
}

func v4(a, b, c, d byte) addr { return addr{b: [16]byte{a, b, c, d}} }

func fromNetip(a netip.Addr) addr {
	if a.Is4() {
		b := a.As4()
		return v4(b[0], b[1], b[2], b[3])
	}
	return addr{b: a.As16(), v6: true}
}

func (a addr) netip() netip.Addr {
	if a.v6 {
		return netip.AddrFrom16(a.b)
	}
	return netip.AddrFrom4([4]byte(a.b[:4]))
}

func (a addr) String() string { return a.netip().String() }

// host is internal client i: 10.0.(1+i/254).(1+i%254) and its IPv6 twin
// fd00::X:Y with the same X and Y, so host 22 is 10.0.1.23 and fd00::1:17.
func host(i int, v6 bool) addr {
	x, y := byte(1+i/254), byte(1+i%254)
	if v6 {
		return addr{b: [16]byte{0: 0xfd, 13: x, 15: y}, v6: true}
	}
	return v4(10, 0, x, y)
}

// internalServer is a host of the server subnet 10.0.0.n or fd00::n.
func internalServer(n byte, v6 bool) addr {
	if v6 {
		return addr{b: [16]byte{0: 0xfd, 15: n}, v6: true}
	}
	return v4(10, 0, 0, n)
}

// maxExternalV4 is how many distinct external IPv4 addresses external can make.
const maxExternalV4 = 3*254 - 1 + (1<<20 - 2)

// external is external server j. IPv4: the three documentation /24s first
// (203.0.113.77 skipped), then the private 172.16.0.0/12 as "cloud"; IPv6:
// 2001:db8::/32 with j in the low 32 bits.
func external(j int, v6 bool) addr {
	if v6 {
		k := j + 1
		return addr{b: [16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(k >> 24), 13: byte(k >> 16), 14: byte(k >> 8), 15: byte(k)}, v6: true}
	}
	switch {
	case j < 254:
		return v4(198, 51, 100, byte(1+j))
	case j < 2*254:
		return v4(192, 0, 2, byte(1+j-254))
	case j < 3*254-1:
		k := j - 2*254 + 1
		if k >= 77 {
			k++
		}
		return v4(203, 0, 113, byte(k))
	}
	k := j - (3*254 - 1) + 1 // 172.16.0.1 onwards; .0.0 never used
	return v4(172, byte(16+(k>>16)), byte(k>>8), byte(k))
}

// mac is the Ethernet address of an internal host (derived from its address,
// the same for its IPv4 and IPv6 forms); external hosts sit behind the gateway.
func mac(a addr, internal bool) [6]byte {
	if !internal {
		return [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	}
	if a.v6 {
		return [6]byte{0x02, 0x00, 0x5e, 0x10, a.b[13], a.b[15]}
	}
	return [6]byte{0x02, 0x00, 0x5e, 0x10, a.b[2], a.b[3]}
}

// pairKey formats a directional pair the way the daemon keys flows.
func pairKey(src, dst addr) string { return fmt.Sprintf("%s->%s", src, dst) }
