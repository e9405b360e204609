package archive_test

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/archive"
	"github.com/wherefore/wherefore/capture"
)

// The wiring main does: the recorder's Tap goes to the capture source, the
// dispatcher calls Archive before notifying, and Close runs after capture
// and the dispatcher have stopped.
func Example() {
	cfg := archive.DefaultConfig()
	cfg.LogDir = "/var/lib/wherefore/pcap"         // -l
	cfg.ArchiveDir = "/var/lib/wherefore/evidence" // -archive_dir
	cfg.LogPackets = true                          // -log_packets
	cfg.Linger = 60*time.Second + 10*time.Second   // -transfer_interval plus a margin
	rec, err := archive.New(cfg, logrus.StandardLogger())
	if err != nil {
		logrus.Fatal(err)
	}
	var tap capture.Tap = rec.Tap // handed to the capture source

	_ = tap
	// In the alert dispatcher, before the notifiers run:
	a := &alert.Alert{Time: time.Now(), Key: "10.0.0.5->203.0.113.9", Src: "10.0.0.5", Dst: "203.0.113.9"}
	if paths, err := rec.Archive(context.Background(), a); err == nil {
		a.Archive = paths
	}

	// On SIGTERM, after capture and the dispatcher have stopped:
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rec.Close(ctx); err != nil {
		logrus.WithError(err).Warn("archive: close")
	}
}
