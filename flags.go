package main

import (
	"flag"
	"io"
)

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("wherefore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)

	// Each package defines the flags of its own Config.
	o.capture.RegisterFlags(fs)
	o.flow.RegisterFlags(fs)
	o.anomaly.RegisterFlags(fs)
	o.dispatch.RegisterFlags(fs)
	o.archive.RegisterFlags(fs)

	fs.StringVar(&o.logDir, "l", "/var/log/wherefore", "log `directory`: the alert record (live mode) and, with -log_packets, the packet spool (pcap segments and their indexes)")
	fs.StringVar(&o.logDir, "log_dir", "/var/log/wherefore", "alias of -l")
	fs.StringVar(&o.alertsFile, "alerts_file", "", "JSON-lines alert record: a `path`, or - for standard output (default: standard output with -pcapfile, <-l>/wherefore_anomalies.log live, rotated)")
	fs.StringVar(&o.logLevel, "loglevel", "info", "log `level`: debug, info, warn, error")

	fs.StringVar(&o.filterCIDR, "filter_ip_CIDR", "", "comma-separated CIDR `blocks` for the address filter (empty: no filter)")
	fs.StringVar(&o.filterCIDR, "filter_cidr_mask", "", "alias of -filter_ip_CIDR")
	fs.BoolVar(&o.filterBool, "filter_bool", true, "true: keep only packets matching -filter_ip_CIDR; false: drop them")
	fs.BoolVar(&o.filterBool, "filter_cidr", true, "alias of -filter_bool")
	fs.BoolVar(&o.filterSrc, "filter_src", false, "match -filter_ip_CIDR against the source address (with neither -filter_src nor -filter_dst, either address matches)")
	fs.BoolVar(&o.filterDst, "filter_dst", false, "match -filter_ip_CIDR against the destination address")

	fs.Var(&o.slackURL, "slack_url", "Slack incoming-webhook `URL` (also $WHEREFORE_SLACK_URL)")
	fs.StringVar(&o.slackChannel, "slack_channel", "", "Slack channel override")
	fs.StringVar(&o.slackEmoji, "slack_emoji", ":warning:", "Slack icon emoji")
	fs.StringVar(&o.slackIcon, "slack_icon", "", "Slack icon URL, used when -slack_emoji is empty")

	registerNotifyFlags(fs, &o.notify)
	registerMetricsFlags(fs, &o.metrics)
	registerProcessFlags(fs, &o.process)
	registerReportFlags(fs, &o.report)
	registerDetectFlags(fs, &o.detect)

	fs.StringVar(&o.progress, "progress", "auto", "progress on standard error while reading a file: auto (when it is a terminal), on, off")
	fs.StringVar(&o.configFile, "config", "", "YAML config `file`: one key per flag name; command-line flags override it; SIGHUP rereads it")
	fs.BoolVar(&o.exampleConfig, "example_config", false, "print a config file with every key at its default, and exit")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this `file` (for performance reports)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a Go heap profile to this `file` when the capture ends, before anything is released (for memory reports)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")

	// Parse errors and -h are reported by run: the flag package's own
	// report would be the alphabetical dump, after the error.
	fs.Usage = func() {}
	explainValues(fs)
	trackAliases(fs)
	return fs
}
