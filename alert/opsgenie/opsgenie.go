// Package opsgenie creates and closes OpsGenie alerts for wherefore alerts
// through the Alert API v2 over plain HTTPS.
package opsgenie

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
)

// DefaultURL is the OpsGenie API (EU accounts use
// https://api.eu.opsgenie.com).
const DefaultURL = "https://api.opsgenie.com"

// Config configures the OpsGenie notifier (Alert API v2 over plain
// HTTPS: two calls do not earn an SDK's weight).
type Config struct {
	// APIKey is an API integration key: -opsgenie_api_key, or
	// WHEREFORE_OPSGENIE_API_KEY, or the file named by
	// -opsgenie_api_key_file. A secret.
	APIKey alert.Secret
	// URL of the API (-opsgenie_url, default DefaultURL).
	URL string
}

// Enabled reports whether OpsGenie is configured at all.
func (c Config) Enabled() bool { return c.APIKey != "" }

// Validate reports the first invalid field, by flag name.
func (c Config) Validate() error {
	if err := httpnotify.CheckKey("-opsgenie_api_key", "key", c.APIKey.Value()); err != nil {
		return err
	}
	_, err := httpnotify.CheckURL("-opsgenie_url", c.url(), false)
	return err
}

func (c Config) url() string {
	if c.URL == "" {
		return DefaultURL
	}
	return strings.TrimRight(c.URL, "/")
}

// OpsGenie creates an OpsGenie alert per flow and host (the alias, so
// repeats are merged by OpsGenie) and closes it when the flow is back to
// normal.
type Notifier struct {
	cfg    Config
	client *http.Client
	red    httpnotify.Redactor
}

// New returns an OpsGenie notifier. client may be nil for a default
// one.
func New(cfg Config, client *http.Client) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.URL = cfg.url()
	if client == nil {
		client = httpnotify.DefaultClient()
	}
	return &Notifier{cfg: cfg, client: client, red: httpnotify.NewRedactor(cfg.APIKey.Value())}, nil
}

// Name returns "opsgenie".
func (*Notifier) Name() string { return "opsgenie" }

// CreateAlert is the body of a create-alert request.
type CreateAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
}

// CloseAlert is the body of a close-alert request.
type CloseAlert struct {
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

// Notify creates an alert for a, or closes the flow's alert when a is
// resolved.
func (o *Notifier) Notify(ctx context.Context, a *alert.Alert) (bool, error) {
	if a.Resolved && !a.Test {
		u := o.cfg.URL + "/v2/alerts/" + url.PathEscape(alert.DedupKey(a)) + "/close?identifierType=alias"
		return o.post(ctx, "close alert", u, CloseAlert{Source: "wherefore", Note: alert.Headline(a)})
	}
	return o.post(ctx, "create alert", o.cfg.URL+"/v2/alerts", o.CreateBody(a))
}

func (o *Notifier) post(ctx context.Context, what, u string, v any) (bool, error) {
	var body bytes.Buffer
	if err := alert.EncodeJSON(&body, v); err != nil {
		return false, fmt.Errorf("opsgenie: %s: encoding: %w", what, err)
	}
	header := http.Header{"Authorization": {"GenieKey " + o.cfg.APIKey.Value()}}
	return httpnotify.PostJSON(ctx, o.client, o.Name(), what, u, header, body.Bytes(), o.red)
}

// opsGeniePriority maps severity to OpsGenie's P1 (highest) .. P5; test
// alerts are P5.
func priority(a *alert.Alert) string {
	if a.Test {
		return "P5"
	}
	switch a.Severity() {
	case alert.SeverityCritical:
		return "P1"
	case alert.SeverityError:
		return "P2"
	case alert.SeverityWarning:
		return "P3"
	}
	return "P4"
}

// CreateBody builds the create-alert body for a. OpsGenie limits the message to
// 130 characters; details are strings.
func (o *Notifier) CreateBody(a *alert.Alert) *CreateAlert {
	g := &CreateAlert{
		Message:  alert.Truncate(alert.Headline(a), 130),
		Alias:    alert.DedupKey(a),
		Tags:     []string{"wherefore", "flow-volume"},
		Entity:   a.Host,
		Source:   "wherefore",
		Priority: priority(a),
	}
	if a.Test {
		g.Tags = append(g.Tags, "test")
	}
	if a.IsSummary() {
		g.Tags = []string{"wherefore", "rate-limit"}
		g.Description = alert.Headline(a) + "\nAmong them: " + strings.Join(a.SuppressedKeys, ", ") +
			"\nAll of them are in the local alert log."
		g.Details = map[string]string{"suppressed": strconv.Itoa(a.Suppressed), "host": a.Host}
		return g
	}
	g.Description = describe(a)
	g.Details = map[string]string{
		"key":              a.Key,
		"src":              a.Src,
		"dst":              a.Dst,
		"host":             a.Host,
		"bytes":            strconv.FormatUint(a.Bytes, 10),
		"volume":           alert.HumanBytes(float64(a.Bytes)),
		"rate":             alert.HumanRate(float64(a.Bytes), a.IntervalSeconds),
		"typical":          alert.HumanBytes(a.Baseline),
		"probability":      strconv.FormatFloat(a.Probability, 'f', 2, 64),
		"tests":            alert.TestsText(a.Tests),
		"series":           alert.Sparkline(a.Series, alert.SparkWidth),
		"interval_start":   a.IntervalStart.UTC().Format("2006-01-02T15:04:05Z07:00"),
		"time":             a.Time.UTC().Format("2006-01-02T15:04:05Z07:00"),
		"interval_seconds": strconv.FormatFloat(a.IntervalSeconds, 'f', -1, 64),
		"detector":         a.Detector,
	}
	if a.Reason != "" {
		g.Details["reason"] = a.Reason
	}
	if a.Kind != "" {
		g.Details["kind"] = a.Kind
		g.Tags = append(g.Tags, a.Kind)
	}
	if a.SrcName != "" {
		g.Details["src_name"] = a.SrcName
	}
	if a.DstName != "" {
		g.Details["dst_name"] = a.DstName
	}
	if lines := alert.ProcessLines(a); len(lines) > 0 {
		g.Details["process"] = strings.Join(lines, "; ")
	}
	if len(a.Archive) > 0 {
		g.Details["archive"] = strings.Join(a.Archive, " ")
	}
	return g
}

// describe is a multi-line plain-text account of a firing alert, for
// destinations with room for it.
func describe(a *alert.Alert) string {
	var b strings.Builder
	if a.Test {
		b.WriteString("TEST ALERT from wherefore: no action needed.\n\n")
	}
	if a.Reason != "" {
		fmt.Fprintf(&b, "%s\n\n", a.Reason)
	}
	fmt.Fprintf(&b, "Flow: %s\n", alert.FlowLabel(a, "->"))
	if a.Host != "" {
		fmt.Fprintf(&b, "Host: %s\n", a.Host)
	}
	fmt.Fprintf(&b, "Volume: %s in %s", alert.HumanBytes(float64(a.Bytes)), alert.HumanSeconds(a.IntervalSeconds))
	if r := alert.HumanRate(float64(a.Bytes), a.IntervalSeconds); r != "" {
		fmt.Fprintf(&b, " (%s)", r)
	}
	fmt.Fprintf(&b, "\nTypical: %s per interval\n", alert.HumanBytes(a.Baseline))
	fmt.Fprintf(&b, "Recent intervals: %s (alerted one last)\n", alert.Sparkline(a.Series, alert.SparkWidth))
	fmt.Fprintf(&b, "Probability: %.2f (%s)\n", a.Probability, a.Severity())
	fmt.Fprintf(&b, "Tests fired: %s\n", strings.Join(alert.FiredTests(a.Tests), ", "))
	fmt.Fprintf(&b, "Interval: %s to %s UTC\n", a.IntervalStart.UTC().Format("2006-01-02 15:04:05"), a.Time.UTC().Format("15:04:05"))
	for _, p := range alert.ProcessLines(a) {
		fmt.Fprintf(&b, "Process: %s\n", p)
	}
	for _, p := range a.Archive {
		fmt.Fprintf(&b, "Archive: %s\n", p)
	}
	return b.String()
}
