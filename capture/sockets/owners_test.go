package sockets

import (
	"context"
	"encoding/binary"
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
	"testing"
	"time"

	"github.com/wherefore/wherefore/alert"
)

// self describes the test process as Lookup should report it.
func self(t *testing.T) alert.Process {
	t.Helper()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return alert.Process{PID: os.Getpid(), Name: strings.TrimSpace(string(comm)), User: u.Username}
}

func newRealOwners(t *testing.T) *Owners {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("process attribution reads Linux's /proc")
	}
	s, err := NewOwners("", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// findSelf fails unless ps holds the test process, with its name and user.
func findSelf(t *testing.T, what string, ps []alert.Process, note string) {
	t.Helper()
	want := self(t)
	i := slices.IndexFunc(ps, func(p alert.Process) bool { return p.PID == want.PID })
	if i < 0 {
		t.Fatalf("%s: pid %d not among %+v (note %q)", what, want.PID, ps, note)
	}
	if p := ps[i]; p.Name != want.Name || p.User != want.User || p.Cmdline == "" || len(p.Sockets) == 0 {
		t.Errorf("%s: got %+v, want name %q user %q, a command line and sockets", what, p, want.Name, want.User)
	}
}

// tcpPair opens a listener on laddr and a connection to it from caddr,
// and keeps both ends open until the test ends.
func tcpPair(t *testing.T, network, laddr, caddr string) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen(network, laddr)
	if err != nil {
		t.Skipf("cannot listen on %s here: %v", laddr, err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	d := net.Dialer{Timeout: 5 * time.Second}
	if caddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(caddr)}
	}
	client, err = d.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

func TestOwnersFindsOwnTCP(t *testing.T) {
	s := newRealOwners(t)
	ctx := context.Background()
	for _, c := range []struct {
		name, network, listen, from string
		a, b                        netip.Addr
	}{
		// A second loopback address makes the two directions differ.
		{"ipv4", "tcp4", "127.0.0.1:0", "127.0.0.2", netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")},
		{"ipv6", "tcp6", "[::1]:0", "", netip.MustParseAddr("::1"), netip.MustParseAddr("::1")},
	} {
		t.Run(c.name, func(t *testing.T) {
			tcpPair(t, c.network, c.listen, c.from)
			ps, note := s.Lookup(ctx, c.a, c.b)
			findSelf(t, c.a.String()+"->"+c.b.String(), ps, note)
			ps, note = s.Lookup(ctx, c.b, c.a)
			findSelf(t, c.b.String()+"->"+c.a.String(), ps, note)
			if note != "" {
				t.Errorf("note %q for a connected socket", note)
			}
		})
	}
}

func TestOwnersIPv4MappedTCP(t *testing.T) {
	s := newRealOwners(t)
	// A dual-stack listener's accepted IPv4 connections appear in tcp6 as
	// ::ffff:a.b.c.d. Closing the client leaves only that server end with
	// an inode (the closed client end is orphaned, inode 0).
	client, _ := tcpPair(t, "tcp", "[::]:0", "127.0.0.3")
	if _, err := os.Stat("/proc/net/tcp6"); err != nil {
		t.Skip("no IPv6 here")
	}
	client.Close()
	ps, note := s.Lookup(context.Background(), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.1"))
	findSelf(t, "mapped", ps, note)
	for _, p := range ps {
		if p.PID == os.Getpid() && !strings.Contains(strings.Join(p.Sockets, " "), "CLOSE_WAIT") {
			t.Errorf("sockets %q, want the server end in CLOSE_WAIT", p.Sockets)
		}
	}
}

func TestOwnersUDP(t *testing.T) {
	s := newRealOwners(t)
	ctx := context.Background()
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP("127.0.0.4")}, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ps, note := s.Lookup(ctx, netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("127.0.0.1"))
	findSelf(t, "connected udp", ps, note)
	if note != "" {
		t.Errorf("note %q for a connected UDP socket", note)
	}

	// An unconnected socket bound to the local end is the fallback, and
	// the note says it is one.
	unc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP("127.0.0.5")})
	if err != nil {
		t.Fatal(err)
	}
	defer unc.Close()
	ps, note = s.Lookup(ctx, netip.MustParseAddr("127.0.0.5"), netip.MustParseAddr("192.0.2.7"))
	findSelf(t, "unconnected udp", ps, note)
	if !strings.Contains(note, "connected to no peer") {
		t.Errorf("note %q does not say the socket is unconnected", note)
	}
}

func TestOwnersNoLocalSocket(t *testing.T) {
	s := newRealOwners(t)
	ps, note := s.Lookup(context.Background(), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"))
	if len(ps) != 0 || !strings.HasPrefix(note, "no local socket") || !strings.Contains(note, "forwarded or spoofed") {
		t.Errorf("Owners = %+v, %q; want no processes and a \"no local socket\" note", ps, note)
	}
}

// fakeProc is a /proc tree under a temporary directory.
type fakeProc struct {
	t    *testing.T
	root string
	tcp  []string
}

func newFakeProc(t *testing.T) *fakeProc {
	f := &fakeProc{t: t, root: t.TempDir()}
	f.mkdir("net")
	f.writeTCP()
	return f
}

func (f *fakeProc) mkdir(p string) {
	if err := os.MkdirAll(filepath.Join(f.root, p), 0o755); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) write(p, content string) {
	if err := os.WriteFile(filepath.Join(f.root, p), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// procHex writes an IPv4 address as /proc/net/tcp does: the 32-bit word in
// host (little-endian) order.
func procHex(a string) string {
	b := netip.MustParseAddr(a).As4()
	return fmt.Sprintf("%08X", binary.LittleEndian.Uint32(b[:]))
}

// addTCP adds a socket line: state in hex, as the kernel writes it.
func (f *fakeProc) addTCP(local string, lport int, remote string, rport int, state string, uid, inode int) {
	f.tcp = append(f.tcp, fmt.Sprintf("%4d: %s:%04X %s:%04X %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 20 4 30 10 -1",
		len(f.tcp), procHex(local), lport, procHex(remote), rport, state, uid, inode))
	f.writeTCP()
}

func (f *fakeProc) writeTCP() {
	f.write("net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
		strings.Join(f.tcp, "\n")+"\n")
}

// addProc adds a process holding the given socket inodes. visible false
// makes its fd directory unlistable, as the kernel makes another user's
// (a file stands in for the directory: chmod does not stop root).
func (f *fakeProc) addProc(pid int, comm string, uid int, visible bool, inodes ...int) {
	d := strconv.Itoa(pid)
	f.mkdir(d)
	f.write(d+"/comm", comm+"\n")
	f.write(d+"/cmdline", comm+"\x00-T\x00big.tar\x00")
	f.write(d+"/status", fmt.Sprintf("Name:\t%s\nUid:\t%d\t%d\t%d\t%d\n", comm, uid, uid, uid, uid))
	if !visible {
		f.write(d+"/fd", "")
		return
	}
	f.mkdir(d + "/fd")
	f.addFD(pid, 0, "/dev/null")
	for i, in := range inodes {
		f.addFD(pid, 3+i, fmt.Sprintf("socket:[%d]", in))
	}
}

func (f *fakeProc) addFD(pid, fd int, target string) {
	if err := os.Symlink(target, filepath.Join(f.root, strconv.Itoa(pid), "fd", strconv.Itoa(fd))); err != nil {
		f.t.Fatal(err)
	}
}

func TestOwnersFakeProc(t *testing.T) {
	f := newFakeProc(t)
	f.addTCP("10.0.0.5", 51234, "203.0.113.9", 443, "01", 0, 1111)
	f.addTCP("10.0.0.5", 51235, "198.51.100.1", 443, "01", 1001, 2222)
	f.addTCP("10.0.0.5", 51236, "198.51.100.3", 80, "06", 0, 0)
	f.addTCP("10.0.0.5", 51237, "198.51.100.5", 443, "01", 1001, 5555)
	f.addProc(100, "curl", 0, true, 1111)
	f.addProc(200, "secret", 1001, false)

	s, err := NewOwners(f.root, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 10, 0, 5, 0, time.UTC)
	s.now = func() time.Time { return now }
	s.localAddrs = func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("10.0.0.5")}, nil }
	ctx := context.Background()
	host := netip.MustParseAddr("10.0.0.5")
	root := "root"
	if u, err := user.LookupId("0"); err == nil {
		root = u.Username
	}

	ps, note := s.Lookup(ctx, host, netip.MustParseAddr("203.0.113.9"))
	want := []alert.Process{{PID: 100, Name: "curl", User: root, Cmdline: "curl -T big.tar",
		Sockets: []string{"tcp 10.0.0.5:51234->203.0.113.9:443 ESTABLISHED"}}}
	if fmt.Sprint(ps) != fmt.Sprint(want) || note != "" {
		t.Errorf("Owners = %+v, %q\nwant %+v", ps, note, want)
	}

	t.Run("not visible", func(t *testing.T) {
		ps, note := s.Lookup(ctx, netip.MustParseAddr("198.51.100.1"), host)
		if len(ps) != 0 || !strings.Contains(note, "socket found (inode 2222") ||
			!strings.Contains(note, "not visible to this user: run with CAP_SYS_PTRACE or as root") {
			t.Errorf("Owners = %+v, %q; want a note that the process is hidden", ps, note)
		}
	})
	t.Run("time wait", func(t *testing.T) {
		ps, note := s.Lookup(ctx, host, netip.MustParseAddr("198.51.100.3"))
		if len(ps) != 0 || !strings.Contains(note, "connection closed") || !strings.Contains(note, "TIME_WAIT") {
			t.Errorf("Owners = %+v, %q; want a closed-connection note", ps, note)
		}
	})
	t.Run("local without socket", func(t *testing.T) {
		ps, note := s.Lookup(ctx, host, netip.MustParseAddr("192.0.2.99"))
		if len(ps) != 0 || !strings.HasPrefix(note, "no local socket connects 10.0.0.5 and 192.0.2.99") {
			t.Errorf("Owners = %+v, %q", ps, note)
		}
		if _, note := s.Lookup(ctx, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.99")); !strings.Contains(note, "forwarded or spoofed") {
			t.Errorf("non-local pair: note %q", note)
		}
	})

	t.Run("cache", func(t *testing.T) {
		// Within the TTL the answer comes from the cache: the renamed
		// process still reads "curl".
		f.write("100/comm", "wget\n")
		if ps, _ := s.Lookup(ctx, host, netip.MustParseAddr("203.0.113.9")); len(ps) != 1 || ps[0].Name != "curl" {
			t.Errorf("within the TTL: %+v, want the cached curl", ps)
		}
		// The inode map is not rebuilt for a socket that existed when it
		// was built: pid 100 now holding 5555 goes unseen within the TTL.
		f.addFD(100, 8, "socket:[5555]")
		if ps, note := s.Lookup(ctx, host, netip.MustParseAddr("198.51.100.5")); len(ps) != 0 || !strings.Contains(note, "inode 5555") {
			t.Errorf("inode map rebuilt for a known socket: %+v, %q", ps, note)
		}
		// It is rebuilt for a socket newer than the map: the alert is
		// about a transfer that started since.
		f.addTCP("10.0.0.5", 40000, "203.0.113.10", 22, "01", 0, 3333)
		f.addFD(100, 9, "socket:[3333]")
		if ps, note := s.Lookup(ctx, netip.MustParseAddr("203.0.113.10"), host); len(ps) != 1 || ps[0].Name != "wget" ||
			!slices.Equal(ps[0].Sockets, []string{"tcp 10.0.0.5:40000->203.0.113.10:22 ESTABLISHED"}) {
			t.Errorf("new socket: %+v, %q; want wget", ps, note)
		}
		now = now.Add(30 * time.Second)
		if ps, _ := s.Lookup(ctx, host, netip.MustParseAddr("203.0.113.9")); len(ps) != 1 || ps[0].Name != "wget" {
			t.Errorf("after the TTL: %+v, want the fresh wget", ps)
		}
	})
}

func TestOwnersCacheBounded(t *testing.T) {
	f := newFakeProc(t)
	s, err := NewOwners(f.root, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s.localAddrs = func() ([]netip.Addr, error) { return nil, nil }
	base := netip.MustParseAddr("192.0.2.1")
	for i := range maxCachedFlows + 10 {
		dst := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		s.Lookup(context.Background(), base, dst)
	}
	if n := len(s.results); n > maxCachedFlows {
		t.Errorf("%d cached answers, bound %d", n, maxCachedFlows)
	}
}

func TestNewOwnersErrors(t *testing.T) {
	if _, err := NewOwners(t.TempDir(), time.Minute); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a directory without net/tcp as /proc: got %v, want a not-exist error", err)
	}
	if _, err := NewOwners("", 0); !errors.Is(err, ErrTTL) {
		t.Errorf("zero TTL: got %v, want ErrTTL", err)
	}
}
