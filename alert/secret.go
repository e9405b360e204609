package alert

import (
	"fmt"
	"os"
	"slices"
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
func ResolveSecret(flagValue Secret, envVar, filePath string) (Secret, error) {
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
		return Secret(s), nil
	}
	if envVar != "" {
		return Secret(os.Getenv(envVar)), nil
	}
	return "", nil
}

// Secret is a value that must never be shown: a webhook URL (its path is
// the token), a routing key, an API key, an HMAC key. Every way Go prints
// or encodes a value (String, the fmt verbs including %#v and %q, JSON,
// text encoding, hence logrus fields and YAML/flag output) gives
// "<secret>" instead, or "" when it is empty, so a new notifier or a new
// log line cannot leak one by forgetting a list of names. Value returns
// the value itself, for the one place that sends it.
//
// *Secret is a flag.Value, so a flag holding a secret prints "<secret>"
// in -h and in reload logs.
type Secret string

// secretMask is what a set secret prints as.
const secretMask = "<secret>"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String returns "<secret>", or "" when s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return secretMask
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return "alert.Secret(" + strconv.Quote(s.String()) + ")" }

// Format prints the mask for every verb, so that no verb or flag (%v %+v
// %#v %s %q %x) reaches the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(s.String()))
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.String())
	default:
		fmt.Fprint(f, s.String())
	}
}

// MarshalJSON encodes the mask.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalText encodes the mask.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Set implements flag.Value: it stores v.
func (s *Secret) Set(v string) error {
	*s = Secret(v)
	return nil
}

// Get implements flag.Getter, so code comparing flag values (a reload
// telling what changed) can compare the secrets without printing them.
func (s *Secret) Get() any { return *s }

// SecretList is a repeatable flag of secrets (-webhook_url, -webhook_header);
// each value may also hold several, comma-separated (see Split).
type SecretList []Secret

// String returns "<secret>" per value, comma-separated.
func (l *SecretList) String() string {
	if l == nil {
		return ""
	}
	out := make([]string, len(*l))
	for i, s := range *l {
		out[i] = s.String()
	}
	return strings.Join(out, ",")
}

// Set implements flag.Value: it appends v.
func (l *SecretList) Set(v string) error {
	*l = append(*l, Secret(v))
	return nil
}

// Get implements flag.Getter.
func (l *SecretList) Get() any { return slices.Clone(*l) }

// Split returns the non-empty, trimmed items of l's comma-separated values
// ("-webhook_url a,b -webhook_url c" gives a, b and c).
func (l SecretList) Split() []Secret {
	var out []Secret
	for _, v := range l {
		for _, s := range strings.Split(string(v), ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, Secret(s))
			}
		}
	}
	return out
}
