package capture

import (
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The kinds of capture file failure, for errors.Is. Every error OpenFile or
// a file Source's ReadPacket returns about the file's content wraps one.
var (
	// ErrFormat: the file is not a capture, or is of a format or version
	// that cannot be read (checked when the file is opened).
	ErrFormat = errors.New("not a capture file wherefore can read")
	// ErrTruncated: the capture, or its compressed stream, ends in the
	// middle of a record.
	ErrTruncated = errors.New("capture cut short")
	// ErrCorrupt: a record, or the compressed stream, is damaged: a length
	// no writer produces, a checksum that does not match.
	ErrCorrupt = errors.New("capture damaged")
	// ErrFilter: libpcap cannot compile the -f expression for the source.
	ErrFilter = errors.New("invalid BPF filter")
)

// BrokenError says where a capture file stopped being readable. Every packet
// before the break was returned; the caller decides whether a partial
// analysis is worth reporting.
type BrokenError struct {
	File string
	// Packets is how many packets were read before the break.
	Packets uint64
	// LastTS is the last of those packets' timestamp; zero when Packets is 0.
	LastTS time.Time
	// Offset is the byte offset of the break in the (decompressed) capture,
	// -1 when the reader cannot tell (libpcap does not say).
	Offset int64
	// Err says what was wrong there; it wraps ErrTruncated or ErrCorrupt.
	Err error
}

func (e *BrokenError) Error() string {
	var b strings.Builder
	b.WriteString("capture file ")
	b.WriteString(e.File)
	if e.Packets == 0 {
		b.WriteString(" broke before the first packet")
	} else {
		fmt.Fprintf(&b, " broke after packet %d (timestamp %s)", e.Packets, e.LastTS.UTC().Format(time.RFC3339Nano))
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at byte offset %d", e.Offset)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *BrokenError) Unwrap() error { return e.Err }

// streamError classifies an error of the stream under the capture (gzip,
// a pipe): a compressed stream that ends early is a truncation, a damaged
// one corruption; anything else (an I/O error) is passed on as it is.
func streamError(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the compressed stream ends early, without its trailer or in the middle of a block (%w)", ErrTruncated, err)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// libpcapReadError gives a read error reported by libpcap its kind.
// libpcap reports only text; its messages for a short file start
// "truncated dump file" (pcap) or "truncated pcapng dump file".
func libpcapReadError(msg string) error {
	if strings.HasPrefix(msg, "truncated ") {
		return fmt.Errorf("%w: %s", ErrTruncated, msg)
	}
	return fmt.Errorf("%w: %s", ErrCorrupt, msg)
}
