package main

import (
	"context"
	"flag"
	"net/netip"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
)

// archiveOptions are the evidence flags beyond Wherefore's -log_packets,
// -archive_dir, -max_pcap_log_size and -max_pcap_rotations.
type archiveOptions struct {
	segmentMB      int
	indexMB        int
	logQuotaMB     int
	archiveQuotaMB int
	ringMB         int
	ringFlowMB     int
	queue          int
}

func registerArchiveFlags(fs *flag.FlagSet, a *archiveOptions) {
	d := archive.DefaultConfig()
	fs.IntVar(&a.segmentMB, "archive_segment_mb", d.SegmentMB, "with -log_packets: size in `MB` at which a spool segment in -l is sealed (its index written beside it) and the next begun")
	fs.IntVar(&a.indexMB, "archive_index_mb", d.IndexMB, "with -log_packets: memory in `MB` for the current segment's index; a segment whose index reaches it is sealed early (counted)")
	fs.IntVar(&a.logQuotaMB, "archive_log_quota_mb", d.LogDirQuotaMB, "disk quota in `MB` for the packet spool in -l (oldest segments deleted first)")
	fs.IntVar(&a.archiveQuotaMB, "archive_quota_mb", d.ArchiveQuotaMB, "disk quota in `MB` for -archive_dir (oldest alert folders deleted first)")
	fs.IntVar(&a.ringMB, "archive_ring_mb", 64, "flight recorder: memory in `MB` for the recent packets of every flow, archived with its alert (used with -archive_dir and without -log_packets; 0: off)")
	fs.IntVar(&a.ringFlowMB, "archive_ring_flow_mb", d.RingFlowMB, "flight recorder: most `MB` of recent packets kept per flow")
	fs.IntVar(&a.queue, "archive_queue", d.QueueSize, "batches of packets waiting for the evidence writer; beyond it live packets are dropped from the evidence (counted), never from capture")
}

// evidenceEnabled reports whether packets are kept at all.
func evidenceEnabled(o *options) bool { return o.logPackets || o.archiveDir != "" }

// openRecorder starts the packet spool / flight recorder for the source.
func openRecorder(o *options, src capture.Source, log *logrus.Logger) (*archive.Recorder, error) {
	a := &o.archive
	cfg := archive.DefaultConfig()
	cfg.LogDir = o.logDir
	cfg.ArchiveDir = o.archiveDir
	cfg.LogPackets = o.logPackets
	cfg.MaxLogSizeMB = o.maxPcapLogSize
	cfg.MaxRotations = o.maxPcapRotations
	cfg.SegmentMB = a.segmentMB
	cfg.IndexMB = a.indexMB
	cfg.LogDirQuotaMB = a.logQuotaMB
	cfg.ArchiveQuotaMB = a.archiveQuotaMB
	cfg.RingFlowMB = a.ringFlowMB
	if o.archiveDir != "" && !o.logPackets {
		cfg.RingMB = a.ringMB
	}
	cfg.QueueSize = a.queue
	// A capture file waits for the disk rather than lose evidence.
	cfg.Block = o.capture.File != ""
	cfg.Snaplen = src.Snaplen()
	cfg.LinkType = src.LinkType()
	cfg.Nanosecond = src.Nanosecond()
	return archive.New(cfg, log)
}

// archiveEnricher moves an alerted flow's packets into the archive before
// the alert is written anywhere, so every notifier shows where they are. A
// pair alert archives the pair's connections; an alert about one address
// (a scan by a source, a fan-in to a target) archives that address's.
func archiveEnricher(rec *archive.Recorder, log *logrus.Logger) func(context.Context, *alert.Alert) {
	return func(ctx context.Context, a *alert.Alert) {
		if a.Resolved || a.Test {
			return
		}
		src, serr := netip.ParseAddr(a.Src)
		dst, derr := netip.ParseAddr(a.Dst)
		var paths []string
		var err error
		switch {
		case serr == nil && derr == nil:
			paths, err = rec.Archive(ctx, a)
		case serr == nil:
			paths, err = rec.ArchiveHost(ctx, a, src)
		case derr == nil:
			paths, err = rec.ArchiveHost(ctx, a, dst)
		}
		if err != nil {
			log.WithError(err).WithField("flow", a.Key).Warn("could not archive the flow's packets")
		}
		a.Archive = paths
	}
}
