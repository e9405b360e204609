// Command bench measures wherefore's -pcapfile pipeline as a user runs it:
// whole-process wall time and peak memory on generated captures, against
// tcpdump reading the same file in the same run. `make bench` runs it.
//
//	go run ./testdata/bench -wherefore bin/wherefore
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wherefore/wherefore/testdata/synth"
)

func main() {
	var (
		binary  = flag.String("wherefore", "bin/wherefore", "wherefore binary to measure")
		dir     = flag.String("dir", filepath.Join(os.TempDir(), "wherefore-bench"), "where generated captures are kept between runs")
		runs    = flag.Int("runs", 5, "runs per command; the median is reported")
		packets = flag.Int("packets", 5_000_000, "packets in the throughput capture")
		pairs   = flag.Int("pairs", 50_000, "distinct src->dst pairs in the throughput capture")
		many    = flag.Int("many", 1_000_000, "concurrent src->dst pairs in the memory capture")
		extra   = flag.String("args", "", "extra wherefore flags for every run, space-separated")
		genOut  = flag.String("generate", "", "internal: write the capture described by -scenario to this file and exit")
		scen    = flag.String("scenario", "", "internal: bench or many")
	)
	flag.Parse()
	if *genOut != "" {
		// Generation runs in a child process: Linux reports a child's peak
		// RSS as at least its parent's, so the parent must stay small.
		s := synth.Bench(1, *packets, *pairs)
		if *scen == "many" {
			s = synth.Many(1, *many)
		}
		generate(*genOut, s)
		return
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fatal(err)
	}
	big := capture(*dir, fmt.Sprintf("bench-%d-%d.pcap", *packets, *pairs), "bench")
	mem := capture(*dir, fmt.Sprintf("many-%d.pcap", *many), "many")

	wf := func(file string, more ...string) []string {
		args := append([]string{*binary, "-pcapfile", file, "-progress", "off", "-loglevel", "error", "-alerts_file", os.DevNull}, more...)
		return append(args, strings.Fields(*extra)...)
	}
	fmt.Printf("\nthroughput: %s (%s, %d packets, %d pairs), median of %d runs\n", filepath.Base(big.path), human(big.size), big.packets, *pairs, *runs)
	// Evidence goes to a fresh folder per run, and all of it is deleted at
	// the end, not between runs: on ext4 without a journal, inodes freed in
	// the last half minute slow every file created after them, and a run
	// would pay for its predecessor's cleanup.
	evidence := filepath.Join(*dir, "evidence")
	os.RemoveAll(evidence)
	defer os.RemoveAll(evidence)
	slot := func(name string, row, n int) string {
		return filepath.Join(evidence, fmt.Sprintf("%d-%d", row, n), name)
	}
	rows := []struct {
		name string
		argv func(row, n int) []string
	}{
		{"tcpdump -r F -w /dev/null", func(int, int) []string { return []string{"tcpdump", "-r", big.path, "-w", os.DevNull} }},
		{"tcpdump -r F -w W (a copy on disk)", func(row, n int) []string {
			return []string{"tcpdump", "-r", big.path, "-w", slot("copy.pcap", row, n)}
		}},
		{"wherefore -pcapfile F", func(int, int) []string { return wf(big.path) }},
		{"wherefore -pcapfile F -file_reader libpcap", func(int, int) []string { return wf(big.path, "-file_reader", "libpcap") }},
		{"wherefore -pcapfile F -report R", func(row, n int) []string { return wf(big.path, "-report", slot("report.html", row, n)) }},
		{"wherefore -pcapfile F -archive_dir A", func(row, n int) []string {
			return wf(big.path, "-archive_dir", slot("archive", row, n))
		}},
		{"wherefore -pcapfile F -log_packets -archive_dir A", func(row, n int) []string {
			return wf(big.path, "-log_packets", "-archive_dir", slot("archive", row, n), "-l", slot("log", row, n))
		}},
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		fmt.Println("  (tcpdump not installed: no baseline)")
		rows = rows[2:]
	}
	warm(big.path)
	results := make([][]sample, len(rows))
	for n := range *runs {
		// Interleaved, so a slow moment of the machine hurts every command alike.
		for i, r := range rows {
			if err := os.MkdirAll(slot("", i, n), 0o755); err != nil {
				fatal(err)
			}
			results[i] = append(results[i], run(r.argv(i, n)))
			// A 3.5 GiB copy per run would fill small disks; one big file
			// costs the file system nothing to delete.
			os.Remove(slot("copy.pcap", i, n))
		}
	}
	var base, plain, plainCPU float64
	fmt.Printf("  %-50s %9s %12s %11s %11s %9s %10s %10s\n", "command", "seconds", "packets/s", "vs tcpdump", "time vs wf", "cpu s", "cpu vs wf", "peak RSS")
	for i, r := range rows {
		m := median(results[i])
		pps := float64(big.packets) / m.wall.Seconds()
		if r.name == "tcpdump -r F -w /dev/null" {
			base = pps
		}
		if r.name == "wherefore -pcapfile F" {
			plain, plainCPU = m.wall.Seconds(), m.cpu.Seconds()
		}
		ratio, slow, cpuSlow := "-", "-", "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.2fx", pps/base)
		}
		if plain > 0 {
			slow = fmt.Sprintf("%.2fx", m.wall.Seconds()/plain)
			cpuSlow = fmt.Sprintf("%.2fx", m.cpu.Seconds()/plainCPU)
		}
		fmt.Printf("  %-50s %9.3f %12.0f %11s %11s %9.2f %10s %10s\n", r.name, m.wall.Seconds(), pps, ratio, slow, m.cpu.Seconds(), cpuSlow, human(m.rss))
	}

	fmt.Printf("\nmemory: %s (%d concurrent src->dst pairs, %d packets)\n", filepath.Base(mem.path), *many, mem.packets)
	warm(mem.path)
	var ms []sample
	for range 3 {
		ms = append(ms, run(wf(mem.path)))
	}
	m := median(ms)
	fmt.Printf("  wherefore -pcapfile F: %.3f s, peak RSS %s (%.0f bytes per pair)\n", m.wall.Seconds(), human(m.rss), float64(m.rss)/float64(*many))
	ms = ms[:0]
	for n := range 3 {
		if err := os.MkdirAll(slot("", len(rows), n), 0o755); err != nil {
			fatal(err)
		}
		ms = append(ms, run(wf(mem.path, "-report", slot("report.html", len(rows), n))))
	}
	m = median(ms)
	fmt.Printf("  wherefore -pcapfile F -report R: %.3f s, peak RSS %s\n", m.wall.Seconds(), human(m.rss))
}

type generated struct {
	path    string
	size    int64
	packets int64
}

// capture generates the scenario once, in a child process, and reuses the
// file while its parameters (in the name) are the same.
func capture(dir, name, scenario string) generated {
	path := filepath.Join(dir, name)
	meta := path + ".packets"
	if g, ok := cached(path, meta); ok {
		return g
	}
	fmt.Printf("generating %s ...\n", path)
	args := append([]string{"-generate", path, "-scenario", scenario}, os.Args[1:]...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fatal(err)
	}
	g, ok := cached(path, meta)
	if !ok {
		fatal(fmt.Errorf("generating %s failed", path))
	}
	return g
}

func cached(path, meta string) (generated, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return generated{}, false
	}
	b, err := os.ReadFile(meta)
	if err != nil {
		return generated{}, false
	}
	var n int64
	if _, err := fmt.Sscan(string(b), &n); err != nil {
		return generated{}, false
	}
	return generated{path, st.Size(), n}, true
}

func generate(path string, s synth.Scenario) {
	meta := path + ".packets"
	start := time.Now()
	f, err := os.Create(path + ".tmp")
	if err != nil {
		fatal(err)
	}
	w := bufio.NewWriterSize(f, 4<<20)
	sum, err := synth.Write(w, s, synth.Options{})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		fatal(err)
	}
	if err := os.WriteFile(meta, []byte(fmt.Sprint(sum.Packets)), 0o644); err != nil {
		fatal(err)
	}
	st, _ := os.Stat(path)
	fmt.Printf("  %d packets, %d pairs, %s in %s\n", sum.Packets, sum.Pairs, human(st.Size()), time.Since(start).Round(time.Millisecond))
}

// warm reads the file once so every measured run finds it in the page cache.
func warm(path string) {
	f, err := os.Open(path)
	if err != nil {
		fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		fatal(err)
	}
}

// sample is one run: wall time, CPU time (user and system, which on a
// shared machine varies less than wall time) and peak RSS.
type sample struct {
	wall, cpu time.Duration
	rss       int64
}

func run(argv []string) sample {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fatal(fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, stderr.String()))
	}
	wall := time.Since(start)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return sample{wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rss}
}

func median(s []sample) sample {
	walls := make([]time.Duration, len(s))
	cpus := make([]time.Duration, len(s))
	rss := make([]int64, len(s))
	for i, x := range s {
		walls[i], cpus[i], rss[i] = x.wall, x.cpu, x.rss
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	slices.Sort(rss)
	return sample{walls[len(walls)/2], cpus[len(cpus)/2], rss[len(rss)/2]}
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
