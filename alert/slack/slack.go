// Package slack delivers wherefore alerts to a Slack incoming webhook, as a
// message readable at a glance, through slack-go.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	slackapi "github.com/slack-go/slack"
	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
)

// Config configures the Slack notifier (an incoming webhook). Main
// fills it from the flags named on each field.
type Config struct {
	// URL of the incoming webhook: -slack_url, or the environment variable
	// WHEREFORE_SLACK_URL, or the file named by -slack_url_file (see
	// ResolveSecret). It is a secret: it never appears in logs or errors.
	URL alert.Secret
	// Channel overrides the webhook's channel (-slack_channel), if the
	// webhook allows it.
	Channel string
	// Emoji is the message icon (-slack_emoji, default ":warning:").
	Emoji string
	// IconURL is an image used as icon when Emoji is empty (-slack_icon).
	IconURL string
	// Username the message is posted as (-slack_username, default
	// "wherefore").
	Username string
	// SendResolved posts a short "back to normal" message when a flow that
	// alerted is normal again (-slack_resolved, default off).
	SendResolved bool
}

// Enabled reports whether Slack is configured at all.
func (c Config) Enabled() bool { return c.URL != "" }

// Validate reports the first invalid field, by flag name, without
// repeating the secret URL.
func (c Config) Validate() error {
	if _, err := httpnotify.CheckURL("-slack_url", c.URL.Value(), true); err != nil {
		return err
	}
	if c.Emoji != "" && strings.ContainsAny(c.Emoji, " \t\n") {
		return fmt.Errorf("alert: -slack_emoji: %q is not an emoji name like :warning:", c.Emoji)
	}
	if c.IconURL != "" {
		if _, err := httpnotify.CheckURL("-slack_icon", c.IconURL, false); err != nil {
			return err
		}
	}
	return nil
}

// Slack posts alerts to a Slack incoming webhook, as a message readable at
// a glance: the flow, its volume and rate, the typical volume, a sparkline
// of the recent intervals, the probability and the tests that fired, in an
// attachment coloured by severity.
type Notifier struct {
	cfg    Config
	client *http.Client
	red    httpnotify.Redactor
}

// New returns a Slack notifier. client may be nil for a default one;
// Notify's context bounds each request.
func New(cfg Config, client *http.Client) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Emoji != "" && !strings.HasPrefix(cfg.Emoji, ":") {
		cfg.Emoji = ":" + strings.Trim(cfg.Emoji, ":") + ":"
	}
	if client == nil {
		client = httpnotify.DefaultClient()
	}
	return &Notifier{cfg: cfg, client: client, red: httpnotify.NewRedactor(cfg.URL.Value())}, nil
}

// Name returns "slack".
func (*Notifier) Name() string { return "slack" }

// SendResolved reports whether "back to normal" messages are wanted.
func (s *Notifier) SendResolved() bool { return s.cfg.SendResolved }

// Notify posts a.
func (s *Notifier) Notify(ctx context.Context, a *alert.Alert) (bool, error) {
	msg := s.Message(a)
	x, c := httpnotify.NewExchange(s.client)
	err := slackapi.PostWebhookCustomHTTPContext(ctx, s.cfg.URL.Value(), c, msg)
	if err == nil {
		return false, nil
	}
	return x.Result(ctx, s.Name(), "POST webhook", s.red, err)
}

// Message builds the webhook message for a; exported so that the README's
// sample and tests show exactly what is sent.
func (s *Notifier) Message(a *alert.Alert) *slackapi.WebhookMessage {
	m := &slackapi.WebhookMessage{
		Username: s.cfg.Username,
		Channel:  s.cfg.Channel,
	}
	if s.cfg.Emoji != "" {
		m.IconEmoji = s.cfg.Emoji
	} else {
		m.IconURL = s.cfg.IconURL
	}
	switch {
	case a.IsSummary():
		m.Text = ":mute: " + slackEscape(alert.HeadlineWith(a, "→"))
		if len(a.SuppressedKeys) > 0 {
			m.Text += "\nAmong them: " + slackEscape(strings.Join(a.SuppressedKeys, ", "))
		}
		m.Text += "\nAll of them are in the local alert log."
	case a.Resolved:
		m.Text = ":white_check_mark: " + slackEscape(alert.HeadlineWith(a, "→"))
	default:
		m.Text = s.headText(a)
		m.Attachments = []slackapi.Attachment{s.attachment(a)}
	}
	return m
}

// headText is the line above the attachment, what notifications show.
func (s *Notifier) headText(a *alert.Alert) string {
	t := fmt.Sprintf("*%s%s*: %s moved *%s* in %s", alert.Title(a),
		slackEscape(onHost(a)), slackEscape(alert.FlowLabel(a, "→")), alert.HumanBytes(float64(a.Bytes)), alert.HumanSeconds(a.IntervalSeconds))
	if a.Reason != "" {
		// The detector's sentence is what the reader needs first.
		t = fmt.Sprintf("*%s%s*: %s", alert.Title(a), slackEscape(onHost(a)), slackEscape(a.Reason))
	}
	if a.Test {
		t = ":test_tube: *TEST ALERT from wherefore, no action needed.* If you can read this, Slack alerting works.\n" + t
	}
	return t
}

func onHost(a *alert.Alert) string {
	if a.Host == "" {
		return ""
	}
	return " on " + a.Host
}

func (s *Notifier) attachment(a *alert.Alert) slackapi.Attachment {
	sev := a.Severity()
	volume := alert.HumanBytes(float64(a.Bytes)) + " in " + alert.HumanSeconds(a.IntervalSeconds)
	if r := alert.HumanRate(float64(a.Bytes), a.IntervalSeconds); r != "" {
		volume += " (" + r + ")"
	}
	fields := []slackapi.AttachmentField{
		{Title: "Volume", Value: volume, Short: true},
		{Title: "Typical", Value: alert.HumanBytes(a.Baseline) + " per " + alert.HumanSeconds(a.IntervalSeconds), Short: true},
		{Title: "Probability", Value: fmt.Sprintf("%.2f (%s)", a.Probability, sev), Short: true},
		{Title: "Host", Value: slackEscape(alert.OrDash(a.Host)), Short: true},
		{Title: "Tests fired", Value: slackEscape(alert.OrDash(strings.Join(alert.FiredTests(a.Tests), ", "))), Short: false},
		{Title: "Interval", Value: a.IntervalStart.UTC().Format("2006-01-02 15:04:05") + " – " + a.Time.UTC().Format("15:04:05") + " UTC", Short: false},
	}
	if lines := alert.ProcessLines(a); len(lines) > 0 {
		fields = append(fields, slackapi.AttachmentField{Title: "Process", Value: slackEscape(strings.Join(lines, "\n")), Short: false})
	}
	if len(a.Archive) > 0 {
		fields = append(fields, slackapi.AttachmentField{Title: "Archive", Value: slackEscape(strings.Join(a.Archive, "\n")), Short: false})
	}
	color := slackColor(sev)
	if a.Test {
		color = "#9e9e9e"
	}
	footer := "wherefore"
	if a.Detector != "" {
		footer += " · " + a.Detector
	}
	return slackapi.Attachment{
		Color:      color,
		Fallback:   slackEscape(alert.HeadlineWith(a, "→")),
		Title:      slackEscape(alert.FlowLabel(a, "→")),
		Text:       "`" + alert.Sparkline(a.Series, alert.SparkWidth) + "`  last " + strconv.Itoa(min(len(a.Series), alert.SparkWidth)) + " intervals, alerted one last",
		Fields:     fields,
		MarkdownIn: []string{"text", "fields"},
		Footer:     footer,
		Ts:         json.Number(strconv.FormatInt(a.Time.Unix(), 10)),
	}
}

// slackColor maps severity to an attachment colour: red, orange, yellow,
// blue.
func slackColor(s alert.Severity) string {
	switch s {
	case alert.SeverityCritical:
		return "#b3001b"
	case alert.SeverityError:
		return "#e8590c"
	case alert.SeverityWarning:
		return "#f2c744"
	}
	return "#439fe0"
}

// slackEscape escapes the three characters Slack's mrkdwn reserves, so a
// flow key's "->" is shown, not parsed.
func slackEscape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
