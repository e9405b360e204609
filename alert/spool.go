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

// The spool is a write-ahead log of remote deliveries: each alert a remote
// notifier is to deliver is written to <spool dir>/<notifier name>/ before
// the first attempt, one file per alert named by a sequence number (name
// order is delivery order), and removed once the notifier accepted it (or
// rejected it for good). Files are written to a temporary name, synced,
// renamed, and the directory is synced, so a crash at any moment leaves
// either the whole alert or nothing; removals sync the directory too.
// Delivery is therefore at least once: a crash between delivery and removal
// sends that alert again at the next start, under the same dedup key. One
// spool directory must not be shared by two running daemons.

// errSpoolFull is returned when a notifier's spool holds its limit.
var errSpoolFull = errors.New("spool full")

// spoolTmpPrefix marks files being written; left-overs of a crash are
// removed at open.
const spoolTmpPrefix = ".tmp-"

// spool is one notifier's spool directory. Its methods are safe for
// concurrent use: the worker reads it while the dispatcher appends.
type spool struct {
	dir   string
	limit int

	mu    sync.Mutex
	names []string        // pending files, oldest first
	found map[string]bool // pending files an earlier run left (re-sends)
	// deferred are pending files whose delivery this run put off to a
	// later attempt; each is counted once as spooled.
	deferred map[string]bool
	seq      int64 // last sequence number used
}

// openSpool opens (creating it when missing) the spool directory of the
// named notifier under root and lists the alerts left in it.
func openSpool(root, name string, limit int) (*spool, error) {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("alert: spool: %w", err)
	}
	names, err := spoolFiles(dir)
	if err != nil {
		return nil, err
	}
	s := &spool{dir: dir, limit: limit, names: names, found: make(map[string]bool, len(names)), deferred: map[string]bool{}}
	for _, n := range names {
		s.found[n] = true
		s.seq = max(s.seq, spoolSeq(n))
	}
	return s, nil
}

// spoolFiles lists the alert files of dir in delivery order, removing the
// temporary files a crash left behind.
func spoolFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("alert: spool: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, spoolTmpPrefix):
			_ = os.Remove(filepath.Join(dir, n))
		case e.Type().IsRegular() && spoolSeq(n) > 0:
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// spoolSeq is the sequence number of an alert file name, 0 when the name
// is not one.
func spoolSeq(name string) int64 {
	if !strings.HasSuffix(name, ".json") {
		return 0
	}
	seq, err := strconv.ParseInt(strings.TrimSuffix(name, ".json"), 10, 64)
	if err != nil || seq < 0 {
		return 0
	}
	return seq
}

// spoolName formats a sequence number as a file name; the fixed width keeps
// name order equal to number order.
func spoolName(seq int64) string { return fmt.Sprintf("%020d.json", seq) }

// len is the number of alerts waiting; a nil spool (spooling off) has none.
func (s *spool) len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.names)
}

// put appends a and returns its file name once the file and the directory
// entry are on disk. The sequence number follows the clock (so that files
// of successive runs sort in time order) and always grows.
func (s *spool) put(a *Alert, now time.Time) (string, error) {
	if s == nil {
		return "", errors.New("spooling is off (no spool directory)")
	}
	var buf bytes.Buffer
	if err := EncodeJSON(&buf, a); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit > 0 && len(s.names) >= s.limit {
		return "", errSpoolFull
	}
	s.seq = max(s.seq+1, now.UnixNano())
	name := spoolName(s.seq)
	if err := writeAtomic(s.dir, name, buf.Bytes()); err != nil {
		return "", err
	}
	s.names = append(s.names, name)
	return name, nil
}

// adopt moves the alert files of another spool directory (a notifier that
// was renamed, or a folder of an earlier version) into s, behind nothing
// and in front of nothing: they keep their time order among s's files.
// They count as found, i.e. re-sends. It returns how many were moved.
func (s *spool) adopt(from string) (int, error) {
	names, err := spoolFiles(from)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	moved := 0
	for _, n := range names {
		dst := n
		if slices.Contains(s.names, dst) {
			s.seq++
			dst = spoolName(s.seq)
		}
		if err := os.Rename(filepath.Join(from, n), filepath.Join(s.dir, dst)); err != nil {
			return moved, fmt.Errorf("alert: spool: moving %s: %w", n, err)
		}
		s.names = append(s.names, dst)
		s.found[dst] = true
		s.seq = max(s.seq, spoolSeq(dst))
		moved++
	}
	slices.Sort(s.names)
	if moved > 0 {
		if err := syncDir(s.dir); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// writeAtomic writes data to dir/name through a synced temporary file and
// a rename, then syncs dir so the new name survives a power cut.
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
		return err
	}
	return syncDir(dir)
}

// syncDir makes the directory's entries (created, renamed, removed files)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// oldest reads the first waiting alert and reports whether an earlier run
// left it. An unreadable file is reported with its name so the caller can
// remove it rather than stall on it.
func (s *spool) oldest() (name string, a *Alert, found bool, err error) {
	s.mu.Lock()
	if len(s.names) == 0 {
		s.mu.Unlock()
		return "", nil, false, nil
	}
	name = s.names[0]
	found = s.found[name]
	s.mu.Unlock()
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return name, nil, found, err
	}
	a = new(Alert)
	if err := json.Unmarshal(b, a); err != nil {
		return name, nil, found, fmt.Errorf("spool file %s: %w", name, err)
	}
	return name, a, found, nil
}

// remove deletes a delivered alert's file and makes the removal durable,
// so a restart does not send it again.
func (s *spool) remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.names, name); i >= 0 {
		s.names = slices.Delete(s.names, i, i+1)
	}
	delete(s.found, name)
	delete(s.deferred, name)
	err := os.Remove(filepath.Join(s.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(s.dir)
}

// markDeferred records that name's delivery was put off to a later
// attempt, and reports whether that is news (so it is counted once).
func (s *spool) markDeferred(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deferred[name] || !slices.Contains(s.names, name) {
		return false
	}
	s.deferred[name] = true
	return true
}

// deferRest marks the pending files of this run that no attempt put off
// yet (written ahead but never tried, as when a stop comes first) as
// deferred, and returns how many there were.
func (s *spool) deferRest() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := 0
	for _, n := range s.names {
		if !s.deferred[n] && !s.found[n] {
			s.deferred[n] = true
			k++
		}
	}
	return k
}
