package alert

import (
	"os"
	"path/filepath"
	"testing"
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
