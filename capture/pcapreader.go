package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// PcapReader reads a classic pcap stream in Go with large sequential reads
// (4 MiB per read(2)), slicing packets out of its own buffer: no cgo call
// and no copy per packet. Measured here it reads a cached capture several
// times faster than libpcap and faster than memory-mapping the file, whose
// page faults cost more than the copy. It follows libpcap's reading rules
// (versions, swapped length fields, snapshot lengths), so both readers
// return the same packets and break at the same record. pcapng goes
// through libpcap (FileSource).
type PcapReader struct {
	name   string
	r      io.Reader
	closer io.Closer
	stdin  *os.File // set when reading standard input
	// poll bounds each read of a plain pipe, so a quiet pipe returns
	// ErrTimeout and the packets already read are handed on instead of
	// waiting in a batch for the next one.
	poll   bool
	buf    []byte
	lo, hi int
	eof    bool
	// readErr is the error that ended the stream early (a gzip stream
	// without its trailer); the records before it are still read.
	readErr  error
	offset   int64 // stream offset of buf[lo]
	order    binary.ByteOrder
	nano     bool
	lengths  lengthOrder
	snaplen  int
	maxLen   int // the largest captured length libpcap accepts for the link type
	linkType int
	packets  uint64
	lastTS   time.Time
	filter   *bpf.VM
	cfilter  *pcap.BPF // libpcap's matcher, for programs Go's BPF machine rejects
}

// lengthOrder says where a record header keeps the captured length:
// versions before 2.3 swapped it with the original length, and some 2.3
// writers did and others did not.
type lengthOrder uint8

const (
	lengthsInOrder lengthOrder = iota
	lengthsSwapped
	lengthsMaybeSwapped // 2.3: swapped when the first exceeds the second
)

// Magic numbers of classic pcap files, as read little-endian.
const (
	magicMicro        = 0xa1b2c3d4
	magicNano         = 0xa1b23c4d
	magicMicroSwapped = 0xd4c3b2a1
	magicNanoSwapped  = 0x4d3cb2a1
	pcapHeaderLen     = 24
	pcapRecordLen     = 16
	pcapBufferSize    = 4 << 20
	// pipePoll is how long a read of a quiet pipe waits before the reader
	// hands on what it has.
	pipePoll = 200 * time.Millisecond
	// maxRecordLen is libpcap's bound on one record's captured length for
	// most link types; a larger length means a corrupt file, not a huge
	// packet.
	maxRecordLen = 262144
	// linkTypeMask keeps the link type of a header's field; libpcap keeps
	// the upper bits for FCS information.
	linkTypeMask = 0x03ffffff
)

// maxCaptureLen is libpcap's max_snaplen_for_dlt: the link types whose
// frames can be larger than maxRecordLen say so.
func maxCaptureLen(linkType int) int {
	switch linkType {
	case 231: // D-Bus messages
		return 128 << 20
	case 279: // Elektrobit high-speed capture
		return 8 << 20
	case 249: // USBPcap
		return 1 << 20
	}
	return maxRecordLen
}

// pcapVersion checks a classic pcap header's version as libpcap does:
// 2.0 to 2.4 are read, and 543.0 (DG/UX tcpdump); the length fields of
// versions before 2.3 (and 543.0) are in the other order.
func pcapVersion(major, minor uint16) (lengthOrder, error) {
	switch {
	case major == 2 && minor < 3, major == 543 && minor == 0:
		return lengthsSwapped, nil
	case major == 2 && minor == 3:
		return lengthsMaybeSwapped, nil
	case major == 2 && minor == 4:
		return lengthsInOrder, nil
	case major < 2:
		return 0, fmt.Errorf("%w: pcap version %d.%d is archaic (2.0 to 2.4 are read)", ErrFormat, major, minor)
	}
	return 0, fmt.Errorf("%w: pcap version %d.%d is not supported (2.0 to 2.4 are read)", ErrFormat, major, minor)
}

// isClassicPcap reports whether head starts a classic pcap file, whatever
// its version (the reader refuses versions libpcap refuses, as it does).
func isClassicPcap(head []byte) bool {
	if len(head) < pcapHeaderLen {
		return false
	}
	switch binary.LittleEndian.Uint32(head[0:4]) {
	case magicMicro, magicNano, magicMicroSwapped, magicNanoSwapped:
		return true
	}
	return false
}

// goFilterable reports whether PcapReader can apply the BPF expression to
// the file whose header is head. Filters are compiled for a dead libpcap
// handle, which cannot know two things only the file tells libpcap: a link
// type above 255 (gopacket passes it as a byte) and the byte order of a BSD
// loopback header. Such files are filtered by libpcap itself.
func goFilterable(head []byte, bpfExpr string) bool {
	if bpfExpr == "" {
		return true
	}
	var lt uint32
	switch binary.LittleEndian.Uint32(head[0:4]) {
	case magicMicro, magicNano:
		lt = binary.LittleEndian.Uint32(head[20:24])
	default:
		lt = binary.BigEndian.Uint32(head[20:24])
	}
	lt &= linkTypeMask
	return lt <= 255 && lt != uint32(layers.LinkTypeNull) && lt != uint32(layers.LinkTypeLoop)
}

// newPcapReader reads a classic pcap stream from r, which must start with
// the file header (isClassicPcap). closer, if not nil, is closed by Close.
func newPcapReader(name string, r io.Reader, closer io.Closer, bpfExpr string) (*PcapReader, error) {
	p := &PcapReader{name: name, r: r, closer: closer, buf: make([]byte, pcapBufferSize)}
	head := make([]byte, pcapHeaderLen)
	if _, err := io.ReadFull(r, head); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: the file header is cut short", ErrTruncated)
		}
		return nil, fmt.Errorf("capture file %s: reading the file header: %w", name, err)
	}
	switch binary.LittleEndian.Uint32(head[0:4]) {
	case magicMicro:
		p.order = binary.LittleEndian
	case magicNano:
		p.order, p.nano = binary.LittleEndian, true
	case magicMicroSwapped:
		p.order = binary.BigEndian
	case magicNanoSwapped:
		p.order, p.nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("capture file %s: %w: not a classic pcap file", name, ErrFormat)
	}
	lengths, err := pcapVersion(p.order.Uint16(head[4:6]), p.order.Uint16(head[6:8]))
	if err != nil {
		return nil, fmt.Errorf("capture file %s: %w", name, err)
	}
	p.lengths = lengths
	// The top bits of the link type field carry FCS information.
	p.linkType = int(p.order.Uint32(head[20:24]) & linkTypeMask)
	p.maxLen = maxCaptureLen(p.linkType)
	// As libpcap: a snapshot length of 0, or one past what an int holds,
	// stands for the link type's largest.
	p.snaplen = int(p.order.Uint32(head[16:20]))
	if snap := p.order.Uint32(head[16:20]); snap == 0 || snap > math.MaxInt32 {
		p.snaplen = p.maxLen
	}
	p.offset = pcapHeaderLen
	if bpfExpr != "" {
		if err := p.setFilter(bpfExpr); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// setFilter compiles the expression with libpcap and runs it in Go's BPF
// machine, avoiding a cgo call per packet.
func (p *PcapReader) setFilter(expr string) error {
	snap := min(p.snaplen, p.maxLen)
	lt := layers.LinkType(p.linkType)
	ins, err := pcap.CompileBPFFilter(lt, snap, expr)
	if err != nil {
		return fmt.Errorf("-f %q: %w: %w", expr, ErrFilter, err)
	}
	prog := make([]bpf.Instruction, len(ins))
	for i, in := range ins {
		prog[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble()
	}
	if vm, err := bpf.NewVM(prog); err == nil {
		p.filter = vm
		return nil
	}
	cf, err := pcap.NewBPF(lt, snap, expr)
	if err != nil {
		return fmt.Errorf("-f %q: %w: %w", expr, ErrFilter, err)
	}
	p.cfilter = cf
	return nil
}

// fill makes at least n bytes available at buf[lo:], unless the stream
// ends. An error that ends the stream early is kept in readErr, not
// returned, so that the complete records before it are still read.
func (p *PcapReader) fill(n int) error {
	if n > len(p.buf) {
		// Only link types with huge frames (D-Bus) get here.
		p.buf = append(p.buf[:p.hi], make([]byte, n-p.hi)...)
	}
	for p.hi-p.lo < n && !p.eof {
		if p.lo > 0 {
			copy(p.buf, p.buf[p.lo:p.hi])
			p.hi -= p.lo
			p.lo = 0
		}
		if p.poll {
			_ = p.stdin.SetReadDeadline(time.Now().Add(pipePoll))
		}
		m, err := p.r.Read(p.buf[p.hi:])
		p.hi += m
		switch {
		case err == nil:
		case err == io.EOF:
			p.eof = true
		case p.poll && errors.Is(err, os.ErrDeadlineExceeded):
			return ErrTimeout
		default:
			p.eof, p.readErr = true, streamError(err)
		}
	}
	return nil
}

// ReadPacket returns the next packet that passes the filter; its data is
// valid until the next call.
func (p *PcapReader) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	for {
		data, ci, err := p.next()
		if err != nil {
			return nil, ci, err
		}
		switch {
		case p.filter != nil:
			if n, err := p.filter.Run(data); err != nil || n == 0 {
				continue
			}
		case p.cfilter != nil:
			if !p.cfilter.Matches(ci, data) {
				continue
			}
		}
		return data, ci, nil
	}
}

func (p *PcapReader) next() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	if p.hi-p.lo < pcapRecordLen {
		if err := p.fill(pcapRecordLen); err != nil {
			return nil, ci, err // ErrTimeout: nothing consumed, the next call retries
		}
		switch rest := p.hi - p.lo; {
		case rest == 0 && p.readErr == nil:
			return nil, ci, io.EOF
		case rest < pcapRecordLen:
			return nil, ci, p.brokeAt(fmt.Errorf("%w: record header has %d of %d bytes", ErrTruncated, rest, pcapRecordLen))
		}
	}
	h := p.buf[p.lo : p.lo+pcapRecordLen]
	sec := int64(p.order.Uint32(h[0:4]))
	// libpcap reads the fraction as a signed 32-bit value; so do we, so
	// both readers give corrupt timestamps the same meaning.
	frac := int64(int32(p.order.Uint32(h[4:8])))
	caplen := uint64(p.order.Uint32(h[8:12]))
	wire := uint64(p.order.Uint32(h[12:16]))
	if p.lengths == lengthsSwapped || (p.lengths == lengthsMaybeSwapped && caplen > wire) {
		caplen, wire = wire, caplen
	}
	if caplen > uint64(p.maxLen) {
		return nil, ci, p.brokeAt(fmt.Errorf("%w: captured length %d exceeds %d, the most libpcap accepts for this link type", ErrCorrupt, caplen, p.maxLen))
	}
	// A record longer than the file's snapshot length is cut to it, as
	// libpcap does, so that no packet is longer than Snaplen says.
	keep := min(int(caplen), p.snaplen)
	need := pcapRecordLen + int(caplen)
	if p.hi-p.lo < need {
		if err := p.fill(need); err != nil {
			return nil, ci, err // the header stays unread: the next call retries
		}
		if p.hi-p.lo < need {
			return nil, ci, p.brokeAt(fmt.Errorf("%w: record of %d captured bytes, only %d left", ErrTruncated, caplen, p.hi-p.lo-pcapRecordLen))
		}
	}
	start := p.lo + pcapRecordLen
	data := p.buf[start : start+keep : start+keep]
	p.lo += need
	p.offset += int64(need)
	if !p.nano {
		frac *= 1000
	}
	ci.Timestamp = time.Unix(sec, frac)
	ci.CaptureLength = keep
	ci.Length = int(wire)
	p.packets++
	p.lastTS = ci.Timestamp
	return data, ci, nil
}

// brokeAt reports a break at the current record; a stream that ended
// early is the cause of any break after it.
func (p *PcapReader) brokeAt(err error) error {
	if p.readErr != nil {
		err = p.readErr
	}
	e := &BrokenError{File: p.name, Packets: p.packets, Offset: p.offset, Err: err}
	if p.packets > 0 {
		e.LastTS = p.lastTS
	}
	return e
}

// LinkType returns the file's link type.
func (p *PcapReader) LinkType() int { return p.linkType }

// Snaplen returns the file's snapshot length.
func (p *PcapReader) Snaplen() int { return p.snaplen }

// Nanosecond reports whether the file stores nanosecond timestamps.
func (p *PcapReader) Nanosecond() bool { return p.nano }

// Stats reports nothing: a file has no kernel counters.
func (p *PcapReader) Stats() (KernelStats, bool) { return KernelStats{}, false }

// Describe names the file.
func (p *PcapReader) Describe() string { return "file " + p.name }

// Interrupt unblocks a read waiting on standard input.
func (p *PcapReader) Interrupt() {
	if p.stdin != nil {
		_ = p.stdin.SetReadDeadline(time.Now())
	}
}

// Close closes the underlying file.
func (p *PcapReader) Close() error {
	if p.closer != nil {
		err := p.closer.Close()
		p.closer = nil
		return err
	}
	return nil
}
