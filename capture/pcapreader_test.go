package capture

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// rawRecord is one record as written in a classic pcap file: the two
// length fields in file order.
type rawRecord struct {
	first, second uint32 // caplen, len in versions from 2.4; the other way before 2.3
	data          int    // bytes of packet data actually written
}

// writeRawPcap writes a classic pcap file byte by byte, so that headers no
// ordinary writer produces can be made.
func writeRawPcap(t *testing.T, order binary.AppendByteOrder, major, minor uint16, snaplen, linkType uint32, recs []rawRecord) string {
	t.Helper()
	b := order.AppendUint32(nil, magicMicro)
	b = order.AppendUint16(b, major)
	b = order.AppendUint16(b, minor)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, snaplen)
	b = order.AppendUint32(b, linkType)
	for i, r := range recs {
		b = order.AppendUint32(b, uint32(1_700_000_000+i))
		b = order.AppendUint32(b, uint32(i*1000))
		b = order.AppendUint32(b, r.first)
		b = order.AppendUint32(b, r.second)
		for j := range r.data {
			b = append(b, byte(i+j))
		}
	}
	path := filepath.Join(t.TempDir(), "made.pcap")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGoReaderFollowsLibpcapRules makes files that exercise each of
// libpcap's reading rules and checks that both readers return the same
// packets and stop, or refuse, the same way.
func TestGoReaderFollowsLibpcapRules(t *testing.T) {
	le, be := binary.AppendByteOrder(binary.LittleEndian), binary.AppendByteOrder(binary.BigEndian)
	const eth, dbus = 1, 231
	for _, c := range []struct {
		name         string
		order        binary.AppendByteOrder
		major, minor uint16
		snaplen, lt  uint32
		recs         []rawRecord
		packets      uint64 // packets both must return
		kind         string // how both must end: none, format, truncated, corrupt
	}{
		{"version 2.4", le, 2, 4, 65535, eth, []rawRecord{{60, 60, 60}, {100, 1500, 100}}, 2, "none"},
		{"big-endian", be, 2, 4, 65535, eth, []rawRecord{{60, 60, 60}, {100, 1500, 100}}, 2, "none"},
		{"version 2.2 lengths swapped", le, 2, 2, 65535, eth, []rawRecord{{1500, 100, 100}, {60, 60, 60}}, 2, "none"},
		{"version 2.3 maybe swapped", le, 2, 3, 65535, eth, []rawRecord{{1500, 100, 100}, {100, 1500, 100}}, 2, "none"},
		{"DG/UX 543.0", le, 543, 0, 65535, eth, []rawRecord{{1500, 100, 100}}, 1, "none"},
		{"record past snaplen is cut", le, 2, 4, 100, eth, []rawRecord{{300, 300, 300}, {60, 60, 60}}, 2, "none"},
		{"snaplen 0 means the largest", le, 2, 4, 0, eth, []rawRecord{{9000, 9000, 9000}}, 1, "none"},
		{"D-Bus frame larger than the read buffer", le, 2, 4, 0, dbus, []rawRecord{{60, 60, 60}, {5 << 20, 5 << 20, 5 << 20}}, 2, "none"},
		{"captured length past the maximum", le, 2, 4, 65535, eth, []rawRecord{{60, 60, 60}, {300000, 300000, 10}}, 1, "corrupt"},
		{"record cut short", le, 2, 4, 65535, eth, []rawRecord{{60, 60, 60}, {100, 100, 40}}, 1, "truncated"},
		{"version 2.5", le, 2, 5, 65535, eth, []rawRecord{{60, 60, 60}}, 0, "format"},
		{"version 1.0", le, 1, 0, 65535, eth, []rawRecord{{60, 60, 60}}, 0, "format"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeRawPcap(t, c.order, c.major, c.minor, c.snaplen, c.lt, c.recs)
			lib, gor := readRaw(path, "libpcap"), readRaw(path, "auto")
			for _, r := range []struct {
				reader string
				res    readerResult
			}{{"libpcap", lib}, {"auto", gor}} {
				err := r.res.err
				if r.res.openErr != nil {
					err = r.res.openErr
				}
				if r.res.packets != c.packets || errorKind(err) != c.kind {
					t.Errorf("%s: %d packets, ended with %s (%v); want %d packets, %s", r.reader, r.res.packets, errorKind(err), err, c.packets, c.kind)
				}
			}
			if lib.digest != gor.digest || lib.snaplen != gor.snaplen || (c.packets > 0 && lib.linkType != gor.linkType) {
				t.Errorf("readers differ: Go digest %x snaplen %d link type %d; libpcap digest %x snaplen %d link type %d",
					gor.digest, gor.snaplen, gor.linkType, lib.digest, lib.snaplen, lib.linkType)
			}
			var lb, gb *BrokenError
			if errors.As(lib.err, &lb) != errors.As(gor.err, &gb) || (lb != nil && lb.Packets != gb.Packets) {
				t.Errorf("readers broke differently: libpcap %v; Go %v", lib.err, gor.err)
			}
		})
	}
}
