// Package sockets attributes an IP flow to the local processes that own
// its sockets, from Linux's /proc. It serves alerts, never the packet path:
// an alert about a flow of this host can then say which program moved the
// bytes.
package sockets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"

	"github.com/wherefore/wherefore/alert"
)

// Owners finds the local processes that own the sockets of a flow,
// from /proc: the socket tables (net/tcp, tcp6, udp, udp6) name each
// socket's addresses and inode, and /proc/PID/fd links "socket:[inode]"
// to the processes holding it.
//
// It is meant for the alert path, never per packet: answers are cached per
// address pair for the TTL, and the inode-to-process map, whose rebuild
// reads every process's descriptors, is rebuilt once per TTL, and before
// that only when an alert names a socket that did not exist at the last
// rebuild. The alerts of one interval are about sockets that existed when
// it ended, so a burst of alerts costs at most one rebuild. An Owners
// is safe for concurrent use.
//
// Unprivileged, it sees the descriptors of its own user's processes only
// (the kernel hides the others' /proc/PID/fd); sockets of other users are
// then reported in the note, with the socket owner's user, not silently
// missing.
type Owners struct {
	fs   procfs.FS
	root string
	ttl  time.Duration
	// now and localAddrs are fields so that tests can move time and pick
	// the host's addresses.
	now        func() time.Time
	localAddrs func() ([]netip.Addr, error)

	mu      sync.Mutex
	results map[[2]netip.Addr]ownersResult
	inodes  inodeMap
	local   map[netip.Addr]bool
	localAt time.Time
	users   map[uint64]string
}

// ownersResult is one cached answer.
type ownersResult struct {
	procs []alert.Process
	note  string
	at    time.Time
}

// inodeMap maps the inodes of the IP sockets that existed at a rebuild to
// the pids holding them; a socket no visible process holds maps to nil, so
// that it does not cause another rebuild.
type inodeMap struct {
	pids map[uint64][]int
	at   time.Time
	// hidden counts processes whose descriptors could not be listed: a
	// socket missing from pids may belong to one of them.
	hidden int
}

const (
	// maxCachedFlows bounds the answer cache: an alert storm over many
	// flows must not grow memory without bound.
	maxCachedFlows = 1024
	// maxInodes bounds the inode map. Past it only the inodes the current
	// lookup wants are kept; a host with more IP sockets than this pays a
	// rebuild per lookup instead of the memory.
	maxInodes = 1 << 17
	// maxProcesses bounds the processes reported for one flow (a socket
	// inherited by the workers of a pre-forking server can have many).
	maxProcesses = 16
	// maxUsers bounds the uid-to-name cache.
	maxUsers = 256
	// tcpListen is the TCP_LISTEN state in the socket tables.
	tcpListen = 0x0a
)

// ErrTTL is returned by NewOwners for a cache TTL that is not positive.
var ErrTTL = errors.New("process attribution cache TTL must be positive")

// NewOwners returns an Owners reading the proc filesystem at
// procRoot ("" for /proc) and caching answers for ttl.
func NewOwners(procRoot string, ttl time.Duration) (*Owners, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("process attribution needs Linux's /proc, not available on %s", runtime.GOOS)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("%w, not %v", ErrTTL, ttl)
	}
	if procRoot == "" {
		procRoot = procfs.DefaultMountPoint
	}
	pfs, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil, fmt.Errorf("process attribution: %w", err)
	}
	// Fail now rather than on every alert when this is no proc tree.
	if _, err := os.Stat(filepath.Join(procRoot, "net", "tcp")); err != nil {
		return nil, fmt.Errorf("process attribution: %w", err)
	}
	return &Owners{
		fs:         pfs,
		root:       procRoot,
		ttl:        ttl,
		now:        time.Now,
		localAddrs: interfaceAddrs,
		results:    make(map[[2]netip.Addr]ownersResult),
		users:      make(map[uint64]string),
	}, nil
}

// interfaceAddrs lists the addresses of this host's interfaces.
func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// IsLocal reports whether a is an address of this host (any loopback
// address counts): only flows with a local end can have a local socket.
func (s *Owners) IsLocal(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isLocal(a.Unmap())
}

func (s *Owners) isLocal(a netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	if now := s.now(); s.local == nil || now.Sub(s.localAt) >= s.ttl {
		// On error keep the old set: addresses rarely change, and an empty
		// set would call every flow forwarded.
		if as, err := s.localAddrs(); err == nil {
			s.local = make(map[netip.Addr]bool, len(as))
			for _, x := range as {
				s.local[x.Unmap()] = true
			}
			s.localAt = now
		}
	}
	return s.local[a]
}

// Lookup returns the local processes owning sockets of the flow between
// src and dst, in either direction (the flow may go out from or come in to
// this host), ordered by pid, and a note for people: why the list is
// empty, or why it is only a guess. The note is empty when connected
// sockets matched and all their processes were found.
//
// Connected TCP and UDP sockets whose ends are the two addresses match,
// IPv4-mapped IPv6 sockets included. When none does, UDP sockets bound to
// the local address (or to all addresses) but connected to no peer are
// reported, as the note says: a sender using sendto on such a socket leaves
// no other trace.
func (s *Owners) Lookup(ctx context.Context, src, dst netip.Addr) ([]alert.Process, string) {
	if !src.IsValid() || !dst.IsValid() {
		return nil, "no local socket: the flow's addresses are not IP addresses"
	}
	src, dst = src.Unmap(), dst.Unmap()
	key := [2]netip.Addr{src, dst}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if r, ok := s.results[key]; ok && now.Sub(r.at) < s.ttl {
		return cloneProcesses(r.procs), r.note
	}
	procs, note, cache := s.lookup(ctx, src, dst)
	if cache {
		s.remember(key, ownersResult{procs: procs, note: note, at: now})
	}
	return cloneProcesses(procs), note
}

// cloneProcesses copies ps so that callers may keep or change the result
// without touching the cache.
func cloneProcesses(ps []alert.Process) []alert.Process {
	if ps == nil {
		return nil
	}
	out := slices.Clone(ps)
	for i := range out {
		out[i].Sockets = slices.Clone(out[i].Sockets)
	}
	return out
}

// remember caches r, first dropping expired answers and then, if still
// full, the oldest.
func (s *Owners) remember(key [2]netip.Addr, r ownersResult) {
	if len(s.results) >= maxCachedFlows {
		var oldest [2]netip.Addr
		var oldestAt time.Time
		for k, v := range s.results {
			if r.at.Sub(v.at) >= s.ttl {
				delete(s.results, k)
				continue
			}
			if oldestAt.IsZero() || v.at.Before(oldestAt) {
				oldest, oldestAt = k, v.at
			}
		}
		if len(s.results) >= maxCachedFlows {
			delete(s.results, oldest)
		}
	}
	s.results[key] = r
}

// socket is one line of a socket table.
type socket struct {
	proto         string // "tcp" or "udp"
	local, remote netip.AddrPort
	state         uint64
	inode, uid    uint64
}

func (k socket) String() string {
	if k.proto == "udp" && !k.remote.Addr().IsValid() {
		return "udp " + k.local.String() + " (not connected)"
	}
	s := k.proto + " " + k.local.String() + "->" + k.remote.String()
	if k.proto == "tcp" {
		s += " " + tcpStateName(k.state)
	}
	return s
}

// tcpStateName names the states of include/net/tcp_states.h.
func tcpStateName(st uint64) string {
	names := [...]string{1: "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}
	if st < uint64(len(names)) && names[st] != "" {
		return names[st]
	}
	return "state " + strconv.FormatUint(st, 16)
}

// lookup answers Lookup without the cache; cache says whether the answer
// may be cached (not when /proc could not be read or ctx ended).
func (s *Owners) lookup(ctx context.Context, src, dst netip.Addr) (procs []alert.Process, note string, cache bool) {
	socks, err := s.readSockets()
	if err != nil {
		return nil, "process lookup failed: " + err.Error(), false
	}
	var exact, bound, wildcard []socket
	srcLocal, dstLocal := s.isLocal(src), s.isLocal(dst)
	for _, k := range socks {
		l, r := k.local.Addr(), k.remote.Addr()
		switch {
		case (l == src && r == dst) || (l == dst && r == src):
			exact = append(exact, k)
		case k.proto != "udp" || r.IsValid():
			// Connected sockets of other flows are not ours.
		case l == src || l == dst:
			bound = append(bound, k)
		case l.IsUnspecified() && ((srcLocal && unspecifiedCovers(l, src)) || (dstLocal && unspecifiedCovers(l, dst))):
			wildcard = append(wildcard, k)
		}
	}
	var match []socket
	switch {
	case len(exact) > 0:
		match = exact
	case len(bound) > 0:
		match = bound
		note = "no connected socket matches; UDP sockets bound to the flow's local address but connected to no peer do, so one of them may carry the flow"
	case len(wildcard) > 0:
		match = wildcard
		note = "no connected socket matches; UDP sockets bound to all addresses and connected to no peer may carry the flow (a guess: ports are not part of the flow)"
	case !srcLocal && !dstLocal:
		return nil, fmt.Sprintf("no local socket: neither %s nor %s is an address of this host (forwarded or spoofed traffic)", src, dst), true
	default:
		return nil, fmt.Sprintf("no local socket connects %s and %s: the connection closed before the alert, or the traffic is not TCP/UDP, forwarded or spoofed", src, dst), true
	}

	var want []uint64
	var closed []socket
	for _, k := range match {
		if k.inode == 0 {
			// TIME_WAIT and orphaned sockets have no inode: no process
			// holds them any more.
			closed = append(closed, k)
			continue
		}
		want = append(want, k.inode)
	}
	if len(want) == 0 {
		return nil, "connection closed before the alert, no process holds its socket any more: " + describeSockets(closed), true
	}
	pids, hidden, err := s.pidsOf(ctx, want, socks)
	if err != nil {
		return nil, "process lookup failed: " + err.Error(), false
	}

	byPID := make(map[int][]string)
	var unseen []socket
	for _, k := range match {
		if k.inode == 0 {
			continue
		}
		ps := pids[k.inode]
		if len(ps) == 0 {
			unseen = append(unseen, k)
		}
		for _, pid := range ps {
			byPID[pid] = append(byPID[pid], k.String())
		}
	}
	order := make([]int, 0, len(byPID))
	for pid := range byPID {
		order = append(order, pid)
	}
	slices.Sort(order)
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	if len(order) > maxProcesses {
		notes = append(notes, fmt.Sprintf("%d of %d processes listed", maxProcesses, len(order)))
		order = order[:maxProcesses]
	}
	for _, pid := range order {
		if p, ok := s.process(pid); ok {
			p.Sockets = byPID[pid]
			procs = append(procs, p)
		}
	}
	if len(unseen) > 0 {
		notes = append(notes, s.unseenNote(unseen, hidden, len(procs) > 0))
	}
	return procs, strings.Join(notes, "; "), true
}

// unspecifiedCovers reports whether a socket bound to the unspecified
// address l receives traffic for a: 0.0.0.0 covers IPv4, :: covers both
// (dual-stack sockets are the default).
func unspecifiedCovers(l, a netip.Addr) bool {
	return l.Is6() || a.Is4()
}

// unseenNote explains sockets whose process was not found.
func (s *Owners) unseenNote(unseen []socket, hidden int, others bool) string {
	k := unseen[0]
	what := fmt.Sprintf("socket found (inode %d, user %s)", k.inode, s.userName(k.uid))
	its, it := "its process is", "it"
	if len(unseen) > 1 {
		what = fmt.Sprintf("%d sockets found (e.g. inode %d, user %s)", len(unseen), k.inode, s.userName(k.uid))
		its, it = "their processes are", "them"
	}
	if others {
		what = "also " + what
	}
	if hidden > 0 {
		return what + " but " + its + " not visible to this user: run with CAP_SYS_PTRACE or as root"
	}
	return what + " but no process holds " + it + ": closed during the lookup"
}

func describeSockets(ks []socket) string {
	out := make([]string, 0, min(len(ks), 3))
	for i, k := range ks {
		if i == 3 {
			out = append(out, "...")
			break
		}
		out = append(out, k.String())
	}
	return strings.Join(out, ", ")
}

// readSockets reads the four socket tables. A missing table (IPv6 disabled)
// is empty; any other failure is an error.
func (s *Owners) readSockets() ([]socket, error) {
	var out []socket
	for _, t := range []struct {
		name, proto string
		read        func() (procfs.NetTCP, error)
	}{
		{"tcp", "tcp", s.fs.NetTCP},
		{"tcp6", "tcp", s.fs.NetTCP6},
		{"udp", "udp", func() (procfs.NetTCP, error) { l, err := s.fs.NetUDP(); return procfs.NetTCP(l), err }},
		{"udp6", "udp", func() (procfs.NetTCP, error) { l, err := s.fs.NetUDP6(); return procfs.NetTCP(l), err }},
	} {
		lines, err := t.read()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", filepath.Join(s.root, "net", t.name), err)
		}
		for _, l := range lines {
			if l.St == tcpListen && t.proto == "tcp" {
				continue // a listener carries no traffic itself
			}
			k := socket{proto: t.proto, state: l.St, inode: l.Inode, uid: l.UID}
			la, _ := netip.AddrFromSlice(l.LocalAddr)
			k.local = netip.AddrPortFrom(la.Unmap(), uint16(l.LocalPort))
			// An unconnected socket's peer is the unspecified address and
			// port 0; leave it invalid so that it matches nothing.
			if ra, ok := netip.AddrFromSlice(l.RemAddr); ok && !(ra.IsUnspecified() && l.RemPort == 0) {
				k.remote = netip.AddrPortFrom(ra.Unmap(), uint16(l.RemPort))
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// pidsOf returns the inode map, rebuilt when it is older than the TTL or
// lacks a wanted inode (the socket is newer than the map). socks are the
// sockets just read, all of which exist before a rebuild starts.
func (s *Owners) pidsOf(ctx context.Context, want []uint64, socks []socket) (map[uint64][]int, int, error) {
	now := s.now()
	stale := s.inodes.pids == nil || now.Sub(s.inodes.at) >= s.ttl
	for _, in := range want {
		if _, ok := s.inodes.pids[in]; !ok {
			stale = true
			break
		}
	}
	if stale {
		m, err := s.scan(ctx, want, socks)
		if err != nil {
			return nil, 0, err
		}
		m.at = now
		s.inodes = m
	}
	return s.inodes.pids, s.inodes.hidden, nil
}

// scan reads every process's descriptors and maps the inodes of socks to
// pids. Other sockets (unix, netlink: most of a host's) are left out.
func (s *Owners) scan(ctx context.Context, want []uint64, socks []socket) (inodeMap, error) {
	procs, err := s.fs.AllProcs()
	if err != nil {
		return inodeMap{}, fmt.Errorf("listing processes in %s: %w", s.root, err)
	}
	ip := make(map[uint64]bool, len(socks))
	for _, k := range socks {
		if k.inode != 0 {
			ip[k.inode] = true
		}
	}
	m := inodeMap{pids: make(map[uint64][]int)}
	for i, p := range procs {
		if i%64 == 0 && ctx.Err() != nil {
			return inodeMap{}, fmt.Errorf("scanning processes: %w", ctx.Err())
		}
		targets, err := p.FileDescriptorTargets()
		if err != nil {
			// A process that exited meanwhile is not hidden; one whose
			// descriptors the kernel will not show us is.
			if !errors.Is(err, fs.ErrNotExist) {
				m.hidden++
			}
			continue
		}
		for _, t := range targets {
			in, ok := socketInode(t)
			if !ok || !ip[in] || (len(m.pids) >= maxInodes && !slices.Contains(want, in)) {
				continue
			}
			ps := m.pids[in]
			if !slices.Contains(ps, p.PID) { // dup'ed descriptors
				m.pids[in] = append(ps, p.PID)
			}
		}
	}
	for in := range ip {
		if _, ok := m.pids[in]; !ok && len(m.pids) < maxInodes {
			m.pids[in] = nil
		}
	}
	return m, nil
}

// socketInode parses a descriptor's link target "socket:[12345]".
func socketInode(target string) (uint64, bool) {
	rest, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

// process describes pid; ok is false when it has exited.
func (s *Owners) process(pid int) (alert.Process, bool) {
	out := alert.Process{PID: pid}
	p, err := s.fs.Proc(pid)
	if err != nil {
		return out, false
	}
	out.Name, err = p.Comm()
	if errors.Is(err, fs.ErrNotExist) {
		return out, false
	}
	if args, err := p.CmdLine(); err == nil {
		out.Cmdline = strings.Join(args, " ")
	}
	if st, err := p.NewStatus(); err == nil {
		out.User = s.userName(st.UIDs[1]) // effective uid, as ps shows
	}
	return out, true
}

// userName resolves uid, falling back to the number.
func (s *Owners) userName(uid uint64) string {
	if n, ok := s.users[uid]; ok {
		return n
	}
	id := strconv.FormatUint(uid, 10)
	n := id
	if u, err := user.LookupId(id); err == nil {
		n = u.Username
	}
	if len(s.users) >= maxUsers {
		clear(s.users)
	}
	s.users[uid] = n
	return n
}
