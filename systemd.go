package main

import (
	"context"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/capture"
)

// notifySystemd tells systemd (Type=notify) that capture is open, and pings
// its watchdog while the capture loop is alive: a loop stuck for longer than
// stallAfter stops the pings and systemd restarts the service. Outside
// systemd (no NOTIFY_SOCKET) it does nothing. The returned function reports
// STOPPING and ends the pings.
func notifySystemd(ctx context.Context, log *logrus.Logger, c *capture.Counters, stallAfter time.Duration) func() {
	sent, err := daemon.SdNotify(false, daemon.SdNotifyReady)
	if err != nil {
		log.WithError(err).Warn("could not notify systemd")
	}
	if !sent {
		return func() {}
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return func() { daemon.SdNotify(false, daemon.SdNotifyStopping) }
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if ok, since := healthy(c, stallAfter, now); ok {
					daemon.SdNotify(false, daemon.SdNotifyWatchdog)
				} else {
					log.WithField("since", since.Round(time.Second)).Error("capture loop stalled: no watchdog ping to systemd")
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
		daemon.SdNotify(false, daemon.SdNotifyStopping)
	}
}
