package archive

import (
	"errors"
	"io/fs"
	"syscall"
)

// rawFile is a plain descriptor for a part file. The writer opens, writes and
// closes tens of thousands of files a second under load; os.File would add
// a poller registration, several fcntl calls and a finalizer to each.
// Regular files never block in the poller's sense, so none of that buys
// anything here.
type rawFile struct {
	fd   int
	path string
}

const (
	flagsCreate = syscall.O_WRONLY | syscall.O_CREAT | syscall.O_TRUNC | syscall.O_CLOEXEC
	flagsAppend = syscall.O_WRONLY | syscall.O_APPEND | syscall.O_CLOEXEC
	// A recycled spare is written from its start, over its old header.
	flagsReuse = syscall.O_WRONLY | syscall.O_CLOEXEC
)

func openRaw(path string, flags int, mode uint32) (*rawFile, error) {
	for {
		fd, err := syscall.Open(path, flags, mode)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &rawFile{fd: fd, path: path}, nil
	}
}

// Write writes all of b, as os.File does, or reports how much went out.
func (f *rawFile) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := syscall.Write(f.fd, b[n:])
		if m > 0 {
			n += m
		}
		switch {
		case err == syscall.EINTR || err == syscall.EAGAIN:
			continue
		case err != nil:
			return n, &fs.PathError{Op: "write", Path: f.path, Err: err}
		case m == 0:
			return n, &fs.PathError{Op: "write", Path: f.path, Err: errors.New("wrote nothing")}
		}
	}
	return n, nil
}

func (f *rawFile) Truncate(size int64) error {
	for {
		err := syscall.Ftruncate(f.fd, size)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "truncate", Path: f.path, Err: err}
		}
		return nil
	}
}

// Close closes the descriptor once; EINTR is not retried, as on Linux the
// descriptor is released regardless.
func (f *rawFile) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := syscall.Close(f.fd)
	f.fd = -1
	if err != nil && err != syscall.EINTR {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}
