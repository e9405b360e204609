package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/jsonl"
	"github.com/wherefore/wherefore/alert/opsgenie"
	"github.com/wherefore/wherefore/alert/pagerduty"
	"github.com/wherefore/wherefore/alert/slack"
	"github.com/wherefore/wherefore/alert/webhook"
)

// notifyOptions are the alert delivery flags beyond Wherefore's Slack ones.
type notifyOptions struct {
	slackURLFile  string
	slackUsername string
	slackResolved bool

	pdKey             alert.Secret
	pdKeyFile, pdURL  string
	pdAutoResolve     bool
	webhookURLs       alert.SecretList
	webhookSecret     alert.Secret
	webhookSecretFile string
	webhookHeaders    alert.SecretList
	ogKey             alert.Secret
	ogKeyFile, ogURL  string

	testAlert bool
}

func registerNotifyFlags(fs *flag.FlagSet, n *notifyOptions) {
	fs.StringVar(&n.slackURLFile, "slack_url_file", "", "read the Slack webhook URL from this `file` (keeps it out of ps)")
	fs.StringVar(&n.slackUsername, "slack_username", "wherefore", "name Slack messages are posted as")
	fs.BoolVar(&n.slackResolved, "slack_resolved", false, "post a short \"back to normal\" message when an alerted flow is normal again (needs -resolve_after)")

	fs.Var(&n.pdKey, "pagerduty_routing_key", "PagerDuty Events API v2 routing `key` (also $WHEREFORE_PAGERDUTY_ROUTING_KEY)")
	fs.StringVar(&n.pdKeyFile, "pagerduty_routing_key_file", "", "read the PagerDuty routing key from this `file`")
	fs.StringVar(&n.pdURL, "pagerduty_url", pagerduty.DefaultURL, "PagerDuty events endpoint (EU accounts: https://events.eu.pagerduty.com/v2/enqueue)")
	fs.BoolVar(&n.pdAutoResolve, "pagerduty_auto_resolve", false, "resolve the incident when the flow is back to normal (needs -resolve_after)")

	fs.Var(&n.webhookURLs, "webhook_url", "POST each alert as JSON to this `URL` (repeatable, or comma-separated)")
	fs.Var(&n.webhookSecret, "webhook_secret", "sign webhook bodies with HMAC-SHA256 under this `secret` (header X-Wherefore-Signature; also $WHEREFORE_WEBHOOK_SECRET)")
	fs.StringVar(&n.webhookSecretFile, "webhook_secret_file", "", "read the webhook secret from this `file`")
	fs.Var(&n.webhookHeaders, "webhook_header", "extra webhook request `header` \"Name: value\" (repeatable)")

	fs.Var(&n.ogKey, "opsgenie_api_key", "OpsGenie API integration `key` (also $WHEREFORE_OPSGENIE_API_KEY)")
	fs.StringVar(&n.ogKeyFile, "opsgenie_api_key_file", "", "read the OpsGenie API key from this `file`")
	fs.StringVar(&n.ogURL, "opsgenie_url", opsgenie.DefaultURL, "OpsGenie API base URL (EU: https://api.eu.opsgenie.com)")

	fs.BoolVar(&n.testAlert, "test_alert", false, "send one test alert through every configured notifier, report each result, and exit")
}

// remoteNotifiers builds the notifiers configured by flags, environment and
// secret files. Secrets never appear in the errors.
func remoteNotifiers(o *options, explicit map[string]bool) ([]alert.Notifier, error) {
	n := &o.notify
	var out []alert.Notifier

	slackURL, err := alert.ResolveSecret(o.slackURL, "WHEREFORE_SLACK_URL", n.slackURLFile)
	if err != nil {
		return nil, err
	}
	if slackURL != "" {
		emoji := o.slackEmoji
		if o.slackIcon != "" && !explicit["slack_emoji"] {
			emoji = "" // an icon URL was asked for; the default emoji would hide it
		}
		s, err := slack.New(slack.Config{URL: slackURL, Channel: o.slackChannel, Emoji: emoji,
			IconURL: o.slackIcon, Username: n.slackUsername, SendResolved: n.slackResolved}, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}

	pdKey, err := alert.ResolveSecret(n.pdKey, "WHEREFORE_PAGERDUTY_ROUTING_KEY", n.pdKeyFile)
	if err != nil {
		return nil, err
	}
	if pdKey != "" {
		p, err := pagerduty.New(pagerduty.Config{RoutingKey: pdKey, URL: n.pdURL, AutoResolve: n.pdAutoResolve}, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}

	if urls := n.webhookURLs.Split(); len(urls) > 0 {
		secret, err := alert.ResolveSecret(n.webhookSecret, "WHEREFORE_WEBHOOK_SECRET", n.webhookSecretFile)
		if err != nil {
			return nil, err
		}
		hooks, err := webhook.New(webhook.Config{URLs: urls, Secret: secret, Headers: n.webhookHeaders}, nil)
		if err != nil {
			return nil, err
		}
		for _, h := range hooks {
			out = append(out, h)
		}
	}

	ogKey, err := alert.ResolveSecret(n.ogKey, "WHEREFORE_OPSGENIE_API_KEY", n.ogKeyFile)
	if err != nil {
		return nil, err
	}
	if ogKey != "" {
		g, err := opsgenie.New(opsgenie.Config{APIKey: ogKey, URL: n.ogURL}, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// alertRecord opens the local JSON-lines record: standard output in file
// mode (so `wherefore -pcapfile x | jq .` works), a rotated file live.
func alertRecord(o *options, stdout io.Writer, fileMode bool) (*jsonl.Record, error) {
	path := o.alertsFile
	if path == "" && fileMode {
		path = "-"
	}
	if path == "-" {
		return jsonl.New(stdout), nil
	}
	if path == "" {
		path = filepath.Join(o.logDir, "wherefore_anomalies.log")
	}
	// Fail at start, not at the first alert, when the record cannot be written.
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("-alerts_file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("-alerts_file %s: %w", path, err)
	}
	f.Close()
	return jsonl.NewFile(jsonl.FileConfig{Path: path, MaxSizeMB: 100, MaxBackups: 10})
}

// newDispatcher wires the local record, the log and the remote notifiers.
func newDispatcher(cfg alert.DispatcherConfig, log *logrus.Logger, record *jsonl.Record, remote []alert.Notifier, spoolDir string, block bool, enrich func(context.Context, *alert.Alert)) (*alert.Dispatcher, error) {
	cfg.SpoolDir = spoolDir
	cfg.Logger = log
	cfg.Enrich = enrich
	cfg.Block = block
	local := []alert.Notifier{record, jsonl.NewLog(log)}
	return alert.NewDispatcher(cfg, local, remote)
}

// runTestAlert sends one test alert through every configured notifier and
// prints each result: the first thing to do after configuring Slack.
func runTestAlert(o *options, stdout io.Writer, remote []alert.Notifier) int {
	if len(remote) == 0 {
		fmt.Fprintln(stdout, "no notifier configured: set -slack_url, -pagerduty_routing_key, -webhook_url or -opsgenie_api_key (or their environment variables or files)")
		return 2
	}
	results := alert.TestAlert(context.Background(), o.flow.Host, o.dispatch.NotifyTimeout, remote)
	code := 0
	for _, r := range results {
		if r.OK() {
			fmt.Fprintf(stdout, "ok    %-20s delivered in %s\n", r.Notifier, r.Elapsed.Round(time.Millisecond))
			continue
		}
		code = 1
		hint := "not retryable: check the configuration"
		if r.Retryable {
			hint = "temporary: the service or network may be down"
		}
		fmt.Fprintf(stdout, "FAIL  %-20s %v (%s)\n", r.Notifier, r.Err, hint)
	}
	return code
}
