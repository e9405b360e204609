// Package jsonl holds wherefore's local notifiers: the JSON-lines record
// of every alert (a file or standard output) and the structured log entry.
package jsonl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/wherefore/wherefore/alert"
	"gopkg.in/natefinch/lumberjack.v2"
)

// Record writes each alert as one compact JSON object per line, with exactly
// the Alert's field names: the local, durable record of every alert, which
// `jq` and log shippers read. Each line is written with a single Write, so
// lines from concurrent writers never interleave.
type Record struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer // set when the Record owns its writer
	buf    bytes.Buffer
	closed bool
}

// New returns a Record notifier writing to w (for instance os.Stdout in
// -pcapfile mode). The caller keeps ownership of w: Close does not close it.
func New(w io.Writer) *Record {
	return &Record{w: w}
}

// FileConfig configures the rotated JSON-lines file of live mode.
type FileConfig struct {
	// Path of the file, typically <-l dir>/wherefore_anomalies.log. Its
	// directory is created when missing.
	Path string
	// MaxSizeMB rotates the file when it would grow past this many
	// megabytes (0: lumberjack's default, 100).
	MaxSizeMB int
	// MaxBackups is how many rotated files to keep (0: all).
	MaxBackups int
	// MaxAgeDays removes rotated files older than this (0: never).
	MaxAgeDays int
	// Compress gzips rotated files.
	Compress bool
}

// Validate reports the first invalid field.
func (c FileConfig) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("jsonl: FileConfig.Path: empty file name")
	case c.MaxSizeMB < 0:
		return fmt.Errorf("jsonl: FileConfig.MaxSizeMB: %d is negative", c.MaxSizeMB)
	case c.MaxBackups < 0:
		return fmt.Errorf("jsonl: FileConfig.MaxBackups: %d is negative", c.MaxBackups)
	case c.MaxAgeDays < 0:
		return fmt.Errorf("jsonl: FileConfig.MaxAgeDays: %d is negative", c.MaxAgeDays)
	}
	return nil
}

// NewFile returns a Record notifier writing to a size-rotated file
// (lumberjack); Close closes it. The file is opened on the first alert.
func NewFile(cfg FileConfig) (*Record, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lj := &lumberjack.Logger{
		Filename:   cfg.Path,
		MaxSize:    cfg.MaxSizeMB,
		MaxBackups: cfg.MaxBackups,
		MaxAge:     cfg.MaxAgeDays,
		Compress:   cfg.Compress,
	}
	return &Record{w: lj, closer: lj}, nil
}

// Name returns "jsonl".
func (*Record) Name() string { return "jsonl" }

// Notify appends a as one line. A failed write cannot be helped by the
// dispatcher's retries, so retry is always false.
func (j *Record) Notify(_ context.Context, a *alert.Alert) (bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return false, errors.New("jsonl: write after Close")
	}
	j.buf.Reset()
	if err := alert.EncodeJSON(&j.buf, a); err != nil {
		return false, fmt.Errorf("jsonl: encoding alert %s: %w", a.Key, err)
	}
	if _, err := j.w.Write(j.buf.Bytes()); err != nil {
		return false, fmt.Errorf("jsonl: %w", err)
	}
	return false, nil
}

// Flush pushes written lines to stable storage when the writer can: it
// calls Flush or Sync on it if it has one (bufio.Writer, *os.File).
func (j *Record) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	return flushWriter(j.w)
}

func flushWriter(w io.Writer) error {
	switch f := w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Sync() error }:
		if err := f.Sync(); err != nil && !isUnsyncable(err) {
			return err
		}
	}
	return nil
}

// Close flushes, and closes the file when the Record owns it. It is
// idempotent; later Notify calls fail.
func (j *Record) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	err := flushWriter(j.w)
	if j.closer != nil {
		err = errors.Join(err, j.closer.Close())
	}
	return err
}

// isUnsyncable reports whether a Sync error only says the file (a pipe, a
// terminal: stdout in -pcapfile mode) cannot be synced, which is no failure.
func isUnsyncable(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.ENOTTY)
}
