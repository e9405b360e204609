// Command wherefore watches a host's packets, measures how many bytes every
// IP flow moves per transfer interval, and alerts when a flow moves an
// unusual amount.
//
//	wherefore -pcapfile capture.pcap | jq .
//	wherefore -i eth0 -l /var/log/wherefore -archive_dir /var/lib/wherefore/archive
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wherefore/wherefore/alert"
)

// options holds every flag's value. Names follow Wherefore's flags so its
// users' unit files keep working.
type options struct {
	// Capture.
	iface      string
	pcapfile   string
	bpf        string
	snaplen    int
	wireTO     time.Duration
	daq        string
	fileReader string
	promisc    bool
	bufferSize int

	// Files.
	logDir           string
	archiveDir       string
	logPackets       bool
	maxPcapLogSize   int
	maxPcapRotations int
	alertsFile       string
	logLevel         string

	// Flows.
	interval     time.Duration
	filterCIDR   string
	filterBool   bool
	filterSrc    bool
	filterDst    bool
	idleTimeout  time.Duration
	maxFlows     int
	shards       int
	minBytes     uint64
	threshold    float64
	resolveAfter int
	host         string

	// Anomaly tests.
	methods     string
	activeSize  int
	nSeasons    int
	sensitivity float64
	upperBound  boundFlag
	lowerBound  boundFlag
	gvCap       int
	delay       bool
	permCount   int
	seed        uint64

	// Slack (Wherefore's flags; delivery is configured in notify.go).
	slackURL                            alert.Secret
	slackChannel, slackEmoji, slackIcon string

	notify  notifyOptions
	archive archiveOptions
	metrics metricsOptions
	process processOptions
	detect  detectOptions

	progress      string
	cpuProfile    string
	configFile    string
	exampleConfig bool
	version       bool
}

// boundFlag is a float flag whose zero state is "unset" (anomaly.NA), so
// -anom_upper_bound and -anom_lower_bound can say "no bound".
type boundFlag struct {
	v   float64
	set bool
}

func (b *boundFlag) String() string {
	if b == nil || !b.set {
		return "unset"
	}
	return strconv.FormatFloat(b.v, 'g', -1, 64)
}

func (b *boundFlag) Set(s string) error {
	if s == "unset" || s == "" {
		b.set = false
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a number (or \"unset\")", s)
	}
	b.v, b.set = v, true
	return nil
}

// value returns the bound, or NA (math.SmallestNonzeroFloat64) when unset,
// as the anomaly tests expect.
func (b *boundFlag) value() float64 {
	if !b.set {
		return math.SmallestNonzeroFloat64
	}
	return b.v
}

const defaultMethods = "none"

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("wherefore", flag.ContinueOnError)
	fs.SetOutput(out)
	host, _ := os.Hostname()

	fs.StringVar(&o.iface, "i", "eth0", "`interface` to capture from (live mode)")
	fs.StringVar(&o.pcapfile, "pcapfile", "", "read packets from this capture `file` (pcap or pcapng, optionally gzip-compressed; - for standard input) instead of an interface; alerts go to standard output as JSON lines")
	fs.StringVar(&o.bpf, "f", "", "BPF `filter` applied to live and file captures (empty: all traffic; Wherefore's default \"tcp\" hid UDP and ICMP transfers)")
	fs.IntVar(&o.snaplen, "s", 65536, "snapshot length in `bytes` (bytes on the wire are counted in full whatever the snaplen)")
	fs.DurationVar(&o.wireTO, "w", 3*time.Second, "read timeout for the live capture; also how often a quiet capture advances the clock")
	fs.StringVar(&o.daq, "daq", "libpcap", "data acquisition: only \"libpcap\"")
	fs.StringVar(&o.fileReader, "file_reader", "auto", "how -pcapfile is read: auto (classic pcap files are memory-mapped and parsed in Go; pcapng, gzip and stdin go through libpcap) or libpcap (always)")
	fs.BoolVar(&o.promisc, "promisc", true, "put the interface in promiscuous mode")
	fs.IntVar(&o.bufferSize, "buffer_size", 16<<20, "kernel capture buffer in `bytes` (0: libpcap's default); larger buffers drop fewer packets in bursts")

	fs.StringVar(&o.logDir, "l", "/var/log/wherefore", "log `directory`: the alert record (live mode) and per-connection pcaps with -log_packets")
	fs.StringVar(&o.logDir, "log_dir", "/var/log/wherefore", "alias of -l")
	fs.StringVar(&o.archiveDir, "archive_dir", "", "`directory` that keeps the packets of flows that raised an alert (empty: no archive)")
	fs.BoolVar(&o.logPackets, "log_packets", false, "write every tracked connection's packets to <-l>/<connection>.pcap; alerted flows' files move to -archive_dir")
	fs.IntVar(&o.maxPcapLogSize, "max_pcap_log_size", 1, "per-connection pcap log size in `MB`, all rotations together")
	fs.IntVar(&o.maxPcapRotations, "max_pcap_rotations", 10, "number of files a connection's pcap log is split into")
	fs.StringVar(&o.alertsFile, "alerts_file", "", "JSON-lines alert record: a `path`, or - for standard output (default: standard output with -pcapfile, <-l>/wherefore_anomalies.log live, rotated)")
	fs.StringVar(&o.logLevel, "loglevel", "info", "log `level`: debug, info, warn, error")

	fs.DurationVar(&o.interval, "transfer_interval", 5*time.Second, "transfer interval: bytes are summed per flow over this `duration`; boundaries are multiples of it since the Unix epoch")
	fs.StringVar(&o.filterCIDR, "filter_ip_CIDR", "", "comma-separated CIDR `blocks` for the address filter (empty: no filter)")
	fs.StringVar(&o.filterCIDR, "filter_cidr_mask", "", "alias of -filter_ip_CIDR")
	fs.BoolVar(&o.filterBool, "filter_bool", true, "true: keep only packets matching -filter_ip_CIDR; false: drop them")
	fs.BoolVar(&o.filterBool, "filter_cidr", true, "alias of -filter_bool")
	fs.BoolVar(&o.filterSrc, "filter_src", false, "match -filter_ip_CIDR against the source address (with neither -filter_src nor -filter_dst, either address matches)")
	fs.BoolVar(&o.filterDst, "filter_dst", false, "match -filter_ip_CIDR against the destination address")
	fs.DurationVar(&o.idleTimeout, "flow_idle_timeout", 5*time.Minute, "forget a flow after this long without a packet (packet time)")
	fs.IntVar(&o.maxFlows, "max_flows", 1_000_000, "most flows tracked at once; beyond it the least recently active is evicted (about 200 bytes each)")
	fs.IntVar(&o.shards, "shards", 0, "flow aggregation goroutines (0: one per CPU)")
	fs.Uint64Var(&o.minBytes, "alert_min_bytes", 1_000_000, "score only flows that moved at least this many `bytes` in the interval (0: every active flow)")
	fs.Float64Var(&o.threshold, "alert_threshold", 0.6, "raise an alert when the combined probability is at least this (0-1]")
	fs.IntVar(&o.resolveAfter, "resolve_after", 0, "report a flow back to normal after this many `intervals` without an alert (0: never)")
	fs.StringVar(&o.host, "host", host, "host `name` put in alerts")

	fs.StringVar(&o.methods, "anom_methods", defaultMethods, "anomaly tests on each flow's own series (Wherefore's), comma-separated: magnitude, diff, highrank, lowrank, fence, ks, cdf; none leaves volume to the detectors (-detectors), which the evaluation found catch more with fewer false alerts (previous default: magnitude,highrank,lowrank,diff)")
	fs.IntVar(&o.activeSize, "anom_active_size", 1, "intervals in the active window")
	fs.IntVar(&o.nSeasons, "anom_n_seasons", 4, "reference window = this many active windows")
	fs.Float64Var(&o.sensitivity, "anom_sensitivity", 0.5, "magnitude gate in [0,1]: a flow whose newest interval differs from the reference mean by less than this share never alerts")
	o.upperBound, o.lowerBound = boundFlag{}, boundFlag{}
	fs.Var(&o.upperBound, "anom_upper_bound", "fence test's upper bound in bytes per interval (needed with fence)")
	fs.Var(&o.lowerBound, "anom_lower_bound", "fence test's lower bound in bytes per interval (unset: one-sided fence)")
	fs.IntVar(&o.gvCap, "anom_gv_cap", 10, "intervals of history kept and tested per flow")
	fs.BoolVar(&o.delay, "anom_delay", true, "score a flow only once it has a full reference and active window of history")
	fs.IntVar(&o.permCount, "anom_perm_count", 500, "permutations for the Monte Carlo tests (diff, ks on long series)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the Monte Carlo tests' random numbers (fixed: the same capture gives the same alerts)")

	fs.Var(&o.slackURL, "slack_url", "Slack incoming-webhook `URL` (also $WHEREFORE_SLACK_URL)")
	fs.StringVar(&o.slackChannel, "slack_channel", "", "Slack channel override")
	fs.StringVar(&o.slackEmoji, "slack_emoji", ":warning:", "Slack icon emoji")
	fs.StringVar(&o.slackIcon, "slack_icon", "", "Slack icon URL, used when -slack_emoji is empty")

	registerNotifyFlags(fs, &o.notify)
	registerArchiveFlags(fs, &o.archive)
	registerMetricsFlags(fs, &o.metrics)
	registerProcessFlags(fs, &o.process)
	registerDetectFlags(fs, &o.detect)

	fs.StringVar(&o.progress, "progress", "auto", "progress on standard error while reading a file: auto (when it is a terminal), on, off")
	fs.StringVar(&o.configFile, "config", "", "YAML config `file`: one key per flag name; command-line flags override it; SIGHUP rereads it")
	fs.BoolVar(&o.exampleConfig, "example_config", false, "print a config file with every key at its default, and exit")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this `file` (for performance reports)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")

	fs.Usage = func() {
		fmt.Fprintf(out, `wherefore: alert when an IP flow moves an unusual number of bytes.

Usage:
  wherefore -pcapfile FILE [flags]     analyse a capture; alerts as JSON lines on stdout
  wherefore -i IFACE [flags]           watch an interface (needs cap_net_raw,cap_net_admin)

Flags:
`)
		fs.PrintDefaults()
	}
	return fs
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses flags and runs wherefore, returning the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, fs, explicit, err := parseFlagSet(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if !strings.Contains(err.Error(), "flag provided but not defined") && !strings.Contains(err.Error(), "invalid value") {
			fmt.Fprintln(stderr, "wherefore:", err)
		}
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "wherefore", version)
		return 0
	}
	if o.exampleConfig {
		fmt.Fprint(stdout, exampleConfig())
		return 0
	}
	return runPipeline(o, fs, args, explicit, stdout, stderr)
}
