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
	"os"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/anomaly"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
)

// options holds every flag's value. Names follow Wherefore's flags so its
// users' unit files keep working.
type options struct {
	// The packages' own settings, set by their flags directly.
	capture  capture.Config
	flow     flow.Config // Filter, NewDetector and Baseline are built from the rest
	anomaly  anomaly.Config
	dispatch alert.DispatcherConfig
	archive  archive.Config // LogDir comes from -l, the rest of the source

	// Files.
	logDir     string
	alertsFile string
	logLevel   string

	// The address filter (flow.ParseFilter).
	filterCIDR string
	filterBool bool
	filterSrc  bool
	filterDst  bool

	// Slack (Wherefore's flags; delivery is configured in notify.go).
	slackURL                            alert.Secret
	slackChannel, slackEmoji, slackIcon string

	notify  notifyOptions
	metrics metricsOptions
	process processOptions
	report  reportOptions
	detect  detectOptions

	progress      string
	cpuProfile    string
	memProfile    string
	configFile    string
	exampleConfig bool
	version       bool
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses flags and runs wherefore, returning the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "extract" {
		return runExtract(args[1:], stdout, stderr)
	}
	o, fs, explicit, err := parseFlagSet(args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stderr, newFlagSet(new(options)))
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "wherefore: %v\n(wherefore -h lists the flags)\n", err)
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
