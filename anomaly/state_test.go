package anomaly

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// learnedState returns models that have seen traffic: a calibrated SPOT,
// a DSPOT, a calibrated pooled model, one still calibrating, and baselines.
func learnedState(t *testing.T) *State {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 11))
	s, err := NewSPOT(SPOTConfig{NInit: 500, MaxExcess: 40})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDSPOT(SPOTConfig{NInit: 300, Q: 1e-3}, 20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPooled(PooledConfig{Risk: 1e5})
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := NewPooled(PooledConfig{})
	bc := baselineConfig(t)
	var b Baseline
	for i := range 5000 {
		s.Step(rng.ExpFloat64())
		d.Step(float64(i)*0.01 + rng.NormFloat64())
		p.Observe(rng.NormFloat64())
		b.Update(rng.ExpFloat64()*1e4, bc)
	}
	fresh.Observe(1.5)
	return &State{
		SPOT:      map[string]*SPOT{"host:10.0.0.5": s},
		DSPOT:     map[string]*DSPOT{"uploads": d},
		Pooled:    map[string]*Pooled{"pair": p, "src": fresh},
		Baselines: map[string]Baseline{"10.0.0.5->203.0.113.9": b},
	}
}

func TestStateRoundTrip(t *testing.T) {
	st := learnedState(t)
	path := filepath.Join(t.TempDir(), "learned.json")
	if err := SaveStateFile(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, s2 := st.SPOT["host:10.0.0.5"], got.SPOT["host:10.0.0.5"]
	if s2 == nil || s2.Threshold() != s.Threshold() || s2.InitialThreshold() != s.InitialThreshold() {
		t.Fatalf("SPOT threshold %v -> %v", s.Threshold(), s2)
	}
	n, nt := s.Counts()
	if n2, nt2 := s2.Counts(); n2 != n || nt2 != nt {
		t.Fatalf("SPOT counts %d,%d -> %d,%d", n, nt, n2, nt2)
	}
	d, d2 := st.DSPOT["uploads"], got.DSPOT["uploads"]
	if d2.Threshold() != d.Threshold() || d2.Mean() != d.Mean() {
		t.Fatalf("DSPOT threshold %g mean %g -> %g %g", d.Threshold(), d.Mean(), d2.Threshold(), d2.Mean())
	}
	p, p2 := st.Pooled["pair"], got.Pooled["pair"]
	thr, ok := p.Threshold()
	if thr2, ok2 := p2.Threshold(); thr2 != thr || ok2 != ok || !ok {
		t.Fatalf("pooled threshold %g,%v -> %g,%v", thr, ok, thr2, ok2)
	}
	if f := got.Pooled["src"]; f.SPOT().Calibrated() || len(f.SPOT().calib) != 1 {
		t.Fatalf("calibrating pooled model not restored as such")
	}
	if got.Baselines["10.0.0.5->203.0.113.9"] != st.Baselines["10.0.0.5->203.0.113.9"] {
		t.Fatal("baseline changed")
	}
	// The restored models carry on exactly as the originals.
	rng := rand.New(rand.NewPCG(4, 4))
	for range 3000 {
		x := rng.ExpFloat64() * 1.5
		a, _ := s.Step(x)
		b, _ := s2.Step(x)
		if a != b || s.Threshold() != s2.Threshold() {
			t.Fatalf("restored SPOT diverged: %v vs %v, %g vs %g", a, b, s.Threshold(), s2.Threshold())
		}
		y := 50 + rng.NormFloat64()
		a, _ = d.Step(y)
		b, _ = d2.Step(y)
		if a != b || d.Threshold() != d2.Threshold() {
			t.Fatalf("restored DSPOT diverged: %v vs %v, %g vs %g", a, b, d.Threshold(), d2.Threshold())
		}
	}
}

func TestStateBadFiles(t *testing.T) {
	var good bytes.Buffer
	if err := learnedState(t).Save(&good); err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(good.String(), `"version":1`, `"version":0`, 1)
	for _, c := range []struct {
		name, data string
		want       error
	}{
		{"truncated", good.String()[:good.Len()/2], ErrStateCorrupt},
		{"empty", "", ErrStateCorrupt},
		{"binary", "\x89PNG\r\n\x1a\n", ErrStateCorrupt},
		{"foreign JSON", `{"name":"prometheus","version":1}`, ErrStateFormat},
		{"JSON array", `[1,2,3]`, ErrStateFormat},
		{"old version", old, ErrStateVersion},
		{"bad model", `{"format":"wherefore-anomaly-state","version":1,"spot":{"x":{"config":{"Q":0.5},"calibrated":true,"n":1,"t":0}}}`, ErrStateCorrupt},
		{"inconsistent counts", `{"format":"wherefore-anomaly-state","version":1,"spot":{"x":{"config":{},"calibrated":true,"n":5,"n_t":9,"t":1,"excesses":[1]}}}`, ErrStateCorrupt},
		{"null model", `{"format":"wherefore-anomaly-state","version":1,"pooled":{"pair":null}}`, ErrStateCorrupt},
	} {
		path := filepath.Join(t.TempDir(), "learned.json")
		if err := os.WriteFile(path, []byte(c.data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadStateFile(path)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", c.name, err)
		}
	}
	if _, err := LoadStateFile(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
