package alert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WHEREFORE_TEST_SECRET", "from-env")

	for _, tc := range []struct {
		name, flag, env, file, want string
		wantErr                     bool
	}{
		{"flag wins", "from-flag", "WHEREFORE_TEST_SECRET", file, "from-flag", false},
		{"file before env", "", "WHEREFORE_TEST_SECRET", file, "from-file", false},
		{"env last", "", "WHEREFORE_TEST_SECRET", "", "from-env", false},
		{"nothing", "", "", "", "", false},
		{"unset env", "", "WHEREFORE_TEST_UNSET", "", "", false},
		{"empty file", "", "", empty, "", true},
		{"missing file", "", "", filepath.Join(dir, "nope"), "", true},
	} {
		got, err := ResolveSecret(tc.flag, tc.env, tc.file)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: ResolveSecret = %q, %v; want %q, error %t", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRedactor(t *testing.T) {
	u := "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
	r := newRedactor(u, "ab") // "ab" is too short to be a secret
	for _, msg := range []string{
		`Post "` + u + `": dial tcp: i/o timeout`,
		"path /services/T000/B000/XXXXSECRET not found",
	} {
		got := r.redact(msg)
		if strings.Contains(got, "XXXXSECRET") {
			t.Errorf("redact(%q) = %q: secret left", msg, got)
		}
		if !strings.Contains(got, redactedText) {
			t.Errorf("redact(%q) = %q: no marker", msg, got)
		}
	}
	if got := r.redact("abc"); got != "abc" {
		t.Errorf("short value redacted: %q", got)
	}
}

func TestConfigStringsHideSecrets(t *testing.T) {
	for _, s := range []string{
		SlackConfig{URL: "https://hooks.slack.com/services/SECRETPATH"}.String(),
		PagerDutyConfig{RoutingKey: "SECRETKEY"}.String(),
		WebhookConfig{URLs: []string{"https://x.example/SECRETPATH"}, Secret: "SECRETKEY", Headers: []string{"Authorization: Bearer SECRETTOKEN"}}.String(),
		OpsGenieConfig{APIKey: "SECRETKEY"}.String(),
	} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("config string shows a secret: %s", s)
		}
	}
}

func TestValidateNamesFlags(t *testing.T) {
	secretURL := "ftp://hooks.example/SECRETPATH"
	for _, tc := range []struct {
		err  error
		flag string
	}{
		{SlackConfig{}.Validate(), "-slack_url"},
		{SlackConfig{URL: secretURL}.Validate(), "-slack_url"},
		{SlackConfig{URL: "https://h.example/x", Emoji: "big smile"}.Validate(), "-slack_emoji"},
		{PagerDutyConfig{}.Validate(), "-pagerduty_routing_key"},
		{PagerDutyConfig{RoutingKey: "k", URL: "https://events.example/other"}.Validate(), "-pagerduty_url"},
		{WebhookConfig{}.Validate(), "-webhook_url"},
		{WebhookConfig{URLs: []string{secretURL}}.Validate(), "-webhook_url"},
		{WebhookConfig{URLs: []string{"https://h.example/"}, Headers: []string{"no colon SECRETPATH"}}.Validate(), "-webhook_header"},
		{OpsGenieConfig{}.Validate(), "-opsgenie_api_key"},
		{OpsGenieConfig{APIKey: "k", URL: "api.opsgenie.com"}.Validate(), "-opsgenie_url"},
		{DispatcherConfig{}.Validate(), "-alert_queue_size"},
		{DispatcherConfig{QueueSize: 1}.Validate(), "-notify_timeout"},
		{DispatcherConfig{QueueSize: 1, NotifyTimeout: 1, RateLimit: -1}.Validate(), "-alert_rate_limit"},
		{JSONLFileConfig{}.Validate(), "Path"},
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
	if err := DefaultDispatcherConfig().Validate(); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
	if err := (PagerDutyConfig{RoutingKey: "k"}).Validate(); err != nil {
		t.Errorf("PagerDuty with default URL invalid: %v", err)
	}
}
