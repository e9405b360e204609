package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The spool keeps the alerts a remote notifier could not deliver, one file
// per alert in <spool dir>/<notifier name>/, named by a sequence number so
// that name order is delivery order. Files are written to a temporary name,
// synced and renamed, so a crash leaves either the whole alert or nothing.
// A file is removed once its alert is delivered (or rejected for good).
// Delivery is therefore at least once: a crash between delivery and removal
// sends that alert again at the next start. One spool directory must not be
// shared by two running daemons.

// errSpoolFull is returned when a notifier's spool holds its limit.
var errSpoolFull = errors.New("spool full")

// spoolTmpPrefix marks files being written; left-overs of a crash are
// removed at open.
const spoolTmpPrefix = ".tmp-"

// spool is one notifier's spool directory. Its methods are safe for
// concurrent use: the worker reads it while Submit and the dispatcher
// append.
type spool struct {
	dir   string
	limit int

	mu    sync.Mutex
	names []string // pending files, oldest first
	seq   int64    // last sequence number used
}

// openSpool opens (creating it when missing) the spool directory of the
// named notifier under root and lists the alerts left in it.
func openSpool(root, name string, limit int) (*spool, error) {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("alert: spool: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("alert: spool: %w", err)
	}
	s := &spool{dir: dir, limit: limit}
	for _, e := range ents {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, spoolTmpPrefix):
			_ = os.Remove(filepath.Join(dir, n))
		case e.Type().IsRegular() && strings.HasSuffix(n, ".json"):
			if seq, err := strconv.ParseInt(strings.TrimSuffix(n, ".json"), 10, 64); err == nil {
				s.names = append(s.names, n)
				s.seq = max(s.seq, seq)
			}
		}
	}
	slices.Sort(s.names)
	return s, nil
}

// len is the number of alerts waiting; a nil spool (spooling off) has none.
func (s *spool) len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.names)
}

// put appends a. The sequence number follows the clock (so that files of
// successive runs sort in time order) and always grows.
func (s *spool) put(a *Alert, now time.Time) error {
	if s == nil {
		return errors.New("spooling is off (no spool directory)")
	}
	var buf bytes.Buffer
	if err := encodeJSON(&buf, a); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit > 0 && len(s.names) >= s.limit {
		return errSpoolFull
	}
	s.seq = max(s.seq+1, now.UnixNano())
	// Fixed width keeps name order equal to number order.
	name := fmt.Sprintf("%020d.json", s.seq)
	if err := writeAtomic(s.dir, name, buf.Bytes()); err != nil {
		return err
	}
	s.names = append(s.names, name)
	return nil
}

// writeAtomic writes data to dir/name through a synced temporary file and
// a rename.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, spoolTmpPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// oldest reads the first waiting alert. An unreadable file is reported
// with its name so the caller can remove it rather than stall on it.
func (s *spool) oldest() (string, *Alert, error) {
	s.mu.Lock()
	if len(s.names) == 0 {
		s.mu.Unlock()
		return "", nil, nil
	}
	name := s.names[0]
	s.mu.Unlock()
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return name, nil, err
	}
	a := new(Alert)
	if err := json.Unmarshal(b, a); err != nil {
		return name, nil, fmt.Errorf("spool file %s: %w", name, err)
	}
	return name, a, nil
}

// remove deletes a delivered alert's file.
func (s *spool) remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.names, name); i >= 0 {
		s.names = slices.Delete(s.names, i, i+1)
	}
	err := os.Remove(filepath.Join(s.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return err
}
