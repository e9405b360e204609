// Package pagerduty triggers and resolves PagerDuty incidents for wherefore
// alerts through the Events API v2 (go-pagerduty), one incident per flow
// and host.
package pagerduty

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	pdapi "github.com/PagerDuty/go-pagerduty"
	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
)

// DefaultURL is the Events API v2 endpoint (EU accounts use
// https://events.eu.pagerduty.com/v2/enqueue).
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// pagerDutyPath is the path go-pagerduty appends to its events endpoint.
const eventsPath = "/v2/enqueue"

// Config configures the PagerDuty notifier (Events API v2).
type Config struct {
	// RoutingKey is the integration key of the service: -pagerduty_routing_key,
	// or WHEREFORE_PAGERDUTY_ROUTING_KEY, or the file named by
	// -pagerduty_routing_key_file. A secret.
	RoutingKey alert.Secret
	// URL of the events endpoint (-pagerduty_url, default
	// DefaultURL). It must end in /v2/enqueue.
	URL string
	// AutoResolve resolves the incident when the flow is back to normal
	// (-pagerduty_auto_resolve).
	AutoResolve bool
}

// Enabled reports whether PagerDuty is configured at all.
func (c Config) Enabled() bool { return c.RoutingKey != "" }

// Validate reports the first invalid field, by flag name.
func (c Config) Validate() error {
	if err := httpnotify.CheckKey("-pagerduty_routing_key", "routing key", c.RoutingKey.Value()); err != nil {
		return err
	}
	u, err := httpnotify.CheckURL("-pagerduty_url", c.url(), false)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(u.Path, eventsPath) || u.RawQuery != "" {
		return fmt.Errorf("alert: -pagerduty_url: %q must end in %s", c.url(), eventsPath)
	}
	return nil
}

func (c Config) url() string {
	if c.URL == "" {
		return DefaultURL
	}
	return c.URL
}

// PagerDuty triggers (and optionally resolves) PagerDuty incidents through
// the Events API v2, one incident per flow and host (the dedup key), so
// repeats of a flow update one incident.
//
// It uses go-pagerduty's Client with WithV2EventsAPIEndpoint, which makes
// the endpoint overridable (EU accounts, tests); the package-level
// ManageEventWithContext always posts to the US endpoint.
type Notifier struct {
	cfg    Config
	base   string // endpoint without /v2/enqueue, as go-pdapi wants it
	client *http.Client
	red    httpnotify.Redactor
}

// New returns a PagerDuty notifier. client may be nil for a
// default one.
func New(cfg Config, client *http.Client) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.URL = cfg.url()
	if client == nil {
		client = httpnotify.DefaultClient()
	}
	return &Notifier{
		cfg:    cfg,
		base:   strings.TrimSuffix(cfg.URL, eventsPath),
		client: client,
		red:    httpnotify.NewRedactor(cfg.RoutingKey.Value()),
	}, nil
}

// Name returns "pagerduty".
func (*Notifier) Name() string { return "pagerduty" }

// SendResolved reports whether incidents are resolved automatically.
func (p *Notifier) SendResolved() bool { return p.cfg.AutoResolve }

// Notify sends a trigger event for a, or a resolve event for a resolved
// alert.
func (p *Notifier) Notify(ctx context.Context, a *alert.Alert) (bool, error) {
	x, hc := httpnotify.NewExchange(p.client)
	c := pdapi.NewClient("", pdapi.WithV2EventsAPIEndpoint(p.base))
	c.HTTPClient = hc
	ev := p.Event(a)
	if _, err := c.ManageEventWithContext(ctx, ev); err != nil {
		return x.Result(ctx, p.Name(), ev.Action+" event", p.red, err)
	}
	return false, nil
}

// Event builds the event sent for a. Severity follows SeverityOf; the
// custom details are the Alert record itself.
func (p *Notifier) Event(a *alert.Alert) *pdapi.V2Event {
	ev := &pdapi.V2Event{
		RoutingKey: p.cfg.RoutingKey.Value(),
		Action:     "trigger",
		DedupKey:   alert.DedupKey(a),
		Client:     "wherefore",
	}
	if a.Resolved && !a.Test {
		ev.Action = "resolve"
		return ev
	}
	source := a.Host
	if source == "" {
		source = "wherefore"
	}
	ev.Payload = &pdapi.V2Payload{
		Summary:   alert.Truncate(alert.Headline(a), 1024),
		Source:    source,
		Severity:  a.Severity().String(),
		Timestamp: a.Time.UTC().Format(time.RFC3339),
		Component: a.Src,
		Group:     a.Host,
		Class:     "flow volume",
		Details:   a,
	}
	if a.Kind != "" {
		ev.Payload.Class = a.Kind
	}
	if a.IsSummary() {
		ev.Payload.Component = ""
		ev.Payload.Class = "alert rate limit"
	}
	return ev
}
