package capture

import (
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// A destination-unreachable reply is how a UDP probe is refused; flow tells
// it apart from other ICMP by the type and code the decoder keeps.
func TestDecodeKeepsICMPTypeAndCode(t *testing.T) {
	unreach4 := serialize(t,
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP("192.0.2.9"), DstIP: net.ParseIP("192.0.2.1")},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, gopacket.Payload(make([]byte, 28)))
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.ParseIP("2001:db8::9"), DstIP: net.ParseIP("2001:db8::1")}
	icmp6 := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}
	if err := icmp6.SetNetworkLayerForChecksum(ip6); err != nil {
		t.Fatal(err)
	}
	unreach6 := serialize(t, ip6, icmp6, gopacket.Payload(make([]byte, 48)))
	for _, tc := range []struct {
		name      string
		data      []byte
		proto     uint8
		typ, code uint8
	}{
		{"icmpv4 port unreachable", unreach4, 1, 3, 3},
		{"icmpv6 port unreachable", unreach6, 58, 1, 4},
	} {
		d := NewDecoder(int(layers.LinkTypeRaw))
		var r Record
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(tc.data), Length: len(tc.data)}
		if !d.Decode(ci, tc.data, &r) {
			t.Fatalf("%s: not decoded", tc.name)
		}
		if r.Proto != tc.proto || r.ICMPType != tc.typ || r.ICMPCode != tc.code {
			t.Errorf("%s: proto %d type %d code %d; want %d %d %d", tc.name, r.Proto, r.ICMPType, r.ICMPCode, tc.proto, tc.typ, tc.code)
		}
	}
}
