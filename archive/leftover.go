package archive

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
)

// leftoverSuffix names the -archive_dir folder that receives what an earlier
// run left in -l, behind the usual time prefix.
const leftoverSuffix = "leftover"

// handleLeftovers deals with the part files a previous run left in -l (a
// crash, a SIGKILL, or live connections at shutdown): deleted (the first
// ones kept as spares, header only), or, with KeepLeftovers, repaired (a
// crash can only cut the last record) and moved to
// "<archive_dir>/<now>_leftover/". Nothing here stops the start: every
// failure is logged and counted. Files that do not look like ours are left
// alone.
func (r *Recorder) handleLeftovers() {
	ents, err := os.ReadDir(r.cfg.LogDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.errs.report(errLeftover, err, logrus.Fields{"dir": r.cfg.LogDir})
		}
		return
	}
	keep := r.cfg.KeepLeftovers && r.arch != nil
	var dir string
	var size int64
	var moved int
	for _, e := range ents {
		if !e.Type().IsRegular() || !isPartName(e.Name()) {
			continue
		}
		path := filepath.Join(r.cfg.LogDir, e.Name())
		r.st.leftovers.Add(1)
		if keep {
			if ok, n := r.keepLeftover(path, &dir); ok {
				size += n
				moved++
				continue
			}
		}
		if r.w.io.spares.recycle(path) {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.errs.report(errLeftover, err, logrus.Fields{"file": path})
		}
	}
	if dir != "" {
		r.arch.commit(dir, size, 0)
	}
	if n := r.st.leftovers.Load(); n > 0 {
		r.log.WithFields(logrus.Fields{"files": n, "archived": moved, "dir": r.cfg.LogDir}).Info("archive: handled files left by an earlier run")
	}
}

// keepLeftover repairs one file and moves it into the leftover folder,
// creating that on first use. false means the caller deletes the file.
func (r *Recorder) keepLeftover(path string, dir *string) (bool, int64) {
	_, cut, err := repairFile(path)
	if err != nil {
		r.errs.report(errLeftover, err, logrus.Fields{"file": path})
		return false, 0
	}
	if cut > 0 {
		r.log.WithFields(logrus.Fields{"file": path, "bytes": cut}).Warn("archive: cut a partial last record from a leftover file")
	}
	info, err := os.Stat(path)
	if err != nil {
		r.errs.report(errLeftover, err, logrus.Fields{"file": path})
		return false, 0
	}
	if *dir == "" {
		d, err := r.arch.mkdirNamed(time.Now().UTC().Format(folderTimeLayout) + "_" + leftoverSuffix)
		if err != nil {
			r.errs.report(errMkdir, err, logrus.Fields{"dir": r.cfg.ArchiveDir})
			return false, 0
		}
		*dir = d
	}
	if !r.arch.reserve(info.Size()) {
		r.st.archiveQuotaDropped.Add(1)
		return false, 0
	}
	to := filepath.Join(*dir, filepath.Base(path))
	if err := moveFile(path, to); err != nil {
		r.arch.release(info.Size())
		r.errs.report(errMove, err, logrus.Fields{"file": path, "to": to})
		return false, 0
	}
	return true, info.Size()
}
