package archive

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Spare files. Connections come and go by the thousand, and a part file
// that is deleted while another is created costs the file system an inode
// freed and one allocated; ext4 without a journal even skips inodes freed in
// the last half minute, scanning past them on every create. So a deleted
// part is cut back to its pcap header and renamed into <-l>/.spare/, and a
// new part takes a spare when there is one: two renames and a truncate
// instead of an unlink and a create. The pool is small: deletions and
// creations run at the same rate once connections rotate or hit the quota.
const (
	spareDirName = ".spare"
	maxSpares    = 1024
)

// spares is the writer's pool of recycled files.
type spares struct {
	dir   string   // "" when off
	state int8     // 0: dir not tried yet, 1: dir exists, -1: it cannot be made
	free  []string // names in dir, each a file of exactly pcapHeaderLen bytes
	next  uint64
}

// newSpares sets up the pool of logDir, taking over what an earlier run
// left there: a spare's header is rewritten with its first records, so it
// is as good as new. Anything else in the spare folder is deleted.
func newSpares(logDir string) *spares {
	s := &spares{dir: filepath.Join(logDir, spareDirName)}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return s
	}
	s.state = 1
	for _, e := range ents {
		path := filepath.Join(s.dir, e.Name())
		info, err := e.Info()
		n, perr := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil || perr != nil || !info.Mode().IsRegular() || info.Size() != pcapHeaderLen || len(s.free) >= maxSpares {
			os.RemoveAll(path)
			continue
		}
		s.free = append(s.free, e.Name())
		s.next = max(s.next, n+1)
	}
	return s
}

// recycle turns the file at path into a spare; false means it could not,
// and the caller removes it.
func (s *spares) recycle(path string) bool {
	if s.dir == "" || len(s.free) >= maxSpares {
		return false
	}
	if s.state == 0 {
		s.state = -1
		if os.Mkdir(s.dir, dirMode) == nil {
			s.state = 1
		}
	}
	if s.state < 0 {
		return false
	}
	// A file cut to zero bytes would be flushed to disk at its next close
	// (ext4's replace-by-truncate heuristic); a header's worth is not.
	if err := truncatePath(path, pcapHeaderLen); err != nil {
		return false
	}
	name := strconv.FormatUint(s.next, 10)
	if err := renameRaw(path, filepath.Join(s.dir, name)); err != nil {
		return false
	}
	s.next++
	s.free = append(s.free, name)
	return true
}

// take moves a spare to path, ready to be written from its start; false
// when there is none (or the rename failed: the spare is then forgotten).
func (s *spares) take(path string) bool {
	for len(s.free) > 0 {
		name := s.free[len(s.free)-1]
		s.free = s.free[:len(s.free)-1]
		if err := renameRaw(filepath.Join(s.dir, name), path); err == nil {
			return true
		}
	}
	return false
}

// renameRaw is rename(2) alone: os.Rename first checks whether the target
// is a directory, a stat per call that a spare never needs.
func renameRaw(from, to string) error {
	for {
		err := syscall.Rename(from, to)
		if err != syscall.EINTR {
			return err
		}
	}
}

func truncatePath(path string, size int64) error {
	for {
		err := syscall.Truncate(path, size)
		if err != syscall.EINTR {
			return err
		}
	}
}
