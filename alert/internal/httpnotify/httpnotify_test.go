package httpnotify

import (
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	u := "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
	r := NewRedactor(u, "ab") // "ab" is too short to be a secret
	for _, msg := range []string{
		`Post "` + u + `": dial tcp: i/o timeout`,
		"path /services/T000/B000/XXXXSECRET not found",
	} {
		got := r.Redact(msg)
		if strings.Contains(got, "XXXXSECRET") {
			t.Errorf("redact(%q) = %q: secret left", msg, got)
		}
		if !strings.Contains(got, redactedText) {
			t.Errorf("redact(%q) = %q: no marker", msg, got)
		}
	}
	if got := r.Redact("abc"); got != "abc" {
		t.Errorf("short value redacted: %q", got)
	}
}
