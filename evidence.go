package main

import (
	"context"
	"net/netip"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
)

// evidenceEnabled reports whether packets are kept at all.
func evidenceEnabled(o *options) bool { return o.archive.LogPackets || o.archive.ArchiveDir != "" }

// archiveConfig is the recorder's Config from the flags, before the
// source describes its packets.
func archiveConfig(o *options) archive.Config {
	cfg := o.archive
	cfg.LogDir = o.logDir
	// The flight recorder serves -archive_dir when there is no spool to
	// cut the evidence from.
	if cfg.ArchiveDir == "" || cfg.LogPackets {
		cfg.RingMB = 0
	}
	// A capture file waits for the disk rather than lose evidence.
	cfg.Block = o.capture.File != ""
	return cfg
}

// openRecorder starts the packet spool / flight recorder for the source.
func openRecorder(o *options, src capture.Source, log *logrus.Logger) (*archive.Recorder, error) {
	cfg := archiveConfig(o)
	cfg.Snaplen = src.Snaplen()
	cfg.LinkType = src.LinkType()
	cfg.Nanosecond = src.Nanosecond()
	return archive.New(cfg, log)
}

// archiveEnricher moves an alerted flow's packets into the archive before
// the alert is written anywhere, so every notifier shows where they are. A
// pair alert archives the pair's connections; an alert about one address
// (a scan by a source, a fan-in to a target) archives that address's. A
// tunnel alert takes only its protocol's connections (evidenceConns).
func archiveEnricher(rec *archive.Recorder, log *logrus.Logger) func(context.Context, *alert.Alert) {
	return func(ctx context.Context, a *alert.Alert) {
		if a.Resolved || a.Test {
			return
		}
		src, serr := netip.ParseAddr(a.Src)
		dst, derr := netip.ParseAddr(a.Dst)
		conns := evidenceConns(a)
		var paths []string
		var err error
		switch {
		case serr == nil && derr == nil:
			paths, err = rec.Archive(ctx, a, conns)
		case serr == nil:
			paths, err = rec.ArchiveHost(ctx, a, src, conns)
		case derr == nil:
			paths, err = rec.ArchiveHost(ctx, a, dst, conns)
		}
		if err != nil {
			log.WithError(err).WithField("flow", a.Key).Warn("could not archive the flow's packets")
		}
		a.Archive = paths
	}
}

// evidenceConns says which connections an alert's evidence is: a DNS or
// ICMP tunnel is that protocol's traffic (its test says which), so a busy
// server's ICMP alert does not archive its every TCP and UDP connection;
// any other alert takes them all.
func evidenceConns(a *alert.Alert) archive.Conns {
	if a.Kind != alert.KindTunnel {
		return archive.AllConns
	}
	if _, ok := a.Tests["icmp"]; ok {
		return archive.ICMPConns
	}
	if _, ok := a.Tests["dns"]; ok {
		return archive.DNSConns
	}
	return archive.AllConns
}
