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

// Conns narrows an archive to the connections an alert is about.
type Conns uint8

const (
	// AllConns takes every connection of the pair or the address.
	AllConns Conns = iota
	// ICMPConns takes ICMP and ICMPv6 only: the evidence of an ICMP tunnel.
	ICMPConns
	// DNSConns takes TCP and UDP port 53 only: the evidence of a DNS tunnel.
	DNSConns
)

func (c Conns) match(k connKey) bool {
	switch c {
	case ICMPConns:
		return k.proto == 1 || k.proto == 58
	case DNSConns:
		return (k.proto == protoTCP || k.proto == protoUDP) && (k.pa == 53 || k.pb == 53)
	}
	return true
}

// suffix ends a host archive's folder name: what it holds of the address.
func (c Conns) suffix() string {
	switch c {
	case ICMPConns:
		return "_icmp"
	case DNSConns:
		return "_dns"
	}
	return "_all"
}

// selector says whose packets an archive takes: the connections between
// two addresses, or every connection of one address, narrowed by conns.
type selector struct {
	pair  pairKey
	host  netip.Addr // set for a host archive; pair is then zero
	conns Conns
}

func (q selector) match(k connKey) bool {
	if !q.conns.match(k) {
		return false
	}
	if q.host.IsValid() {
		return k.a == q.host || k.b == q.host
	}
	return k.a == q.pair.a && k.b == q.pair.b || k.a == q.pair.b && k.b == q.pair.a
}

// raw is match on a key as the index builder holds it, before it is made
// a connKey; it may accept more than match, never less.
func (q selector) raw(k *ckey) bool {
	if q.host.IsValid() {
		h0, h1 := addrWords(q.host)
		return k.a0 == h0 && k.a1 == h1 || k.b0 == h0 && k.b1 == h1
	}
	// ckey orders its endpoints as makePair does not, so try both ways.
	a0, a1 := addrWords(q.pair.a)
	b0, b1 := addrWords(q.pair.b)
	return k.a0 == a0 && k.a1 == a1 && k.b0 == b0 && k.b1 == b1 ||
		k.a0 == b0 && k.a1 == b1 && k.b0 == a0 && k.b1 == a1
}

// addrs lists addresses one of which every connection sel matches has:
// what a cut looks up in a segment's index.
func (q selector) addrs() []netip.Addr {
	if q.host.IsValid() {
		return []netip.Addr{q.host}
	}
	return []netip.Addr{q.pair.a}
}

func (q selector) matchPair(p pairKey) bool {
	if q.host.IsValid() {
		return p.a == q.host || p.b == q.host
	}
	return p == q.pair
}

type archiveReq struct {
	sel   selector
	until int64 // packet time, ns: records before it are taken
	reply chan archiveSet
}

// archiveSet is what the writer hands over for one alert.
type archiveSet struct {
	segs []segRef
	ring []byte // a complete pcap, or nil
}

// answer runs on the writer goroutine, after every queued batch, so the
// spool on disk holds every packet tapped before the request.
func (r *Recorder) answer(q *archiveReq) {
	var s archiveSet
	if r.spool != nil {
		s.segs = r.spool.sealedSegments()
		if ref, ok := r.spool.selectCurrent(q.sel.raw, q.sel.match); ok {
			s.segs = append(s.segs, ref)
		}
	}
	if r.ring != nil {
		s.ring = r.ring.take(q.sel, q.until)
		r.ring.publish()
	}
	q.reply <- s
}

// Archive stores the evidence of alert a in a new folder of -archive_dir,
// named for the alert's time and flow, and returns the paths of the pcap
// files in it; main puts them in a.Archive. With -log_packets the folder
// holds one pcap per connection between a.Src and a.Dst (either
// direction), cut from the spool: its packets from before the end of the
// alerted interval (a.Time) still retained, or, for a repeat alert of the
// flow, those since the previous archive; a connection's packets are split
// into files of -max_pcap_log_size/-max_pcap_rotations MB, at most
// -max_pcap_rotations of them, the newest kept. In flight-recorder mode it
// holds recent.pcap with the pair's ring. conns narrows the spool's
// connections (the flight recorder keeps whole pairs). alert.json is the
// alert with its Archive field filled. With nothing recorded for the flow
// it returns no paths and no error.
//
// Archive may wait for the writer goroutine and reads the spool; it is
// meant for the alert dispatcher, never for the capture goroutine. Safe for
// concurrent use.
func (r *Recorder) Archive(ctx context.Context, a *alert.Alert, conns Conns) ([]string, error) {
	if a == nil {
		return nil, nil
	}
	src, err := netip.ParseAddr(a.Src)
	if err != nil {
		return nil, fmt.Errorf("archive: alert %q: src %q: %w", a.Key, a.Src, err)
	}
	dst, err := netip.ParseAddr(a.Dst)
	if err != nil {
		return nil, fmt.Errorf("archive: alert %q: dst %q: %w", a.Key, a.Dst, err)
	}
	name := addrName(src) + "_" + addrName(dst)
	return r.archive(ctx, a, selector{pair: makePair(src, dst), conns: conns}, src, name)
}

// ArchiveHost is Archive for an alert about one address rather than a
// pair (a scan by a source, a fan-in to a target): the folder
// <alert time>_<host>_all holds every connection of host (_icmp or _dns
// when conns narrows them).
func (r *Recorder) ArchiveHost(ctx context.Context, a *alert.Alert, host netip.Addr, conns Conns) ([]string, error) {
	if a == nil || !host.IsValid() {
		return nil, nil
	}
	host = host.Unmap()
	return r.archive(ctx, a, selector{host: host, conns: conns}, host, addrName(host)+conns.suffix())
}

func (r *Recorder) archive(ctx context.Context, a *alert.Alert, sel selector, first netip.Addr, name string) ([]string, error) {
	if r.arch == nil || !r.enabled {
		return nil, nil
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

	q := &archiveReq{sel: sel, until: a.Time.UnixNano(), reply: make(chan archiveSet, 1)}
	if a.Time.IsZero() {
		q.until = 1<<63 - 1
	}
	select {
	case r.reqs <- q:
	case <-r.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("archive: alert %q: %w", a.Key, ctx.Err())
	}
	set := <-q.reply
	since := r.arch.since(sel, q.until)

	when := a.Time
	if when.IsZero() {
		when = time.Now()
	}
	dir, err := r.arch.mkdirNamed(when.UTC().Format(folderTimeLayout) + "_" + name)
	if err != nil {
		// The evidence had nowhere to go: count what it held.
		lost := r.countEvidence(set, sel, since, q.until)
		r.st.archivesFailed.Add(1)
		r.st.packetsLost.Add(lost)
		r.errs.report(errMkdir, err, logrus.Fields{"flow": a.Key, "dir": r.cfg.ArchiveDir, "packets": lost})
		return nil, fmt.Errorf("archive: alert %q: %w", a.Key, err)
	}
	scratch, _ := r.scratch.Get().(*cutScratch)
	if scratch == nil {
		scratch = new(cutScratch)
	}
	c := cutter{cfg: &r.cfg, hdr: r.hdr, arch: r.arch, st: &r.st, errs: r.errs, scratch: scratch}
	paths, size, err := c.fill(dir, set, sel, first, since, q.until)
	r.scratch.Put(scratch)
	if len(paths) == 0 {
		os.Remove(dir)
		if err != nil {
			r.st.archivesFailed.Add(1)
			return nil, fmt.Errorf("archive: alert %q: %w", a.Key, err)
		}
		return nil, nil
	}
	rec := *a
	rec.Archive = paths
	js, jerr := json.MarshalIndent(&rec, "", "  ")
	if jerr == nil {
		jerr = writeFileAtomic(filepath.Join(dir, alertFile), func(w io.Writer) error {
			_, err := w.Write(append(js, '\n'))
			return err
		})
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

// countEvidence counts the packets an archive would have held.
func (r *Recorder) countEvidence(set archiveSet, sel selector, since, until int64) uint64 {
	var n uint64
	if set.ring != nil {
		n += uint64(countRecords(set.ring))
	}
	rd := newSegReader(set.segs, r.hdr)
	defer rd.close()
	for i := range set.segs {
		conns, _ := set.segs[i].load(sel, since, until)
		for _, c := range conns {
			for _, ref := range c.recs {
				if _, ts, err := rd.readInto(nil, cutRec{i, ref}); err == nil && ts >= since && ts < until {
					n++
				}
			}
		}
	}
	return n
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
	// taken is, per flow, the packet time up to which its packets were
	// archived, so a repeat alert takes only what came since.
	taken map[selector]int64
}

// maxTaken bounds the flows remembered in taken; beyond it the memory is
// dropped, and a repeat alert archives its flow's retained packets anew.
const maxTaken = 1 << 16

// since returns the packet time from which sel's packets are archived now,
// and remembers until for the next alert of sel.
func (x *archiveIndex) since(sel selector, until int64) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.taken == nil || len(x.taken) >= maxTaken {
		x.taken = make(map[selector]int64)
	}
	from := x.taken[sel]
	if until > from {
		x.taken[sel] = until
	}
	return from
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

// mkdirNamed makes a fresh folder for an alert, "<time>_<flow>", with
// "_2", "_3" ... when the same flow alerts twice in one second.
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

// writeFileAtomic writes what fill writes to path through a temporary
// file renamed over it, so a reader never sees half an alert.json or half
// an index.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
