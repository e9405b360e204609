package alert_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
)

func ExampleHumanBytes() {
	fmt.Println(alert.HumanBytes(64_000_000), alert.HumanRate(64_000_000, 5))
	// Output: 64.0 MB 12.8 MB/s
}

func ExampleSparkline() {
	fmt.Println(alert.Sparkline([]float64{1200, 900, 1500, 1100, 64_000_000}, 30))
	// Output: ▁▁▁▁█
}

// Wiring as main does it in live mode: the JSON-lines file and the log
// first, then the remote notifiers behind the dispatcher.
func ExampleNewDispatcher() {
	logDir := "/var/log/wherefore"
	slackURL, err := alert.ResolveSecret("", "WHEREFORE_SLACK_URL", "")
	if err != nil {
		logrus.Fatal(err)
	}
	jsonl, err := alert.NewJSONLFile(alert.JSONLFileConfig{Path: filepath.Join(logDir, "wherefore_anomalies.log"), MaxSizeMB: 100})
	if err != nil {
		logrus.Fatal(err)
	}
	var remote []alert.Notifier
	if cfg := (alert.SlackConfig{URL: slackURL, Emoji: ":warning:", Username: "wherefore"}); cfg.Enabled() {
		s, err := alert.NewSlack(cfg, nil)
		if err != nil {
			logrus.Fatal(err)
		}
		remote = append(remote, s)
	}
	cfg := alert.DefaultDispatcherConfig()
	cfg.SpoolDir = filepath.Join(logDir, "alert_spool")
	d, err := alert.NewDispatcher(cfg, []alert.Notifier{jsonl, alert.NewLog(nil)}, remote)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// ... the flow pipeline calls d.Submit(a) for each alert ...
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		logrus.WithError(err).Error("closing alerts")
	}
}
