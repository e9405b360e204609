package archive

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket/layers"
)

// The classic pcap format is written by hand rather than with pcapgo: a file
// reopened after its descriptor was closed must be appended to without a
// second header, and records are encoded straight into pooled buffers.
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

// errNotPcap marks a file whose global header is not one we can repair.
var errNotPcap = errors.New("not a pcap file")

// repairFile truncates a pcap file after its last whole record, which is all
// a crash can damage (records are written whole, in order). It returns the
// number of whole records and the bytes cut.
func repairFile(path string) (records int, cut int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, 64<<10)
	var hdr [pcapHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, errNotPcap)
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(hdr[:]) == magicMicro || binary.LittleEndian.Uint32(hdr[:]) == magicNano:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[:]) == magicMicro || binary.BigEndian.Uint32(hdr[:]) == magicNano:
		order = binary.BigEndian
	default:
		return 0, 0, fmt.Errorf("%s: %w", path, errNotPcap)
	}
	limit := int64(order.Uint32(hdr[16:]))
	if limit < maxSnaplen {
		limit = maxSnaplen
	}
	good := int64(pcapHeaderLen)
	var rh [pcapRecordHeaderLen]byte
	for {
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			break
		}
		incl := int64(order.Uint32(rh[8:]))
		if incl > limit || good+recordLen(int(incl)) > size {
			break
		}
		if _, err := r.Discard(int(incl)); err != nil {
			break
		}
		good += recordLen(int(incl))
		records++
	}
	if good < size {
		if err := f.Truncate(good); err != nil {
			return records, 0, err
		}
	}
	return records, size - good, nil
}
