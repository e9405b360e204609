// Package httpnotify holds what wherefore's HTTP notifiers share: the
// request recorder that classifies each outcome for the dispatcher's retry
// policy, the redacted HTTPError, URL checks and the Redactor that keeps
// secrets out of error messages.
package httpnotify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// UserAgent is sent by every HTTP notifier, so receivers can tell
// wherefore's requests apart.
const UserAgent = "wherefore-alert/1 (+https://github.com/wherefore/wherefore)"

// maxErrorBody bounds how much of an error response is kept for the error
// message: enough for "invalid_token" or a JSON error object.
const maxErrorBody = 512

// HTTPError is the error HTTP notifiers return. Its message has every
// secret of the notifier (webhook URL, key) replaced by [REDACTED], since
// errors end up in logs and on the terminal; the fields keep what retry
// decisions need.
type HTTPError struct {
	// Notifier is the name of the notifier that failed.
	Notifier string
	// StatusCode is the HTTP status of the response, 0 when none arrived
	// (network error, timeout).
	StatusCode int
	// RetryAfter is the response's Retry-After header, seconds or an HTTP
	// date, "" when absent.
	RetryAfter string
	// Body is the start of the error response, redacted.
	Body string
	// Timeout is true when the request timed out.
	Timeout bool

	msg   string
	cause error // only context errors, which carry no secrets
}

// Error returns the redacted description.
func (e *HTTPError) Error() string { return e.msg }

// Unwrap exposes context.DeadlineExceeded or context.Canceled when the
// request ended that way; never the transport's own error, whose text may
// hold the secret URL.
func (e *HTTPError) Unwrap() error { return e.cause }

// RetryDelay returns the wait the server asked for with Retry-After, given
// the current time (an HTTP date is relative to it), and whether it asked.
func (e *HTTPError) RetryDelay(now time.Time) (time.Duration, bool) {
	return parseRetryAfter(e.RetryAfter, now)
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
// A date in the past means "now".
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

// retryableStatus says whether sending the same request again can succeed:
// yes for timeouts, rate limits and server errors; no for other client
// errors, which will be rejected again.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// DefaultClient is used when a notifier is given none: its own
// transport, so that nothing else tuning http.DefaultTransport affects it.
// There is no client timeout; the Dispatcher bounds each attempt with a
// context deadline.
func DefaultClient() *http.Client {
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

// Exchange records what happened on the wire during one notification, so
// notifiers built on libraries that hide the response (Retry-After, error
// body) or fold it into an error string holding the URL can still classify
// the outcome and report it without secrets.
type Exchange struct {
	base       http.RoundTripper
	status     int
	statusText string
	retryAfter string
	body       []byte
	err        error
}

// RoundTrip sends req with the User-Agent set and remembers the outcome.
func (x *Exchange) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", UserAgent)
	resp, err := x.base.RoundTrip(req)
	if err != nil {
		x.err = err
		return nil, err
	}
	x.err = nil
	x.status, x.statusText = resp.StatusCode, resp.Status
	x.retryAfter = resp.Header.Get("Retry-After")
	x.body = nil
	if resp.StatusCode >= 300 {
		// Keep the start of the body for the error, and give the caller the
		// whole body back unchanged.
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		x.body = head
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	}
	return resp, nil
}

// NewExchange returns an exchange over client's transport and a client
// using it, keeping client's other settings.
func NewExchange(client *http.Client) (*Exchange, *http.Client) {
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	x := &Exchange{base: base}
	c := *client
	c.Transport = x
	return x, &c
}

// Result turns the exchange and the error the library (or our own code)
// returned into Notify's answer. A 2xx response is success even if the
// library then failed to decode a body we do not need.
func (x *Exchange) Result(ctx context.Context, name, what string, red Redactor, libErr error) (bool, error) {
	if x.err == nil && x.status >= 200 && x.status < 300 {
		return false, nil
	}
	e := &HTTPError{Notifier: name}
	switch {
	case x.err != nil || (x.status == 0 && ctx.Err() != nil):
		err := x.err
		if err == nil {
			err = ctx.Err()
		}
		e.cause = contextCause(ctx, err)
		var ne net.Error
		e.Timeout = errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
			(errors.As(err, &ne) && ne.Timeout())
		if e.Timeout {
			e.cause = context.DeadlineExceeded
		}
		e.msg = fmt.Sprintf("%s: %s: %s", name, what, red.Redact(err.Error()))
		return true, e
	case x.status == 0:
		// The request never left (bad URL, marshalling): trying again
		// cannot help.
		msg := "request failed"
		if libErr != nil {
			msg = libErr.Error()
		}
		e.msg = fmt.Sprintf("%s: %s: %s", name, what, red.Redact(msg))
		return false, e
	}
	e.StatusCode = x.status
	e.RetryAfter = x.retryAfter
	e.Body = red.Redact(cleanBody(x.body))
	e.msg = fmt.Sprintf("%s: %s: HTTP %s", name, what, red.Redact(x.statusText))
	if e.Body != "" {
		e.msg += ": " + e.Body
	}
	return retryableStatus(x.status), e
}

// contextCause returns the context error behind err, if any, so callers can
// use errors.Is without seeing the transport error.
func contextCause(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return nil
}

// cleanBody makes an error body printable on one line.
func cleanBody(b []byte) string {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("?"))
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(b) >= maxErrorBody {
		s += " ..."
	}
	return s
}

// CheckURL validates an endpoint URL given by flag. When the URL is secret
// (a Slack or webhook URL carries its token) the error does not repeat it.
func CheckURL(flag, raw string, secret bool) (*url.URL, error) {
	show := func() string {
		if secret {
			return "the URL"
		}
		return fmt.Sprintf("%q", raw)
	}
	if raw == "" {
		return nil, fmt.Errorf("alert: %s: empty URL", flag)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("alert: %s: %s is not a valid URL", flag, show())
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("alert: %s: %s must start with https:// (or http://)", flag, show())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("alert: %s: %s has no host", flag, show())
	}
	return u, nil
}

// redactedText replaces secrets in messages.
const redactedText = "[REDACTED]"

// minSecretLen keeps very short values (say a header value "1") from being
// treated as secrets, which would mangle every message they occur in.
const minSecretLen = 4

// Redactor removes known secrets (webhook URLs, routing keys, API keys,
// header values) from text that may reach logs or errors. HTTP libraries
// embed request URLs in their errors, and Slack webhook URLs are secrets.
type Redactor struct {
	secrets []string
}

// NewRedactor returns a Redactor for secrets, also covering the escaped
// forms in which a URL or key shows up in library messages.
func NewRedactor(secrets ...string) Redactor {
	var r Redactor
	add := func(s string) {
		if len(s) < minSecretLen {
			return
		}
		for _, have := range r.secrets {
			if have == s {
				return
			}
		}
		r.secrets = append(r.secrets, s)
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		if q := strconv.Quote(s); len(q) > 2 {
			add(q[1 : len(q)-1])
		}
		// A URL's path and query carry its token; they may appear alone.
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			if len(u.Path) > 1 {
				add(u.Path)
				add(u.EscapedPath())
			}
			add(u.RawQuery)
		}
	}
	// Longer first, so a secret that contains another is replaced whole.
	for i := 1; i < len(r.secrets); i++ {
		for j := i; j > 0 && len(r.secrets[j]) > len(r.secrets[j-1]); j-- {
			r.secrets[j], r.secrets[j-1] = r.secrets[j-1], r.secrets[j]
		}
	}
	return r
}

// Redact returns s with every secret replaced by [REDACTED].
func (r Redactor) Redact(s string) string {
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redactedText)
		}
	}
	return s
}

// CheckKey validates an API key or routing key given by flag; what names
// it in the error ("key", "routing key"), which never repeats the value.
func CheckKey(flag, what, key string) error {
	if key == "" {
		return fmt.Errorf("alert: %s: empty %s", flag, what)
	}
	if strings.ContainsAny(key, " \t\r\n") {
		return fmt.Errorf("alert: %s: contains white space", flag)
	}
	return nil
}

// maxDrain bounds how much of a response body is read so that the
// connection can be reused.
const maxDrain = 1 << 16

// PostJSON POSTs body, a JSON document, to u with header (Content-Type is
// set) and classifies the outcome for the dispatcher as Exchange.Result
// does: name is the notifier, what the request ("POST", "close alert").
// Errors hold no secret known to red.
func PostJSON(ctx context.Context, client *http.Client, name, what, u string, header http.Header, body []byte, red Redactor) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("%s: %s: building request: %s", name, what, red.Redact(err.Error()))
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", "application/json")
	x, c := NewExchange(client)
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		resp.Body.Close()
	}
	return x.Result(ctx, name, what, red, err)
}
