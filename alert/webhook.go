package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// SignatureHeader carries the HMAC-SHA256 of the request body, keyed with
// the webhook secret: "sha256=<hex>". Receivers recompute it over the raw
// body and compare in constant time.
const SignatureHeader = "X-Wherefore-Signature"

// WebhookConfig configures the webhook notifiers: one per URL, all sharing
// the secret and headers.
type WebhookConfig struct {
	// URLs receive the alert as a JSON POST (-webhook_url, repeatable; use
	// SplitList for comma-separated values). Secrets: a URL often carries a
	// token, so URLs never appear in logs or errors.
	URLs []string
	// Secret, when set, signs each body (SignatureHeader): -webhook_secret,
	// or WHEREFORE_WEBHOOK_SECRET, or the file named by -webhook_secret_file.
	Secret string
	// Headers are extra request headers, "Name: value" (-webhook_header,
	// repeatable), e.g. "Authorization: Bearer ...". Their values are
	// treated as secrets.
	Headers []string
}

// Enabled reports whether any webhook is configured.
func (c WebhookConfig) Enabled() bool { return len(c.URLs) > 0 }

// Validate reports the first invalid field, by flag name.
func (c WebhookConfig) Validate() error {
	if len(c.URLs) == 0 {
		return fmt.Errorf("alert: -webhook_url: no URL given")
	}
	seen := map[string]bool{}
	for i, u := range c.URLs {
		if _, err := checkURL(fmt.Sprintf("-webhook_url (#%d)", i+1), u, true); err != nil {
			return err
		}
		if seen[u] {
			return fmt.Errorf("alert: -webhook_url (#%d): same URL given twice", i+1)
		}
		seen[u] = true
	}
	_, err := parseHeaders(c.Headers)
	return err
}

// String describes c with URLs, secret and header values redacted.
func (c WebhookConfig) String() string {
	names := make([]string, 0, len(c.Headers))
	for _, h := range c.Headers {
		k, _, _ := strings.Cut(h, ":")
		names = append(names, strings.TrimSpace(k))
	}
	return fmt.Sprintf("WebhookConfig{URLs:%d redacted Secret:%s Headers:%v}", len(c.URLs), redactedIfSet(c.Secret), names)
}

// parseHeaders reads "Name: value" lines.
func parseHeaders(lines []string) (http.Header, error) {
	h := http.Header{}
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			// The value may be a credential: name the position, not the text.
			return nil, fmt.Errorf("alert: -webhook_header (#%d): want \"Name: value\"", i+1)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(k), v)
	}
	return h, nil
}

// Webhook POSTs the Alert record as JSON (the same object as a JSON-lines
// record) to one URL, optionally signed.
type Webhook struct {
	name    string
	url     string
	secret  []byte
	headers http.Header
	client  *http.Client
	red     redactor
}

// NewWebhooks returns one notifier per URL of cfg. client may be nil for a
// default one.
//
// They are named by position: "webhook", "webhook-2", "webhook-3" ...;
// the name reveals nothing of the URL, and it names the spool folder, so a
// changed URL still delivers what was spooled for the webhook before.
func NewWebhooks(cfg WebhookConfig, client *http.Client) ([]*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	headers, _ := parseHeaders(cfg.Headers)
	secrets := append([]string{cfg.Secret}, cfg.URLs...)
	for _, vs := range headers {
		secrets = append(secrets, vs...)
	}
	red := newRedactor(secrets...)
	if client == nil {
		client = defaultHTTPClient()
	}
	out := make([]*Webhook, 0, len(cfg.URLs))
	for i, u := range cfg.URLs {
		name := "webhook"
		if i > 0 {
			name = fmt.Sprintf("webhook-%d", i+1)
		}
		w := &Webhook{
			name:    name,
			url:     u,
			headers: headers,
			client:  client,
			red:     red,
		}
		if cfg.Secret != "" {
			w.secret = []byte(cfg.Secret)
		}
		out = append(out, w)
	}
	return out, nil
}

// Name returns "webhook" for the first URL, "webhook-N" for the Nth.
func (w *Webhook) Name() string { return w.name }

// Notify POSTs a. Any 2xx answer is success.
func (w *Webhook) Notify(ctx context.Context, a *Alert) (bool, error) {
	var body bytes.Buffer
	if err := encodeJSON(&body, a); err != nil {
		return false, fmt.Errorf("%s: encoding alert: %w", w.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body.Bytes()))
	if err != nil {
		return false, fmt.Errorf("%s: building request: %s", w.name, w.red.redact(err.Error()))
	}
	for k, vs := range w.headers {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.secret != nil {
		req.Header.Set(SignatureHeader, Sign(w.secret, body.Bytes()))
	}
	x, c := newExchange(w.client)
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
	}
	return x.result(ctx, w.name, "POST", w.red, err)
}

// Sign returns the SignatureHeader value for body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
