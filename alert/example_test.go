package alert_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/jsonl"
	"github.com/wherefore/wherefore/alert/slack"
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
	record, err := jsonl.NewFile(jsonl.FileConfig{Path: filepath.Join(logDir, "wherefore_anomalies.log"), MaxSizeMB: 100})
	if err != nil {
		logrus.Fatal(err)
	}
	var remote []alert.Notifier
	if cfg := (slack.Config{URL: slackURL, Emoji: ":warning:", Username: "wherefore"}); cfg.Enabled() {
		s, err := slack.New(cfg, nil)
		if err != nil {
			logrus.Fatal(err)
		}
		remote = append(remote, s)
	}
	cfg := alert.DefaultDispatcherConfig()
	cfg.SpoolDir = filepath.Join(logDir, "alert_spool")
	d, err := alert.NewDispatcher(cfg, []alert.Notifier{record, jsonl.NewLog(nil)}, remote)
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

// A Secret prints as "<secret>" however it is printed or encoded; Value
// is the one way to read it.
func ExampleSecret() {
	key := alert.Secret("R0UT1NGK3Y")
	fmt.Printf("%v %+v %#v %s %q\n", key, key, key, key, key)
	_ = alert.EncodeJSON(os.Stdout, struct{ Key alert.Secret }{key})
	fmt.Println(len(key.Value()))
	// Output:
	// <secret> <secret> alert.Secret("<secret>") <secret> "<secret>"
	// {"Key":"<secret>"}
	// 10
}
