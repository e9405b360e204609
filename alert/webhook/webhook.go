// Package webhook POSTs each wherefore alert record as JSON to one or more
// URLs, optionally signed with HMAC-SHA256.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
)

// SignatureHeader carries the HMAC-SHA256 of the request body, keyed with
// the webhook secret: "sha256=<hex>". Receivers recompute it over the raw
// body and compare in constant time.
const SignatureHeader = "X-Wherefore-Signature"

// Config configures the webhook notifiers: one per URL, all sharing
// the secret and headers.
type Config struct {
	// URLs receive the alert as a JSON POST (-webhook_url, repeatable; use
	// alert.SecretList.Split for comma-separated values). Secrets: a URL often carries a
	// token, so URLs never appear in logs or errors.
	URLs []alert.Secret
	// Secret, when set, signs each body (SignatureHeader): -webhook_secret,
	// or WHEREFORE_WEBHOOK_SECRET, or the file named by -webhook_secret_file.
	Secret alert.Secret
	// Headers are extra request headers, "Name: value" (-webhook_header,
	// repeatable), e.g. "Authorization: Bearer ...". Their values are
	// treated as secrets.
	Headers []alert.Secret
}

// Enabled reports whether any webhook is configured.
func (c Config) Enabled() bool { return len(c.URLs) > 0 }

// Validate reports the first invalid field, by flag name.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return fmt.Errorf("alert: -webhook_url: no URL given")
	}
	seen := map[alert.Secret]bool{}
	for i, u := range c.URLs {
		if _, err := httpnotify.CheckURL(fmt.Sprintf("-webhook_url (#%d)", i+1), u.Value(), true); err != nil {
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

// parseHeaders reads "Name: value" lines.
func parseHeaders(lines []alert.Secret) (http.Header, error) {
	h := http.Header{}
	for i, l := range lines {
		k, v, ok := strings.Cut(l.Value(), ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			// The value may be a credential: name the position, not the text.
			return nil, fmt.Errorf("alert: -webhook_header (#%d): want \"Name: value\"", i+1)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(k), v)
	}
	return h, nil
}

// Notifier POSTs the Alert record as JSON (the same object as a JSON-lines
// record) to one URL, optionally signed.
type Notifier struct {
	name    string
	url     string
	secret  []byte
	headers http.Header
	client  *http.Client
	red     httpnotify.Redactor
}

// New returns one notifier per URL of cfg. client may be nil for a
// default one.
//
// They are named by position: "webhook", "webhook-2", "webhook-3" ...;
// the name reveals nothing of the URL, and it names the spool folder, so a
// changed URL still delivers what was spooled for the webhook before.
func New(cfg Config, client *http.Client) ([]*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	headers, _ := parseHeaders(cfg.Headers)
	secrets := []string{cfg.Secret.Value()}
	for _, u := range cfg.URLs {
		secrets = append(secrets, u.Value())
	}
	for _, vs := range headers {
		secrets = append(secrets, vs...)
	}
	red := httpnotify.NewRedactor(secrets...)
	if client == nil {
		client = httpnotify.DefaultClient()
	}
	out := make([]*Notifier, 0, len(cfg.URLs))
	for i, u := range cfg.URLs {
		name := "webhook"
		if i > 0 {
			name = fmt.Sprintf("webhook-%d", i+1)
		}
		w := &Notifier{
			name:    name,
			url:     u.Value(),
			headers: headers,
			client:  client,
			red:     red,
		}
		if cfg.Secret != "" {
			w.secret = []byte(cfg.Secret.Value())
		}
		out = append(out, w)
	}
	return out, nil
}

// Name returns "webhook" for the first URL, "webhook-N" for the Nth.
func (w *Notifier) Name() string { return w.name }

// Notify POSTs a. Any 2xx answer is success.
func (w *Notifier) Notify(ctx context.Context, a *alert.Alert) (bool, error) {
	var body bytes.Buffer
	if err := alert.EncodeJSON(&body, a); err != nil {
		return false, fmt.Errorf("%s: encoding alert: %w", w.name, err)
	}
	header := w.headers
	if w.secret != nil {
		header = header.Clone()
		header.Set(SignatureHeader, Sign(w.secret, body.Bytes()))
	}
	return httpnotify.PostJSON(ctx, w.client, w.name, "POST", w.url, header, body.Bytes(), w.red)
}

// Sign returns the SignatureHeader value for body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
