package alert_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
	"github.com/wherefore/wherefore/alert/jsonl"
	"github.com/wherefore/wherefore/alert/opsgenie"
	"github.com/wherefore/wherefore/alert/pagerduty"
	"github.com/wherefore/wherefore/alert/slack"
	"github.com/wherefore/wherefore/alert/webhook"
)

func TestValidateNamesFlags(t *testing.T) {
	secretURL := "ftp://hooks.example/SECRETPATH"
	for _, tc := range []struct {
		err  error
		flag string
	}{
		{slack.Config{}.Validate(), "-slack_url"},
		{slack.Config{URL: alert.Secret(secretURL)}.Validate(), "-slack_url"},
		{slack.Config{URL: "https://h.example/x", Emoji: "big smile"}.Validate(), "-slack_emoji"},
		{pagerduty.Config{}.Validate(), "-pagerduty_routing_key"},
		{pagerduty.Config{RoutingKey: "k", URL: "https://events.example/other"}.Validate(), "-pagerduty_url"},
		{webhook.Config{}.Validate(), "-webhook_url"},
		{webhook.Config{URLs: []alert.Secret{alert.Secret(secretURL)}}.Validate(), "-webhook_url"},
		{webhook.Config{URLs: []alert.Secret{"https://h.example/"}, Headers: []alert.Secret{"no colon SECRETPATH"}}.Validate(), "-webhook_header"},
		{opsgenie.Config{}.Validate(), "-opsgenie_api_key"},
		{opsgenie.Config{APIKey: "k", URL: "api.opsgenie.com"}.Validate(), "-opsgenie_url"},
		{alert.DispatcherConfig{}.Validate(), "-alert_queue_size"},
		{alert.DispatcherConfig{QueueSize: 1}.Validate(), "-notify_timeout"},
		{alert.DispatcherConfig{QueueSize: 1, NotifyTimeout: 1, RateLimit: -1}.Validate(), "-alert_rate_limit"},
		{jsonl.FileConfig{}.Validate(), "Path"},
	} {
		if tc.err == nil {
			t.Errorf("want an error naming %s, got nil", tc.flag)
			continue
		}
		if !strings.Contains(tc.err.Error(), tc.flag) {
			t.Errorf("error %q does not name %s", tc.err, tc.flag)
		}
		if strings.Contains(tc.err.Error(), "SECRETPATH") {
			t.Errorf("error %q shows the secret", tc.err)
		}
	}
	if err := alert.DefaultDispatcherConfig().Validate(); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
	if err := (pagerduty.Config{RoutingKey: "k"}).Validate(); err != nil {
		t.Errorf("PagerDuty with default URL invalid: %v", err)
	}
}

// Every secret of every notifier's configuration is masked however the
// configuration is printed or encoded: no list of names to forget.
func TestConfigsNeverShowSecrets(t *testing.T) {
	configs := []any{
		slack.Config{URL: "https://hooks.slack.com/services/SECRETPATH"},
		pagerduty.Config{RoutingKey: "SECRETKEY"},
		webhook.Config{URLs: []alert.Secret{"https://x.example/SECRETPATH"}, Secret: "SECRETKEY", Headers: []alert.Secret{"Authorization: Bearer SECRETTOKEN"}},
		opsgenie.Config{APIKey: "SECRETKEY"},
	}
	for _, c := range configs {
		var b strings.Builder
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			b.WriteString(fmt.Sprintf(verb, c) + "\n")
			b.WriteString(fmt.Sprintf(verb, &c) + "\n")
		}
		if err := alert.EncodeJSON(&b, c); err != nil {
			t.Fatal(err)
		}
		log, buf := notifytest.Logger()
		log.WithField("config", c).Info("configured")
		b.WriteString(buf.String())
		if strings.Contains(b.String(), "SECRET") {
			t.Errorf("%T printed a secret:\n%s", c, b.String())
		}
		if !strings.Contains(b.String(), "<secret>") {
			t.Errorf("%T: no mask printed:\n%s", c, b.String())
		}
	}
}
