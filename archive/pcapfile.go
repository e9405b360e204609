package archive

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/google/gopacket/layers"
)

// The classic pcap format is written by hand rather than with pcapgo:
// records are encoded straight into the batch arena on the capture
// goroutine and written to the spool as they are, and the spool is read
// back record by record at offsets its index gives.
const (
	pcapHeaderLen       = 24
	pcapRecordHeaderLen = 16
	magicMicro          = 0xa1b2c3d4
	magicNano           = 0xa1b23c4d
)

// fileHeader describes what every file's global header says.
type fileHeader struct {
	snaplen  uint32
	linkType int
	nano     bool
}

// appendHeader appends a pcap global header (little endian, version 2.4).
func (h fileHeader) appendHeader(b []byte) []byte {
	magic := uint32(magicMicro)
	if h.nano {
		magic = magicNano
	}
	b = binary.LittleEndian.AppendUint32(b, magic)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0) // thiszone: timestamps are UTC
	b = binary.LittleEndian.AppendUint32(b, 0) // sigfigs
	b = binary.LittleEndian.AppendUint32(b, h.snaplen)
	b = binary.LittleEndian.AppendUint32(b, uint32(fileLinkType(h.linkType)))
	return b
}

// fileLinkType turns the DLT libpcap reports for a live or file source into
// the LINKTYPE a file must carry. They differ for raw IP: DLT_RAW is 12 on
// most systems while files say LINKTYPE_RAW, 101.
func fileLinkType(lt int) int {
	if lt == 12 {
		return int(layers.LinkTypeRaw)
	}
	return lt
}

// appendRecord appends one packet record; ts is nanoseconds since the epoch.
func (h fileHeader) appendRecord(b []byte, ts int64, data []byte, origLen uint32) []byte {
	sec, frac := ts/1e9, ts%1e9
	if frac < 0 { // before 1970: keep the fraction positive
		sec, frac = sec-1, frac+1e9
	}
	if !h.nano {
		frac /= 1000
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(sec))
	b = binary.LittleEndian.AppendUint32(b, uint32(frac))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, origLen)
	return append(b, data...)
}

// recordLen is the bytes a packet of n captured bytes takes in a file.
func recordLen(n int) int64 { return int64(pcapRecordHeaderLen + n) }

// errNotPcap marks a file whose global header is not one we can read.
var errNotPcap = errors.New("not a pcap file")

// segHeader is what a pcap file's global header says, as needed to read
// its records.
type segHeader struct {
	order    binary.ByteOrder
	nano     bool
	snaplen  int
	linkType int
}

// readSegHeader reads and checks a pcap global header.
func readSegHeader(r io.Reader) (segHeader, error) {
	var hdr [pcapHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return segHeader{}, errNotPcap
	}
	return parseSegHeader(hdr[:])
}

func parseSegHeader(hdr []byte) (segHeader, error) {
	var h segHeader
	for _, o := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		switch o.Uint32(hdr) {
		case magicMicro:
			h.order = o
		case magicNano:
			h.order, h.nano = o, true
		}
		if h.order != nil {
			break
		}
	}
	if h.order == nil {
		return h, errNotPcap
	}
	h.snaplen = int(h.order.Uint32(hdr[16:]))
	h.linkType = int(h.order.Uint32(hdr[20:]) & 0x0fffffff)
	return h, nil
}

// parseRecordHeader decodes a record header: time in ns, captured and
// original length.
func (h segHeader) parseRecordHeader(b []byte) (ts int64, incl, orig int) {
	sec := int64(h.order.Uint32(b))
	frac := int64(h.order.Uint32(b[4:]))
	if !h.nano {
		frac *= 1000
	}
	return sec*1e9 + frac, int(h.order.Uint32(b[8:])), int(h.order.Uint32(b[12:]))
}

// readRecordHeader reads the next record header; ok is false at the end.
func (h segHeader) readRecordHeader(r io.Reader) (ts int64, incl, orig int, ok bool) {
	var b [pcapRecordHeaderLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, 0, 0, false
	}
	ts, incl, orig = h.parseRecordHeader(b[:])
	return ts, incl, orig, true
}

// fileHeader returns the header a file holding this file's records needs.
func (h segHeader) fileHeader() fileHeader {
	return fileHeader{snaplen: uint32(h.snaplen), linkType: h.linkType, nano: h.nano}
}
