package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcap"
	"golang.org/x/sys/unix"
)

// FileSource reads a capture through libpcap: pcapng files, and any file
// with -file_reader libpcap. Standard input and gzip streams reach libpcap
// through a pipe, since it reads only from file descriptors.
type FileSource struct {
	name    string
	handle  *pcap.Handle
	packets uint64
	lastTS  time.Time

	// Set when the capture is fed to libpcap through a pipe (stdin, gzip).
	pipeRead *os.File
	stdin    *os.File
	closer   io.Closer
	feedDone chan struct{}
	feedErr  error
	feedMu   sync.Mutex
}

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicBz2  = []byte("BZh")
	magicXz   = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
)

// OpenFile opens a capture file, or standard input when path is "-", and
// applies the BPF filter expression (empty keeps everything). A classic pcap
// stream is read by PcapReader (reader "auto" or empty); pcapng, and every
// file with reader "libpcap", is read by libpcap. gzip-compressed input is
// decompressed on the fly in both cases.
func OpenFile(path, bpf, reader string) (Source, error) {
	switch reader {
	case "", "auto", "libpcap":
	default:
		return nil, fmt.Errorf("-file_reader %q: valid values are auto, libpcap", reader)
	}
	name := path
	var raw io.Reader
	var closer io.Closer
	var stdin *os.File
	if path == "-" {
		name = "standard input"
		f, err := pollableStdin()
		if err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
		stdin, raw, closer = f, f, f
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("capture file: %w", err)
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("capture file %s is a directory", path)
		}
		raw, closer = f, f
	}
	fail := func(err error) (Source, error) {
		if closer != nil {
			closer.Close()
		}
		return nil, err
	}
	br := bufio.NewReaderSize(raw, 64<<10)
	head, _ := br.Peek(pcapHeaderLen)
	if err := refuseCompressed(name, head); err != nil {
		return fail(err)
	}
	in := br
	compressed := bytes.HasPrefix(head, magicGzip)
	if compressed {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail(fmt.Errorf("capture file %s: gzip: %w", name, err))
		}
		in = bufio.NewReaderSize(zr, 64<<10)
		head, _ = in.Peek(pcapHeaderLen)
	}
	if reader != "libpcap" && isClassicPcap(head) && goFilterable(head, bpf) {
		p, err := newPcapReader(name, in, closer, bpf)
		if err != nil {
			return fail(err)
		}
		p.stdin = stdin
		// gzip keeps a read error for good, so only a plain pipe is polled.
		p.poll = stdin != nil && !compressed
		return p, nil
	}
	if path != "-" && !compressed {
		closer.Close()
		s, err := openLibpcapFile(path, bpf)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return s, nil
	}
	s := &FileSource{name: name, stdin: stdin}
	if err := s.openPiped(in, closer); err != nil {
		return nil, err
	}
	if err := s.setFilter(bpf); err != nil {
		return nil, err
	}
	return s, nil
}

func openLibpcapFile(path, bpf string) (*FileSource, error) {
	h, err := pcap.OpenOffline(path)
	if err != nil {
		return nil, fmt.Errorf("capture file %s: %w: libpcap cannot read it: %w", path, ErrFormat, err)
	}
	s := &FileSource{name: path, handle: h}
	if err := s.setFilter(bpf); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileSource) setFilter(bpf string) error {
	if bpf == "" {
		return nil
	}
	if err := s.handle.SetBPFFilter(bpf); err != nil {
		s.Close()
		return fmt.Errorf("-f %q: %w for this capture: %w", bpf, ErrFilter, err)
	}
	return nil
}

func refuseCompressed(path string, head []byte) error {
	for _, c := range []struct {
		magic []byte
		name  string
		cmd   string
	}{{magicZstd, "zstd", "zstd -dc"}, {magicBz2, "bzip2", "bzip2 -dc"}, {magicXz, "xz", "xz -dc"}} {
		if bytes.HasPrefix(head, c.magic) {
			return fmt.Errorf("capture file %s is %s-compressed: %w; decompress it on the fly: %s FILE | wherefore -pcapfile -", path, c.name, ErrFormat, c.cmd)
		}
	}
	return nil
}

// openPiped feeds in to libpcap through a pipe: libpcap reads only from a
// file descriptor, and in is standard input or a gzip stream.
func (s *FileSource) openPiped(in io.Reader, closer io.Closer) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return fmt.Errorf("capture file %s: %w", s.name, err)
	}
	s.pipeRead = pr
	s.closer = closer
	s.feedDone = make(chan struct{})
	go func() {
		defer close(s.feedDone)
		_, err := io.Copy(pw, in)
		if err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrDeadlineExceeded) {
			s.feedMu.Lock()
			s.feedErr = streamError(err)
			s.feedMu.Unlock()
		}
		pw.Close()
	}()
	// libpcap opens the pipe by path so that it owns, and closes, its own
	// descriptor; handing it ours would let pcap_close and os.File both close it.
	h, err := pcap.OpenOffline(fmt.Sprintf("/dev/fd/%d", pr.Fd()))
	if err != nil {
		pr.Close()
		<-s.feedDone
		if ferr := s.feedError(); ferr != nil {
			return fmt.Errorf("capture file %s: %w", s.name, ferr)
		}
		return fmt.Errorf("capture file %s: %w: libpcap cannot read it: %w", s.name, ErrFormat, err)
	}
	s.handle = h
	return nil
}

func (s *FileSource) feedError() error {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	return s.feedErr
}

// ReadPacket returns the next packet, io.EOF at a clean end, or an error that
// says where the capture broke.
func (s *FileSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.handle.ZeroCopyReadPacketData()
	if err == nil {
		s.packets++
		s.lastTS = ci.Timestamp
		return data, ci, nil
	}
	if err == io.EOF {
		if ferr := s.feedError(); ferr != nil {
			return nil, ci, s.brokeAt(ferr)
		}
		return nil, ci, io.EOF
	}
	if ferr := s.feedError(); ferr != nil {
		// The stream feeding libpcap ended early: that is the cause.
		return nil, ci, s.brokeAt(ferr)
	}
	if ne, ok := err.(pcap.NextError); ok && ne == pcap.NextErrorReadError {
		err = libpcapReadError(s.handle.Error().Error())
	}
	return nil, ci, s.brokeAt(err)
}

// brokeAt reports a break after the packets read so far; libpcap does not
// say at which byte offset.
func (s *FileSource) brokeAt(err error) error {
	e := &BrokenError{File: s.name, Packets: s.packets, Offset: -1, Err: err}
	if s.packets > 0 {
		e.LastTS = s.lastTS
	}
	return e
}

// LinkType returns the capture's link type (a LINKTYPE_ value).
func (s *FileSource) LinkType() int { return linkType(s.handle) }

// Snaplen returns the capture's snapshot length.
func (s *FileSource) Snaplen() int { return s.handle.SnapLen() }

// Nanosecond is true: libpcap hands file timestamps over at nanosecond
// precision whatever the file's own resolution.
func (s *FileSource) Nanosecond() bool { return true }

// Stats reports nothing for a file: there is no kernel to drop packets.
func (s *FileSource) Stats() (KernelStats, bool) { return KernelStats{}, false }

// Describe names the file.
func (s *FileSource) Describe() string { return "file " + s.name }

// Interrupt unblocks a read waiting on standard input, so a signal can stop
// `tcpdump -w - | wherefore -pcapfile -` while the pipe is open but quiet.
func (s *FileSource) Interrupt() {
	if s.stdin != nil {
		_ = s.stdin.SetReadDeadline(time.Now())
	}
}

// pollableStdin returns standard input registered with Go's poller (a
// non-blocking duplicate descriptor), so that a read deadline can interrupt
// a read that waits for data.
func pollableStdin() (*os.File, error) {
	fd, err := unix.Dup(0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "stdin"), nil
}

// Close releases libpcap and stops the pipe feeder, if any.
func (s *FileSource) Close() error {
	if s.handle != nil {
		s.handle.Close()
		s.handle = nil
	}
	if s.pipeRead != nil {
		s.pipeRead.Close()
		<-s.feedDone
		s.pipeRead = nil
	}
	if s.closer != nil {
		s.closer.Close()
		s.closer = nil
	}
	return nil
}
