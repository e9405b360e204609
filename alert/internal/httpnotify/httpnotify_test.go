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

// A bad key is refused naming the flag, never echoing the key.
func TestCheckKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"", "alert: -x_key: empty routing key"},
		{"AB CDSECRET", "alert: -x_key: contains white space"},
		{"ABCDSECRET\n", "alert: -x_key: contains white space"},
		{"ABCDSECRET", ""},
	} {
		err := CheckKey("-x_key", "routing key", tc.key)
		if (err == nil) != (tc.want == "") || err != nil && err.Error() != tc.want {
			t.Errorf("CheckKey(%q) = %v, want %q", tc.key, err, tc.want)
		}
	}
}
