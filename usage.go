package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// helpGroup is one heading of -h and the settings under it, by canonical
// name; aliases are printed with their setting.
type helpGroup struct {
	title string
	names []string
}

func helpGroups() []helpGroup {
	return []helpGroup{
		{"Input", []string{"i", "pcapfile", "f", "s", "w", "daq", "file_reader", "promisc", "buffer_size",
			"transfer_interval", "filter_ip_CIDR", "filter_bool", "filter_src", "filter_dst",
			"flow_idle_timeout", "max_flows", "max_sources", "max_dests", "max_hosts", "max_port_sets", "shards"}},
		{"Detection", []string{"detectors", "local_nets", "detect_risk", "detect_window",
			"surge_min_bytes", "new_dest_min_bytes", "host_surge_min_bytes", "tunnel_min_bytes",
			"ramp_intervals", "ramp_growth", "ramp_min_bytes", "vscan_ports", "hscan_hosts", "fanout_dsts",
			"fanin_srcs", "bruteforce_conns", "bruteforce_ports", "beacon_min_events", "beacon_threshold",
			"beacon_max_bytes", "beacon_max_hosts", "beacon_max_pairs", "ceiling_bytes", "ceiling_packets",
			"detect_max_keys", "state_file", "state_save_every", "alert_min_bytes", "alert_threshold", "resolve_after", "anom_methods",
			"anom_active_size", "anom_n_seasons", "anom_sensitivity", "anom_upper_bound", "anom_lower_bound",
			"anom_gv_cap", "anom_delay", "anom_perm_count", "seed"}},
		{"Alerting", []string{"alerts_file", "host",
			"slack_url", "slack_url_file", "slack_channel", "slack_emoji", "slack_icon", "slack_username", "slack_resolved",
			"pagerduty_routing_key", "pagerduty_routing_key_file", "pagerduty_url", "pagerduty_auto_resolve",
			"webhook_url", "webhook_secret", "webhook_secret_file", "webhook_header",
			"opsgenie_api_key", "opsgenie_api_key_file", "opsgenie_url",
			"alert_queue_size", "alert_cooldown", "alert_rate_limit", "notify_timeout", "notify_retry_budget",
			"dns_lookup", "process_lookup", "process_cache_ttl", "test_alert"}},
		{"Evidence", []string{"l", "archive_dir", "log_packets", "max_pcap_log_size", "max_pcap_rotations",
			"archive_ring_mb", "archive_ring_flow_mb", "archive_segment_mb", "archive_index_mb",
			"archive_log_quota_mb", "archive_quota_mb", "archive_queue"}},
		{"Operations", []string{"loglevel", "report", "report_points", "report_top", "report_alerts", "report_series", "metrics_addr", "page_window", "stall_after", "config", "example_config",
			"progress", "cpuprofile", "memprofile", "version"}},
	}
}

const helpHeader = `wherefore: alert when an IP flow moves an unusual number of bytes.

Usage:
  wherefore -pcapfile FILE [flags]     analyse a capture; alerts as JSON lines on stdout
  wherefore -i IFACE [flags]           watch an interface (needs cap_net_raw,cap_net_admin)

`

// printHelp prints the flags by group, each setting once with its aliases.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	io.WriteString(w, helpHeader)
	io.WriteString(w, flagHelp(fs))
}

// helpWidth is where -h wraps its descriptions; helpIndent where they start.
const (
	helpWidth  = 100
	helpIndent = 30
)

// flagHelp renders the grouped flag list (the README's "Flags" section).
func flagHelp(fs *flag.FlagSet) string {
	var b strings.Builder
	for i, g := range helpGroups() {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(g.title + ":\n")
		for _, name := range g.names {
			f := fs.Lookup(name)
			bare := *f
			bare.Value = unwrap(f.Value) // for the argument's type name
			arg, usage := flag.UnquoteUsage(&bare)
			head := "  -" + strings.Join(namesOf(name), ", -")
			if arg != "" {
				head += " " + arg
			}
			if def := helpDefault(f); def != "" {
				usage += " (default " + def + ")"
			}
			writeWrapped(&b, head, usage)
		}
	}
	return b.String()
}

// helpDefault is the default as -h shows it: nothing for a zero value,
// strings quoted.
func helpDefault(f *flag.Flag) string {
	switch f.DefValue {
	case "", "0", "0s", "false", "[]", "unset":
		return ""
	}
	if g, ok := f.Value.(flag.Getter); ok {
		if _, isString := g.Get().(string); isString {
			return fmt.Sprintf("%q", f.DefValue)
		}
	}
	return f.DefValue
}

// writeWrapped writes head, then text from column helpIndent, wrapped at
// helpWidth; a head too long for its column puts the text on the next line.
func writeWrapped(b *strings.Builder, head, text string) {
	pad := strings.Repeat(" ", helpIndent)
	line := head
	if len(head) >= helpIndent-1 {
		b.WriteString(head + "\n")
		line = pad
	} else {
		line += strings.Repeat(" ", helpIndent-len(head))
	}
	fresh := true
	for _, word := range strings.Fields(text) {
		if !fresh && len(line)+1+len(word) > helpWidth {
			b.WriteString(line + "\n")
			line, fresh = pad, true
		}
		if !fresh {
			line += " "
		}
		line += word
		fresh = false
	}
	b.WriteString(line + "\n")
}
