package alert

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// ResolveSecret returns a secret that may be given three ways, so that it
// need not appear in `ps`: flagValue when it is not empty, else the contents
// of the file filePath (surrounding white space trimmed) when filePath is
// not empty, else the value of the environment variable envVar (may be "").
// An explicit choice on the command line wins over the ambient environment.
//
// Errors name the file, never the secret. A file that is empty is an error,
// since it is almost certainly a mistake that would otherwise disable a
// notifier silently.
func ResolveSecret(flagValue, envVar, filePath string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if filePath != "" {
		b, err := os.ReadFile(filePath)
		if err != nil {
			return "", fmt.Errorf("alert: reading secret file: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("alert: secret file %s is empty", filePath)
		}
		return s, nil
	}
	if envVar != "" {
		return os.Getenv(envVar), nil
	}
	return "", nil
}

// redactedText replaces secrets in messages.
const redactedText = "[REDACTED]"

// minSecretLen keeps very short values (say a header value "1") from being
// treated as secrets, which would mangle every message they occur in.
const minSecretLen = 4

// redactor removes known secrets (webhook URLs, routing keys, API keys,
// header values) from text that may reach logs or errors. HTTP libraries
// embed request URLs in their errors, and Slack webhook URLs are secrets.
type redactor struct {
	secrets []string
}

// newRedactor returns a redactor for secrets, also covering the escaped
// forms in which a URL or key shows up in library messages.
func newRedactor(secrets ...string) redactor {
	var r redactor
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

// redact returns s with every secret replaced by [REDACTED].
func (r redactor) redact(s string) string {
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redactedText)
		}
	}
	return s
}
