package alert

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WHEREFORE_TEST_SECRET", "from-env")

	for _, tc := range []struct {
		name, flag, env, file, want string
		wantErr                     bool
	}{
		{"flag wins", "from-flag", "WHEREFORE_TEST_SECRET", file, "from-flag", false},
		{"file before env", "", "WHEREFORE_TEST_SECRET", file, "from-file", false},
		{"env last", "", "WHEREFORE_TEST_SECRET", "", "from-env", false},
		{"nothing", "", "", "", "", false},
		{"unset env", "", "WHEREFORE_TEST_UNSET", "", "", false},
		{"empty file", "", "", empty, "", true},
		{"missing file", "", "", filepath.Join(dir, "nope"), "", true},
	} {
		got, err := ResolveSecret(Secret(tc.flag), tc.env, tc.file)
		if (err != nil) != tc.wantErr || got.Value() != tc.want {
			t.Errorf("%s: ResolveSecret = %q, %v; want %q, error %t", tc.name, got.Value(), err, tc.want, tc.wantErr)
		}
	}
}

// No way of printing or encoding a Secret shows its value; an empty one
// prints empty, so "not configured" stays visible.
func TestSecretNeverPrints(t *testing.T) {
	const value = "hooks.example/T0K3N"
	s := Secret(value)
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%10s"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, []Secret{s}), fmt.Sprintf(verb, struct{ K Secret }{s}))
	}
	j, _ := json.Marshal(map[string]Secret{"k": s})
	txt, _ := s.MarshalText()
	out = append(out, string(j), string(txt), s.String())
	for _, f := range []logrus.Formatter{&logrus.TextFormatter{DisableColors: true}, &logrus.JSONFormatter{}} {
		var b strings.Builder
		l := logrus.New()
		l.SetOutput(&b)
		l.SetFormatter(f)
		l.WithField("key", s).WithField("keys", SecretList{s}).Info("configured")
		out = append(out, b.String())
	}
	list := SecretList{Secret(value + ", other.example/x")}
	out = append(out, list.String(), fmt.Sprint(list))
	for _, o := range out {
		if strings.Contains(o, "T0K3N") || strings.Contains(o, hex.EncodeToString([]byte(value))) {
			t.Errorf("secret shown: %s", o)
		}
	}
	if s.Value() != value {
		t.Errorf("Value = %q", s.Value())
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty secret prints %q, want nothing", got)
	}
	if got := list.Split(); len(got) != 2 || got[0].Value() != value || got[1].Value() != "other.example/x" {
		t.Errorf("Split = %d values", len(got))
	}
	var flagged Secret
	if err := flagged.Set(value); err != nil || flagged.Get() != Secret(value) {
		t.Errorf("Set/Get: %v", err)
	}
}
