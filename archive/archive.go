package archive

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
)

// Names inside an alert folder.
const (
	alertFile  = "alert.json"
	recentFile = "recent.pcap" // the flight recorder's packets
)

// folderTimeLayout starts every folder this package makes in -archive_dir,
// so the quota can tell them from anything else there.
const folderTimeLayout = "20060102T150405Z"

type archiveReq struct {
	pair  pairKey
	until int64 // connections first seen before this, ns; 0 for all
	reply chan archiveSet
}

// archiveSet is what the writer hands over for one alert.
type archiveSet struct {
	files []movedFile
	ring  []byte // a complete pcap, or nil
}

// answer runs on the writer goroutine, after every queued batch.
func (r *Recorder) answer(q *archiveReq) {
	var s archiveSet
	if r.cfg.LogPackets {
		s.files = r.w.detach(q.pair, q.until)
	}
	if r.w.ring != nil {
		s.ring = r.w.ring.take(q.pair)
	}
	r.w.publish()
	q.reply <- s
}

// Archive stores the evidence of alert a in a new folder of -archive_dir,
// named for the alert's time and flow, and returns the paths of the pcap
// files in it; main puts them in a.Archive. The folder holds the files of
// every connection between a.Src and a.Dst (either direction) that began
// before the end of the alerted interval and is still on disk, every packet
// tapped before the call included, or, in flight-recorder mode,
// recent.pcap with the pair's ring; plus alert.json, the alert with its
// Archive field filled. The connections keep logging into fresh files, so a
// repeat alert archives what came since. With nothing recorded for the flow
// it returns no paths and no error.
//
// Archive may wait for the writer goroutine; it is meant for the alert
// dispatcher, never for the capture goroutine. Safe for concurrent use.
func (r *Recorder) Archive(ctx context.Context, a *alert.Alert) ([]string, error) {
	if r.arch == nil || a == nil || !r.enabled {
		return nil, nil
	}
	src, err := netip.ParseAddr(a.Src)
	if err != nil {
		return nil, fmt.Errorf("archive: alert %q: src: %w", a.Key, err)
	}
	dst, err := netip.ParseAddr(a.Dst)
	if err != nil {
		return nil, fmt.Errorf("archive: alert %q: dst: %w", a.Key, err)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	r.archives.Add(1)
	r.handOff() // the writer sees this batch before the request
	r.mu.Unlock()
	defer r.archives.Done()

	// The folder comes first: if -archive_dir is unusable, nothing is taken
	// from -l and the connections keep their files.
	when := a.Time
	if when.IsZero() {
		when = time.Now()
	}
	dir, err := r.arch.mkdir(when, src, dst)
	if err != nil {
		r.errs.report(errMkdir, err, logrus.Fields{"flow": a.Key, "dir": r.cfg.ArchiveDir})
		return nil, fmt.Errorf("archive: alert %q: %w", a.Key, err)
	}
	q := &archiveReq{pair: makePair(src, dst), reply: make(chan archiveSet, 1)}
	if !a.Time.IsZero() {
		q.until = a.Time.UnixNano()
	}
	select {
	case r.reqs <- q:
	case <-r.done:
		os.Remove(dir)
		return nil, ErrClosed
	case <-ctx.Done():
		os.Remove(dir)
		return nil, fmt.Errorf("archive: alert %q: %w", a.Key, ctx.Err())
	}
	// The writer answers every request it takes, promptly: it only closes
	// descriptors. Leaving early would strand the files it handed over.
	set := <-q.reply

	paths, size, err := r.arch.fill(dir, set)
	if len(paths) == 0 {
		os.Remove(dir)
		return nil, err
	}
	rec := *a
	rec.Archive = paths
	js, jerr := json.MarshalIndent(&rec, "", "  ")
	if jerr == nil {
		jerr = writeFileAtomic(filepath.Join(dir, alertFile), append(js, '\n'))
	}
	var jsonBytes int64
	if jerr != nil {
		r.errs.report(errArchiveWrite, jerr, logrus.Fields{"flow": a.Key, "dir": dir})
		err = errors.Join(err, jerr)
	} else {
		jsonBytes = int64(len(js) + 1)
	}
	size += jsonBytes
	r.arch.commit(dir, size, jsonBytes)
	r.st.archives.Add(1)
	r.st.archivedFiles.Add(uint64(len(paths)))
	r.log.WithFields(logrus.Fields{"flow": a.Key, "dir": dir, "files": len(paths), "bytes": size}).Info("archive: stored evidence of alerted flow")
	if err != nil {
		err = fmt.Errorf("archive: alert %q: %w", a.Key, err)
	}
	return paths, err
}

// archiveIndex tracks the folders in -archive_dir and keeps their total
// under the quota by deleting the oldest.
type archiveIndex struct {
	dir   string
	quota int64
	st    *counters
	errs  *errLog

	mu      sync.Mutex
	used    int64
	folders []archFolder // complete folders, oldest first
}

type archFolder struct {
	path string
	size int64
}

func newArchiveIndex(cfg *Config, st *counters, errs *errLog) *archiveIndex {
	x := &archiveIndex{dir: cfg.ArchiveDir, quota: int64(cfg.ArchiveQuotaMB) * mib, st: st, errs: errs}
	if err := os.MkdirAll(x.dir, dirMode); err != nil {
		errs.report(errMkdir, err, logrus.Fields{"dir": x.dir})
		return x
	}
	x.scan()
	x.reserve(0) // a quota lowered since the last run applies at once
	return x
}

// scan finds the folders an earlier run made, so the quota counts them.
func (x *archiveIndex) scan() {
	ents, err := os.ReadDir(x.dir)
	if err != nil {
		x.errs.report(errMkdir, err, logrus.Fields{"dir": x.dir})
		return
	}
	type found struct {
		archFolder
		mtime time.Time
	}
	var dirs []found
	for _, e := range ents {
		if !e.IsDir() || !isFolderName(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		p := filepath.Join(x.dir, e.Name())
		dirs = append(dirs, found{archFolder{p, dirSize(p)}, info.ModTime()})
	}
	slices.SortFunc(dirs, func(a, b found) int {
		return cmp.Or(a.mtime.Compare(b.mtime), cmp.Compare(a.path, b.path))
	})
	for _, f := range dirs {
		x.folders = append(x.folders, f.archFolder)
		x.used += f.size
	}
	x.st.archiveBytes.Store(x.used)
}

func isFolderName(name string) bool {
	n := len(folderTimeLayout)
	if len(name) <= n || name[n] != '_' {
		return false
	}
	_, err := time.Parse(folderTimeLayout, name[:n])
	return err == nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// mkdir makes a fresh folder for an alert: "<time>_<src>_<dst>", with "_2",
// "_3" ... when the same flow alerts twice in one second.
func (x *archiveIndex) mkdir(when time.Time, src, dst netip.Addr) (string, error) {
	return x.mkdirNamed(when.UTC().Format(folderTimeLayout) + "_" + addrName(src) + "_" + addrName(dst))
}

func (x *archiveIndex) mkdirNamed(name string) (string, error) {
	if err := os.MkdirAll(x.dir, dirMode); err != nil {
		return "", err
	}
	base := filepath.Join(x.dir, name)
	for i := 1; ; i++ {
		p := base
		if i > 1 {
			p = base + "_" + strconv.Itoa(i)
		}
		err := os.Mkdir(p, dirMode)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) || i == 1000 {
			return "", err
		}
	}
}

// reserve makes room for n more bytes, deleting the oldest complete folders
// as needed; false means n does not fit even in an empty archive.
func (x *archiveIndex) reserve(n int64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for x.used+n > x.quota && len(x.folders) > 0 {
		old := x.folders[0]
		x.folders = x.folders[1:]
		if err := os.RemoveAll(old.path); err != nil {
			x.errs.report(errRemove, err, logrus.Fields{"dir": old.path})
		}
		x.used -= old.size
		x.st.archiveQuotaDeletions.Add(1)
	}
	if x.used+n > x.quota {
		return false
	}
	x.used += n
	x.st.archiveBytes.Store(x.used)
	return true
}

func (x *archiveIndex) release(n int64) {
	x.mu.Lock()
	x.used -= n
	x.st.archiveBytes.Store(x.used)
	x.mu.Unlock()
}

// commit records a finished folder; extra is bytes written without a
// reservation (alert.json must exist even in a full archive).
func (x *archiveIndex) commit(dir string, size, extra int64) {
	x.mu.Lock()
	x.folders = append(x.folders, archFolder{dir, size})
	x.used += extra
	x.st.archiveBytes.Store(x.used)
	x.mu.Unlock()
}

// fill moves the handed-over files into dir, newest part of each connection
// first so that a tight quota keeps the packets nearest the alert. A file
// that cannot be stored is deleted rather than left untracked in -l.
func (x *archiveIndex) fill(dir string, set archiveSet) (paths []string, size int64, err error) {
	files := set.files
	slices.SortStableFunc(files, func(a, b movedFile) int { return cmp.Compare(a.rank, b.rank) })
	if set.ring != nil {
		n := int64(len(set.ring))
		p := filepath.Join(dir, recentFile)
		if !x.reserve(n) {
			x.st.archiveQuotaDropped.Add(1)
		} else if werr := os.WriteFile(p, set.ring, fileMode); werr != nil {
			os.Remove(p)
			x.release(n)
			x.errs.report(errArchiveWrite, werr, logrus.Fields{"file": p})
			err = errors.Join(err, werr)
		} else {
			paths = append(paths, p)
			size += n
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.Base(f.path))
		if !x.reserve(f.size) {
			x.st.archiveQuotaDropped.Add(1)
			removeQuiet(f.path)
			continue
		}
		if merr := moveFile(f.path, p); merr != nil {
			x.release(f.size)
			x.errs.report(errMove, merr, logrus.Fields{"file": f.path, "to": p})
			err = errors.Join(err, merr)
			removeQuiet(f.path)
			continue
		}
		paths = append(paths, p)
		size += f.size
	}
	slices.Sort(paths)
	return paths, size, err
}

func removeQuiet(path string) {
	_ = os.Remove(path)
}

// moveFile renames, or copies and deletes when dst is on another file
// system.
func moveFile(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return err
	}
	return os.Remove(src)
}

// writeFileAtomic writes via a temporary file so a reader never sees half
// an alert.json.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, fileMode); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
