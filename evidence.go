package main

import (
	"context"
	"flag"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
)

// archiveOptions are the evidence flags beyond Wherefore's -log_packets,
// -archive_dir, -max_pcap_log_size and -max_pcap_rotations.
type archiveOptions struct {
	maxOpenFiles   int
	maxConnections int
	logQuotaMB     int
	archiveQuotaMB int
	pendingMB      int
	ringMB         int
	ringFlowMB     int
	connIdle       time.Duration
	queue          int
	keepLeftovers  bool
}

func registerArchiveFlags(fs *flag.FlagSet, a *archiveOptions) {
	d := archive.DefaultConfig()
	fs.IntVar(&a.maxOpenFiles, "archive_max_open_files", d.MaxOpenFiles, "most pcap files open at once with -log_packets (least recently written closed first, reopened to append); at most half the process's open-file limit")
	fs.IntVar(&a.maxConnections, "archive_max_connections", d.MaxConnections, "most connections logged at once with -log_packets (ended, then least recently active, evicted first)")
	fs.IntVar(&a.logQuotaMB, "archive_log_quota_mb", d.LogDirQuotaMB, "disk quota in `MB` for the per-connection pcaps in -l (oldest deleted first)")
	fs.IntVar(&a.archiveQuotaMB, "archive_quota_mb", d.ArchiveQuotaMB, "disk quota in `MB` for -archive_dir (oldest alert folders deleted first)")
	fs.IntVar(&a.pendingMB, "archive_pending_mb", d.PendingMB, "memory in `MB` for the newest packets of each logged connection before they are written to -l (when it is full, the buffer with the most bytes times age is written first); a connection that ends with no alert while its packets are all in memory costs no file")
	fs.IntVar(&a.ringMB, "archive_ring_mb", 64, "flight recorder: memory in `MB` for the recent packets of every flow, archived with its alert (used with -archive_dir and without -log_packets; 0: off)")
	fs.IntVar(&a.ringFlowMB, "archive_ring_flow_mb", d.RingFlowMB, "flight recorder: most `MB` of recent packets kept per flow")
	fs.DurationVar(&a.connIdle, "archive_conn_idle", d.ConnIdleTimeout, "a logged connection without packets for this long (packet time) has ended")
	fs.IntVar(&a.queue, "archive_queue", d.QueueSize, "batches of packets waiting for the pcap writer; beyond it packets are dropped from the logs (counted), never from capture")
	fs.BoolVar(&a.keepLeftovers, "archive_keep_leftovers", false, "at start, move pcaps left in -l by a crash to -archive_dir instead of deleting them")
}

// evidenceEnabled reports whether packets are kept at all.
func evidenceEnabled(o *options) bool { return o.logPackets || o.archiveDir != "" }

// openRecorder starts the pcap logger / flight recorder for the source.
func openRecorder(o *options, src capture.Source, log *logrus.Logger) (*archive.Recorder, error) {
	a := &o.archive
	cfg := archive.DefaultConfig()
	cfg.LogDir = o.logDir
	cfg.ArchiveDir = o.archiveDir
	cfg.LogPackets = o.logPackets
	cfg.MaxLogSizeMB = o.maxPcapLogSize
	cfg.MaxRotations = o.maxPcapRotations
	cfg.MaxOpenFiles = a.maxOpenFiles
	cfg.MaxConnections = a.maxConnections
	cfg.LogDirQuotaMB = a.logQuotaMB
	cfg.ArchiveQuotaMB = a.archiveQuotaMB
	cfg.PendingMB = a.pendingMB
	cfg.RingFlowMB = a.ringFlowMB
	if o.archiveDir != "" && !o.logPackets {
		cfg.RingMB = a.ringMB
	}
	cfg.ConnIdleTimeout = a.connIdle
	// An alert for an interval is raised once packet time passes its end:
	// files of a connection that ended must outlive that, with a margin.
	cfg.Linger = o.flow.Interval + 10*time.Second
	cfg.QueueSize = a.queue
	// A capture file waits for the disk rather than lose evidence.
	cfg.Block = o.capture.File != ""
	cfg.KeepLeftovers = a.keepLeftovers
	cfg.Snaplen = src.Snaplen()
	cfg.LinkType = src.LinkType()
	cfg.Nanosecond = src.Nanosecond()
	return archive.New(cfg, log)
}

// archiveEnricher moves an alerted flow's packets into the archive before
// the alert is written anywhere, so every notifier shows where they are.
func archiveEnricher(rec *archive.Recorder, log *logrus.Logger) func(context.Context, *alert.Alert) {
	return func(ctx context.Context, a *alert.Alert) {
		if a.Resolved || a.Test {
			return
		}
		paths, err := rec.Archive(ctx, a)
		if err != nil {
			log.WithError(err).WithField("flow", a.Key).Warn("could not archive the flow's packets")
		}
		a.Archive = paths
	}
}
