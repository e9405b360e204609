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
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcap"
)

// FileSource reads a classic pcap or pcapng capture through libpcap. A
// gzip-compressed capture is decompressed on the fly through a pipe, since
// libpcap reads only uncompressed files.
type FileSource struct {
	name    string
	handle  *pcap.Handle
	packets uint64
	lastTS  time.Time

	// Set when the capture is fed to libpcap through a pipe (stdin, gzip).
	pipeRead *os.File
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
// applies the BPF filter expression (empty keeps everything).
func OpenFile(path, bpf string) (*FileSource, error) {
	s := &FileSource{name: path}
	if path == "-" {
		s.name = "standard input"
		if err := s.openPiped(os.Stdin); err != nil {
			return nil, err
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("capture file: %w", err)
		}
		head := make([]byte, 6)
		n, _ := io.ReadFull(f, head)
		head = head[:n]
		if bytes.HasPrefix(head, magicGzip) {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				f.Close()
				return nil, fmt.Errorf("capture file %s: %w", path, err)
			}
			if err := s.openPiped(f); err != nil {
				return nil, err
			}
		} else {
			f.Close()
			if err := refuseCompressed(path, head); err != nil {
				return nil, err
			}
			h, err := pcap.OpenOffline(path)
			if err != nil {
				return nil, fmt.Errorf("capture file %s: libpcap cannot read it: %v", path, err)
			}
			s.handle = h
		}
	}
	if bpf != "" {
		if err := s.handle.SetBPFFilter(bpf); err != nil {
			s.Close()
			return nil, fmt.Errorf("-f %q: invalid BPF filter for link type %s: %v", bpf, s.handle.LinkType(), err)
		}
	}
	return s, nil
}

func refuseCompressed(path string, head []byte) error {
	for _, c := range []struct {
		magic []byte
		name  string
		cmd   string
	}{{magicZstd, "zstd", "zstd -dc"}, {magicBz2, "bzip2", "bzip2 -dc"}, {magicXz, "xz", "xz -dc"}} {
		if bytes.HasPrefix(head, c.magic) {
			return fmt.Errorf("capture file %s is %s-compressed, which libpcap cannot read; decompress it on the fly: %s %s | wherefore -pcapfile -", path, c.name, c.cmd, path)
		}
	}
	return nil
}

// openPiped feeds r to libpcap through a pipe, gunzipping it when it starts
// with the gzip magic. libpcap needs a real file descriptor, hence the pipe.
func (s *FileSource) openPiped(r io.ReadCloser) error {
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(6)
	if err := refuseCompressed(s.name, head); err != nil {
		r.Close()
		return err
	}
	var in io.Reader = br
	if bytes.HasPrefix(head, magicGzip) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			r.Close()
			return fmt.Errorf("capture file %s: gzip: %w", s.name, err)
		}
		in = zr
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		r.Close()
		return fmt.Errorf("capture file %s: %w", s.name, err)
	}
	s.pipeRead = pr
	s.feedDone = make(chan struct{})
	go func() {
		defer close(s.feedDone)
		_, err := io.Copy(pw, in)
		if err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
			s.feedMu.Lock()
			s.feedErr = err
			s.feedMu.Unlock()
		}
		pw.Close()
		if r != os.Stdin {
			r.Close()
		}
	}()
	// libpcap opens the pipe by path so that it owns, and closes, its own
	// descriptor; handing it ours would let pcap_close and os.File both close it.
	h, err := pcap.OpenOffline(fmt.Sprintf("/dev/fd/%d", pr.Fd()))
	if err != nil {
		pr.Close()
		<-s.feedDone
		if ferr := s.feedError(); ferr != nil {
			return fmt.Errorf("capture file %s: %v", s.name, ferr)
		}
		return fmt.Errorf("capture file %s: libpcap cannot read it: %v", s.name, err)
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
	if ne, ok := err.(pcap.NextError); ok && ne == pcap.NextErrorReadError {
		err = s.handle.Error()
	}
	if ferr := s.feedError(); ferr != nil {
		err = ferr
	}
	return nil, ci, s.brokeAt(err)
}

func (s *FileSource) brokeAt(err error) error {
	if s.packets == 0 {
		return fmt.Errorf("capture file %s broke before the first packet: %v", s.name, err)
	}
	return fmt.Errorf("capture file %s broke after packet %d (timestamp %s): %v",
		s.name, s.packets, s.lastTS.UTC().Format(time.RFC3339Nano), err)
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
	return nil
}
