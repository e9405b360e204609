package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/testdata/synth"
)

// TestNetnsVethLiveCapture runs wherefore for real on one end of a veth pair
// whose two ends live in two network namespaces of their own, and replays a
// generated capture with a labelled exfiltration into the other end with
// tcpreplay: seven quiet seconds of the labelled pair, then its transfer in
// one second. The alert must arrive within two intervals of the transfer's
// start with at least the transfer's bytes, SIGTERM must exit 0, and the
// kernel's capture counters must be reported at exit. A second run with a
// tiny kernel buffer and a fast burst must report dropped packets.
//
// Nothing touches the root namespace: the links are created inside the test
// namespaces and deleted with them; the replayed frames carry the generator's
// documentation and private addresses and never leave the veth pair (the
// receiving namespace's stack drops them: their destination MAC is not its).
func TestNetnsVethLiveCapture(t *testing.T) {
	ci := os.Getenv("CI") != ""
	need := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf("CI: "+format+" (.ci/run should have provided it)", args...)
		}
		t.Skipf(format+"; skipped", args...)
	}
	if os.Geteuid() != 0 {
		t.Skip("netns/veth live capture needs root (to create network namespaces and veth links); skipped")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		need("the ip command (iproute2) is not installed")
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		need("ip netns is unavailable: %v: %s", err, out)
	}
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		need("tcpreplay is not installed (apt-get install tcpreplay)")
	}

	const interval = time.Second
	capt := newNetnsCaptures(t, interval)
	n := newVethPair(t)

	t.Run("alert", func(t *testing.T) { netnsAlert(t, n, capt, interval) })
	t.Run("drops", func(t *testing.T) { netnsDrops(t, n, capt) })
}

// netnsCaptures are the replayed files, cut from one generated scenario: the
// labelled pair's packets (both directions) of each quiet interval before
// the transfer, then of the transfer's interval.
type netnsCaptures struct {
	label      synth.Label
	quiet      []string // one file per interval; "" when the pair was silent
	burst      string
	burstBytes int64 // wire bytes src->dst in the burst file (== label.Bytes)
	packets    int   // frames in all the files
}

func newNetnsCaptures(t *testing.T, interval time.Duration) *netnsCaptures {
	t.Helper()
	const quietIntervals = 7
	s := synth.Exfil(17)
	s.Interval = interval
	s.Hosts = 23 // host 22 is the exfiltrating 10.0.1.23
	s.Heavy = 0
	s.Exfil.At = quietIntervals + 1
	s.Exfil.Bytes = 4 << 20
	s.Duration = time.Duration(s.Exfil.At+1) * interval
	path, sum := writeScenario(t, "netns-exfil.pcap", s, synth.Options{})
	if len(sum.Labels) != 1 {
		t.Fatalf("labels %v", sum.Labels)
	}
	c := &netnsCaptures{label: sum.Labels[0]}
	if want := s.Start.Add(time.Duration(s.Exfil.At) * interval); !c.label.IntervalStart.Equal(want) {
		t.Fatalf("label at %s, want %s", c.label.IntervalStart, want)
	}

	r := openPcap(t, path)
	reverse := c.label.Dst + "->" + c.label.Src
	byInterval := make([][]netnsPacket, s.Exfil.At+1)
	for {
		data, info, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		nl := p.NetworkLayer()
		if nl == nil {
			continue
		}
		key := nl.NetworkFlow().Src().String() + "->" + nl.NetworkFlow().Dst().String()
		if key != c.label.Key && key != reverse {
			continue
		}
		if info.CaptureLength != info.Length {
			t.Fatalf("frame cut at %d of %d bytes: the replay would not reproduce the wire bytes", info.CaptureLength, info.Length)
		}
		i := int(info.Timestamp.Sub(s.Start) / interval)
		if i < 1 || i >= len(byInterval) { // interval 0 may be partial
			continue
		}
		byInterval[i] = append(byInterval[i], netnsPacket{info, data, key == c.label.Key})
	}
	dir := t.TempDir()
	write := func(name string, pkts []netnsPacket) string {
		if len(pkts) == 0 {
			return ""
		}
		path := filepath.Join(dir, name)
		var b bytes.Buffer
		w := pcapgo.NewWriter(&b)
		if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			if err := w.WritePacket(p.info, p.data); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		c.packets += len(pkts)
		return path
	}
	for i := 1; i < s.Exfil.At; i++ {
		c.quiet = append(c.quiet, write(fmt.Sprintf("quiet%d.pcap", i), byInterval[i]))
	}
	burst := byInterval[s.Exfil.At]
	for _, p := range burst {
		if p.forward {
			c.burstBytes += int64(p.info.Length)
		}
	}
	if c.burstBytes != c.label.Bytes {
		t.Fatalf("burst interval holds %d bytes %s, the label says %d", c.burstBytes, c.label.Key, c.label.Bytes)
	}
	c.burst = write("burst.pcap", burst)
	silent := 0
	for _, q := range c.quiet {
		if q == "" {
			silent++
		}
	}
	if silent > 1 {
		t.Fatalf("the labelled pair is silent in %d of its %d quiet intervals", silent, len(c.quiet))
	}
	return c
}

type netnsPacket struct {
	info    gopacket.CaptureInfo
	data    []byte
	forward bool // src->dst of the label
}

// vethPair is two fresh network namespaces joined by a veth pair: frames
// sent on send arrive on recv.
type vethPair struct {
	sendNS, recvNS string
	send, recv     string
}

func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(b)
	n := &vethPair{
		sendNS: "wherefore-test-send-" + id, recvNS: "wherefore-test-recv-" + id,
		send: "wfs" + id, recv: "wfr" + id, // at most 15 characters
	}
	for _, ns := range []string{n.sendNS, n.recvNS} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() {
			// Deleting a namespace destroys the veth end inside it, and so
			// the pair; the explicit delete makes that immediate.
			exec.Command("ip", "-n", ns, "link", "del", n.send).Run()
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("cleanup: ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	// Created inside the sending namespace with its peer placed straight
	// into the receiving one: no link ever appears in the root namespace.
	ipCmd(t, "-n", n.sendNS, "link", "add", n.send, "type", "veth", "peer", "name", n.recv, "netns", n.recvNS)
	// RFC 2544 benchmarking addresses, used only inside these namespaces.
	for _, end := range []struct{ ns, dev, addr string }{
		{n.sendNS, n.send, "198.18.0.1/30"},
		{n.recvNS, n.recv, "198.18.0.2/30"},
	} {
		ipCmd(t, "-n", end.ns, "link", "set", "dev", end.dev, "addrgenmode", "none") // no IPv6 link-local chatter
		ipCmd(t, "-n", end.ns, "addr", "add", end.addr, "dev", end.dev)
		ipCmd(t, "-n", end.ns, "link", "set", "dev", end.dev, "up")
	}
	return n
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// replay sends a capture's frames out of the sending end as fast as
// possible, loops times over.
func (n *vethPair) replay(t *testing.T, file string, loops int) {
	t.Helper()
	if file == "" {
		return
	}
	args := []string{"netns", "exec", n.sendNS, "tcpreplay", "-q", "--topspeed", "-i", n.send}
	if loops > 1 {
		args = append(args, "--loop="+strconv.Itoa(loops))
	}
	if out, err := exec.Command("ip", append(args, file)...).CombinedOutput(); err != nil {
		t.Fatalf("tcpreplay %s: %v: %s", filepath.Base(file), err, out)
	}
}

// netnsDaemon is wherefore capturing on the receiving end, inside its namespace.
type netnsDaemon struct {
	cmd    *exec.Cmd
	stdout *timedLines
	stderr *syncBuffer
}

func (n *vethPair) startWherefore(t *testing.T, extra ...string) *netnsDaemon {
	t.Helper()
	args := append([]string{"netns", "exec", n.recvNS, binary, "-i", n.recv,
		"-w", "200ms", "-alerts_file", "-", "-l", t.TempDir(), "-host", "netns-test"}, extra...)
	// ip netns exec execs the command in place: the pid is wherefore's.
	d := &netnsDaemon{cmd: exec.Command("ip", args...), stdout: &timedLines{}, stderr: newSyncBuffer()}
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			d.cmd.Wait()
		}
	})
	waitFor(t, d.stderr, "wherefore started", 10*time.Second)
	return d
}

// stop sends SIGTERM, requires exit 0 and returns the kernel counters of the
// exit log line.
func (d *netnsDaemon) stop(t *testing.T) (received, dropped uint64) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-done
		t.Fatalf("did not stop within 20s of SIGTERM:\n%s", d.stderr.String())
	}
	// The last counters line is the one logged at exit.
	var line string
	for _, l := range strings.Split(d.stderr.String(), "\n") {
		if strings.Contains(l, "kernel capture counters") {
			line = l
		}
	}
	rm, dm := receivedRE.FindStringSubmatch(line), droppedRE.FindStringSubmatch(line)
	if rm == nil || dm == nil {
		t.Fatalf("no kernel capture counters with received= and dropped= at exit:\n%s", d.stderr.String())
	}
	received, _ = strconv.ParseUint(rm[1], 10, 64)
	dropped, _ = strconv.ParseUint(dm[1], 10, 64)
	return received, dropped
}

// The fields of the counters log line (not if_dropped=).
var (
	receivedRE = regexp.MustCompile(`(?:^|\s)received=(\d+)`)
	droppedRE  = regexp.MustCompile(`(?:^|\s)dropped=(\d+)`)
)

func netnsAlert(t *testing.T, n *vethPair, c *netnsCaptures, interval time.Duration) {
	d := n.startWherefore(t, "-transfer_interval", interval.String())

	// Each interval's file a little after the interval's wall-clock start,
	// so every packet's capture time falls inside it.
	alignToSecond()
	t0 := time.Now().Truncate(time.Second)
	at := func(k int) time.Time { return t0.Add(time.Duration(k)*interval + 50*time.Millisecond) }
	for k, q := range c.quiet {
		time.Sleep(time.Until(at(k)))
		n.replay(t, q, 1)
	}
	time.Sleep(time.Until(at(len(c.quiet))))
	burstStart := at(len(c.quiet)).Truncate(interval)
	n.replay(t, c.burst, 1)
	if end := time.Now(); end.After(burstStart.Add(interval)) {
		t.Fatalf("the burst's replay ended at %s, after its interval (%s + %s): machine too slow", end.Format(time.StampMilli), burstStart.Format(time.StampMilli), interval)
	}

	// Read the alerts as they come, up to a little past the deadline so a
	// late one is reported as late rather than missing.
	deadline := burstStart.Add(2 * interval)
	var got *alert.Alert
	var arrived time.Time
	for got == nil && time.Now().Before(deadline.Add(3*time.Second)) {
		for _, l := range d.stdout.lines() {
			var a alert.Alert
			if err := json.Unmarshal([]byte(l.text), &a); err != nil {
				t.Fatalf("stdout line is not an alert record: %q: %v", l.text, err)
			}
			if a.Key == c.label.Key {
				got, arrived = &a, l.at
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got == nil {
		t.Fatalf("no alert for %s within %s of the burst:\nstdout:\n%s\nstderr:\n%s", c.label.Key, time.Since(burstStart).Round(time.Millisecond), d.stdout.String(), d.stderr.String())
	}
	t.Logf("alert %s at %s, %s after the burst's start: %d bytes (burst %d), series %v, p=%.3f",
		got.Key, arrived.Format(time.StampMilli), arrived.Sub(burstStart).Round(time.Millisecond), got.Bytes, c.burstBytes, got.Series, got.Probability)
	if arrived.After(deadline) {
		t.Errorf("alert arrived %s after the burst's start, later than two intervals", arrived.Sub(burstStart))
	}
	if !got.IntervalStart.Equal(burstStart) || got.IntervalSeconds != interval.Seconds() {
		t.Errorf("alert for interval %s (%vs), the burst was sent in %s", got.IntervalStart, got.IntervalSeconds, burstStart)
	}
	if got.Bytes < uint64(c.burstBytes) {
		t.Errorf("alert bytes %d < the burst's %d", got.Bytes, c.burstBytes)
	}
	if got.Src != c.label.Src || got.Dst != c.label.Dst || got.Host != "netns-test" {
		t.Errorf("alert %+v", got)
	}

	received, dropped := d.stop(t)
	t.Logf("kernel counters: received=%d dropped=%d (%d frames replayed)", received, dropped, c.packets)
	if received < uint64(c.packets) {
		t.Errorf("kernel counters: received=%d, fewer than the %d frames replayed", received, c.packets)
	}
	for _, a := range parseAlerts(t, d.stdout.String()) {
		if a.Key != c.label.Key {
			t.Errorf("unexpected alert %s at %s (%d bytes)", a.Key, a.IntervalStart, a.Bytes)
		}
	}
}

// netnsDrops replays the burst several times over at top speed into a
// 64 KiB kernel buffer: the kernel drops packets and the exit line says so.
func netnsDrops(t *testing.T, n *vethPair, c *netnsCaptures) {
	const loops = 3
	d := n.startWherefore(t, "-transfer_interval", "1s", "-buffer_size", "65536")
	n.replay(t, c.burst, loops)
	time.Sleep(500 * time.Millisecond)
	received, dropped := d.stop(t)
	t.Logf("kernel counters with a 64 KiB buffer: received=%d dropped=%d (%d frames replayed)", received, dropped, loops*countFrames(t, c.burst))
	if received == 0 {
		t.Errorf("received=0: the burst was not seen")
	}
	if dropped == 0 {
		t.Errorf("dropped=0: a %d-times replayed %d-byte burst into a 64 KiB buffer dropped nothing", loops, c.burstBytes)
	}
}

// openPcap reads a classic pcap file; the end of the test closes it.
func openPcap(t *testing.T, path string) *pcapgo.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := pcapgo.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func countFrames(t *testing.T, file string) int {
	t.Helper()
	r := openPcap(t, file)
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			return n
		}
		n++
	}
}

// timedLines is an io.Writer that keeps complete lines with the time each
// was written, for a process's stdout read as it comes.
type timedLines struct {
	mu      sync.Mutex
	partial []byte
	done    []timedLine
	all     bytes.Buffer
}

type timedLine struct {
	at   time.Time
	text string
}

func (w *timedLines) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.done = append(w.done, timedLine{now, string(w.partial[:i])})
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *timedLines) lines() []timedLine {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]timedLine(nil), w.done...)
}

func (w *timedLines) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}
