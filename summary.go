package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
	"github.com/wherefore/wherefore/flow"
)

type summary struct {
	source   string
	counters *capture.Counters
	flows    flow.Stats
	// detected counts the detection stage's alerts, by detector name.
	detected map[string]uint64
	resolved uint64 // the detection stage's back-to-normal notices
	delivery alert.Stats
	evidence *archive.Stats
	elapsed  time.Duration
	err      error
}

// printSummary tells an analyst what was read and found, also when the
// capture broke part-way: what came before the break was analysed.
func printSummary(w io.Writer, s summary) {
	c := s.counters
	pkts := c.Packets.Load()
	secs := s.elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(pkts) / secs
	}
	fmt.Fprintf(w, "\nwherefore summary: %s\n", s.source)
	if s.err != nil {
		fmt.Fprintf(w, "  INCOMPLETE:   %v\n", s.err)
		fmt.Fprintf(w, "                (everything before that point was analysed)\n")
	}
	fmt.Fprintf(w, "  packets       %d (%s on the wire)\n", pkts, alert.HumanBytes(float64(c.Bytes.Load())))
	skipped := c.SkippedSnapshot()
	fmt.Fprintf(w, "  skipped       %d", skipped.Total())
	if skipped.Total() > 0 {
		sep := " ("
		for _, r := range capture.SkipReasons() {
			if skipped[r] > 0 {
				fmt.Fprintf(w, "%s%s %d", sep, r, skipped[r])
				sep = ", "
			}
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
	if s.flows.Filtered > 0 {
		fmt.Fprintf(w, "  filtered      %d (by -filter_ip_CIDR)\n", s.flows.Filtered)
	}
	fmt.Fprintf(w, "  flows         %d seen, %d tracked at the end, %d expired, %d evicted\n",
		s.flows.Created, s.flows.Flows, s.flows.Expired, s.flows.Evicted)
	fmt.Fprintf(w, "  intervals     %d closed, %d flow-intervals scored by the anomaly tests\n", s.flows.IntervalsClosed, s.flows.Evaluated)
	if s.flows.TimeOutliers > 0 {
		fmt.Fprintf(w, "  time leaps    %d packets with timestamps far ahead that later packets did not confirm (counted in the open interval)\n", s.flows.TimeOutliers)
	}
	if s.flows.Late > 0 {
		fmt.Fprintf(w, "  late packets  %d (older than the open interval; counted in it)\n", s.flows.Late)
	}
	total, resolved := s.flows.Alerts, s.flows.Resolved+s.resolved
	var by []string
	if s.flows.Alerts > 0 {
		by = append(by, fmt.Sprintf("anomalyzer %d", s.flows.Alerts))
	}
	for _, name := range slices.Sorted(maps.Keys(s.detected)) {
		if n := s.detected[name]; n > 0 {
			total += n
			by = append(by, fmt.Sprintf("%s %d", name, n))
		}
	}
	fmt.Fprintf(w, "  alerts        %d", total)
	if len(by) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(by, ", "))
	}
	if resolved > 0 {
		fmt.Fprintf(w, " (+%d back to normal)", resolved)
	}
	fmt.Fprintln(w)
	printDelivery(w, s.delivery)
	if e := s.evidence; e != nil {
		fmt.Fprintf(w, "  evidence      %d packets logged, %d dropped (writer queue full), %d lost (disk errors); %d archives, %d failed\n",
			e.PacketsWritten, e.PacketsDropped, e.PacketsLost, e.Archives, e.ArchivesFailed)
	}
	fmt.Fprintf(w, "  elapsed       %s (%.0f packets/s)\n", s.elapsed.Round(time.Millisecond), rate)
}

// printDelivery reports what happened to the alerts of each remote
// notifier, when any is configured: an analyst replaying a capture into
// Slack sees what went out, what waits in the spool and what was lost.
func printDelivery(w io.Writer, d alert.Stats) {
	for _, n := range d.Notifiers {
		if !n.Remote {
			continue
		}
		fmt.Fprintf(w, "  %-13s %d delivered", n.Name, n.Delivered)
		if n.Resent > 0 {
			fmt.Fprintf(w, " (%d re-sent from the spool of an earlier run)", n.Resent)
		}
		fmt.Fprintf(w, ", %d failed, %d retried, %d held back, %d spooled for a later attempt, %d dropped\n",
			n.Failed, n.Retried, n.Suppressed, n.Spooled, n.Dropped)
		if n.SpoolDepth > 0 {
			fmt.Fprintf(w, "  %-13s %d alerts wait in the spool for the next start\n", "", n.SpoolDepth)
		}
	}
	if d.Overflow > 0 {
		fmt.Fprintf(w, "  queue full    %d times (those alerts were still recorded)\n", d.Overflow)
	}
}
