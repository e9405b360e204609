package alert

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

// DefaultPagerDutyURL is the Events API v2 endpoint (EU accounts use
// https://events.eu.pagerduty.com/v2/enqueue).
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// pagerDutyPath is the path go-pagerduty appends to its events endpoint.
const pagerDutyPath = "/v2/enqueue"

// PagerDutyConfig configures the PagerDuty notifier (Events API v2).
type PagerDutyConfig struct {
	// RoutingKey is the integration key of the service: -pagerduty_routing_key,
	// or WHEREFORE_PAGERDUTY_ROUTING_KEY, or the file named by
	// -pagerduty_routing_key_file. A secret.
	RoutingKey string
	// URL of the events endpoint (-pagerduty_url, default
	// DefaultPagerDutyURL). It must end in /v2/enqueue.
	URL string
	// AutoResolve resolves the incident when the flow is back to normal
	// (-pagerduty_auto_resolve).
	AutoResolve bool
}

// Enabled reports whether PagerDuty is configured at all.
func (c PagerDutyConfig) Enabled() bool { return c.RoutingKey != "" }

// Validate reports the first invalid field, by flag name.
func (c PagerDutyConfig) Validate() error {
	if c.RoutingKey == "" {
		return fmt.Errorf("alert: -pagerduty_routing_key: empty routing key")
	}
	if strings.ContainsAny(c.RoutingKey, " \t\r\n") {
		return fmt.Errorf("alert: -pagerduty_routing_key: contains white space")
	}
	u, err := checkURL("-pagerduty_url", c.url(), false)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(u.Path, pagerDutyPath) || u.RawQuery != "" {
		return fmt.Errorf("alert: -pagerduty_url: %q must end in %s", c.url(), pagerDutyPath)
	}
	return nil
}

func (c PagerDutyConfig) url() string {
	if c.URL == "" {
		return DefaultPagerDutyURL
	}
	return c.URL
}

// String describes c with the routing key redacted.
func (c PagerDutyConfig) String() string {
	return fmt.Sprintf("PagerDutyConfig{RoutingKey:%s URL:%q AutoResolve:%t}", redactedIfSet(c.RoutingKey), c.url(), c.AutoResolve)
}

// PagerDuty triggers (and optionally resolves) PagerDuty incidents through
// the Events API v2, one incident per flow and host (the dedup key), so
// repeats of a flow update one incident.
//
// It uses go-pagerduty's Client with WithV2EventsAPIEndpoint, which makes
// the endpoint overridable (EU accounts, tests); the package-level
// ManageEventWithContext always posts to the US endpoint.
type PagerDuty struct {
	cfg    PagerDutyConfig
	base   string // endpoint without /v2/enqueue, as go-pagerduty wants it
	client *http.Client
	red    redactor
}

// NewPagerDuty returns a PagerDuty notifier. client may be nil for a
// default one.
func NewPagerDuty(cfg PagerDutyConfig, client *http.Client) (*PagerDuty, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.URL = cfg.url()
	if client == nil {
		client = defaultHTTPClient()
	}
	return &PagerDuty{
		cfg:    cfg,
		base:   strings.TrimSuffix(cfg.URL, pagerDutyPath),
		client: client,
		red:    newRedactor(cfg.RoutingKey),
	}, nil
}

// Name returns "pagerduty".
func (*PagerDuty) Name() string { return "pagerduty" }

// SendResolved reports whether incidents are resolved automatically.
func (p *PagerDuty) SendResolved() bool { return p.cfg.AutoResolve }

// Notify sends a trigger event for a, or a resolve event for a resolved
// alert.
func (p *PagerDuty) Notify(ctx context.Context, a *Alert) (bool, error) {
	x, hc := newExchange(p.client)
	c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(p.base))
	c.HTTPClient = hc
	ev := p.Event(a)
	if _, err := c.ManageEventWithContext(ctx, ev); err != nil {
		return x.result(ctx, p.Name(), ev.Action+" event", p.red, err)
	}
	return false, nil
}

// Event builds the event sent for a. Severity follows SeverityOf; the
// custom details are the Alert record itself.
func (p *PagerDuty) Event(a *Alert) *pagerduty.V2Event {
	ev := &pagerduty.V2Event{
		RoutingKey: p.cfg.RoutingKey,
		Action:     "trigger",
		DedupKey:   dedupKey(a),
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
	ev.Payload = &pagerduty.V2Payload{
		Summary:   truncate(Headline(a), 1024),
		Source:    source,
		Severity:  severityOf(a).String(),
		Timestamp: a.Time.UTC().Format(time.RFC3339),
		Component: a.Src,
		Group:     a.Host,
		Class:     "flow volume",
		Details:   a,
	}
	if a.IsSummary() {
		ev.Payload.Component = ""
		ev.Payload.Class = "alert rate limit"
	}
	return ev
}
