package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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

// defaultHTTPClient is used when a notifier is given none: its own
// transport, so that nothing else tuning http.DefaultTransport affects it.
// There is no client timeout; the Dispatcher bounds each attempt with a
// context deadline.
func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

// exchange records what happened on the wire during one notification, so
// notifiers built on libraries that hide the response (Retry-After, error
// body) or fold it into an error string holding the URL can still classify
// the outcome and report it without secrets.
type exchange struct {
	base       http.RoundTripper
	status     int
	statusText string
	retryAfter string
	body       []byte
	err        error
}

// RoundTrip sends req with the User-Agent set and remembers the outcome.
func (x *exchange) RoundTrip(req *http.Request) (*http.Response, error) {
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

// newExchange returns an exchange over client's transport and a client
// using it, keeping client's other settings.
func newExchange(client *http.Client) (*exchange, *http.Client) {
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	x := &exchange{base: base}
	c := *client
	c.Transport = x
	return x, &c
}

// result turns the exchange and the error the library (or our own code)
// returned into Notify's answer. A 2xx response is success even if the
// library then failed to decode a body we do not need.
func (x *exchange) result(ctx context.Context, name, what string, red redactor, libErr error) (bool, error) {
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
		e.msg = fmt.Sprintf("%s: %s: %s", name, what, red.redact(err.Error()))
		return true, e
	case x.status == 0:
		// The request never left (bad URL, marshalling): trying again
		// cannot help.
		msg := "request failed"
		if libErr != nil {
			msg = libErr.Error()
		}
		e.msg = fmt.Sprintf("%s: %s: %s", name, what, red.redact(msg))
		return false, e
	}
	e.StatusCode = x.status
	e.RetryAfter = x.retryAfter
	e.Body = red.redact(cleanBody(x.body))
	e.msg = fmt.Sprintf("%s: %s: HTTP %s", name, what, red.redact(x.statusText))
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
