package anomaly

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// StateVersion is the version of the learned-state encoding this package
// writes and reads. A file of another version is refused with
// ErrStateVersion (its models may mean something else), never misread.
const StateVersion = 1

// stateFormat marks a file as wherefore's learned state.
const stateFormat = "wherefore-anomaly-state"

// Errors of LoadState; match them with errors.Is. The caller reports such a
// file and starts afresh: learned state is a cache of what traffic taught.
const (
	ErrStateCorrupt = constError("anomaly: learned state is corrupt")
	ErrStateFormat  = constError("anomaly: not a wherefore learned-state file")
	ErrStateVersion = constError("anomaly: learned state of an unsupported version")
)

// State is the learned state of the detectors, keyed by names the caller
// chooses (a scope such as "pair", a host, a flow key).
type State struct {
	SPOT      map[string]*SPOT
	DSPOT     map[string]*DSPOT
	Pooled    map[string]*Pooled
	Baselines map[string]Baseline
}

type stateJSON struct {
	Format    string              `json:"format"`
	Version   int                 `json:"version"`
	SPOT      map[string]*SPOT    `json:"spot,omitempty"`
	DSPOT     map[string]*DSPOT   `json:"dspot,omitempty"`
	Pooled    map[string]*Pooled  `json:"pooled,omitempty"`
	Baselines map[string]Baseline `json:"baselines,omitempty"`
}

// Save writes s to w as versioned JSON.
func (s *State) Save(w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := json.NewEncoder(bw).Encode(stateJSON{
		Format: stateFormat, Version: StateVersion,
		SPOT: s.SPOT, DSPOT: s.DSPOT, Pooled: s.Pooled, Baselines: s.Baselines,
	})
	if err != nil {
		return fmt.Errorf("anomaly: encoding learned state: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("anomaly: writing learned state: %w", err)
	}
	return nil
}

// LoadState reads state written by Save. Every model is checked and its
// thresholds are refitted from the stored sample, so a file that decodes
// is a file the detectors can use.
func LoadState(r io.Reader) (*State, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("anomaly: reading learned state: %w", err)
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) || len(bytes.TrimSpace(data)) == 0 {
			return nil, fmt.Errorf("%w: %v", ErrStateCorrupt, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrStateFormat, err)
	}
	if head.Format != stateFormat {
		return nil, fmt.Errorf("%w (format %q, want %q)", ErrStateFormat, head.Format, stateFormat)
	}
	if head.Version != StateVersion {
		return nil, fmt.Errorf("%w: version %d (this build reads version %d)", ErrStateVersion, head.Version, StateVersion)
	}
	var sj stateJSON
	if err := json.Unmarshal(data, &sj); err != nil {
		if errors.Is(err, ErrStateCorrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrStateCorrupt, err)
	}
	for name, b := range sj.Baselines {
		if !(b.Spread >= 0) || math.IsInf(b.Center, 0) || math.IsInf(b.Spread, 0) {
			return nil, fmt.Errorf("%w: baseline %q has center %g, spread %g", ErrStateCorrupt, name, b.Center, b.Spread)
		}
	}
	for kind, name := range map[string]string{"spot": nilKey(sj.SPOT), "dspot": nilKey(sj.DSPOT), "pooled": nilKey(sj.Pooled)} {
		if name != "" {
			return nil, fmt.Errorf("%w: %s model %s is null", ErrStateCorrupt, kind, name)
		}
	}
	return &State{SPOT: sj.SPOT, DSPOT: sj.DSPOT, Pooled: sj.Pooled, Baselines: sj.Baselines}, nil
}

// nilKey returns the quoted name of a null model in m, or "".
func nilKey[T any](m map[string]*T) string {
	for k, v := range m {
		if v == nil {
			return fmt.Sprintf("%q", k)
		}
	}
	return ""
}

// SaveStateFile writes s to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, so a crash leaves the old
// state or the new, never half of one.
func SaveStateFile(path string, s *State) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("anomaly: saving learned state: %w", err)
	}
	tmp := f.Name()
	err = s.Save(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("anomaly: saving learned state to %s: %w", path, err)
	}
	return nil
}

// LoadStateFile reads the state SaveStateFile wrote to path.
func LoadStateFile(path string) (*State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("anomaly: loading learned state: %w", err)
	}
	defer f.Close()
	s, err := LoadState(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

type spotJSON struct {
	Config      SPOTConfig `json:"config"`
	Calibration []float64  `json:"calibration,omitempty"`
	Calibrated  bool       `json:"calibrated"`
	T           float64    `json:"t"`
	N           int        `json:"n"`
	NT          int        `json:"n_t"`
	Excesses    []float64  `json:"excesses,omitempty"` // oldest first
}

// MarshalJSON encodes the model's configuration and learned sample; the
// fit and z_q are recomputed on decoding.
func (s *SPOT) MarshalJSON() ([]byte, error) {
	j := spotJSON{Config: s.cfg, Calibrated: s.Calibrated(), T: s.t, N: s.n, NT: s.nt}
	if !j.Calibrated {
		j.Calibration = s.calib
	} else {
		j.Excesses = s.ex.ordered(make([]float64, 0, s.ex.count))
	}
	return json.Marshal(j)
}

// UnmarshalJSON restores a model MarshalJSON encoded, checking that its
// configuration is valid and its counts consistent; errors wrap
// ErrStateCorrupt.
func (s *SPOT) UnmarshalJSON(data []byte) error {
	var j spotJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%w: SPOT: %v", ErrStateCorrupt, err)
	}
	m, err := NewSPOT(j.Config)
	if err != nil {
		return fmt.Errorf("%w: SPOT: %v", ErrStateCorrupt, err)
	}
	if !j.Calibrated {
		if len(j.Calibration) >= m.cfg.NInit || len(j.Excesses) > 0 {
			return fmt.Errorf("%w: SPOT: calibrating with %d of %d values and %d excesses", ErrStateCorrupt, len(j.Calibration), m.cfg.NInit, len(j.Excesses))
		}
		m.calib = append(m.calib, j.Calibration...)
		*s = *m
		return nil
	}
	if len(j.Calibration) > 0 || len(j.Excesses) > m.cfg.MaxExcess || j.NT < len(j.Excesses) || j.N < j.NT || j.N < 1 ||
		(j.NT > 0) != (len(j.Excesses) > 0) {
		return fmt.Errorf("%w: SPOT: n %d, n_t %d, %d excesses (at most %d)", ErrStateCorrupt, j.N, j.NT, len(j.Excesses), m.cfg.MaxExcess)
	}
	for _, y := range j.Excesses {
		if !(y > 0) {
			return fmt.Errorf("%w: SPOT: excess %g (excesses are > 0)", ErrStateCorrupt, y)
		}
		m.ex.push(y)
	}
	m.calib, m.t, m.n, m.nt = nil, j.T, j.N, j.NT
	m.refit()
	*s = *m
	return nil
}

type dspotJSON struct {
	SPOT   *SPOT     `json:"spot"`
	Depth  int       `json:"depth"`
	Window []float64 `json:"window,omitempty"` // accepted values, oldest first
}

// MarshalJSON encodes the drift window and the residuals' model.
func (d *DSPOT) MarshalJSON() ([]byte, error) {
	w := make([]float64, 0, d.filled)
	start := d.head - d.filled
	if start < 0 {
		start += len(d.window)
	}
	for i := range d.filled {
		w = append(w, d.window[(start+i)%len(d.window)])
	}
	return json.Marshal(dspotJSON{SPOT: d.spot, Depth: len(d.window), Window: w})
}

// UnmarshalJSON restores a DSPOT; errors wrap ErrStateCorrupt.
func (d *DSPOT) UnmarshalJSON(data []byte) error {
	var j dspotJSON
	if err := json.Unmarshal(data, &j); err != nil {
		if errors.Is(err, ErrStateCorrupt) {
			return err
		}
		return fmt.Errorf("%w: DSPOT: %v", ErrStateCorrupt, err)
	}
	if j.SPOT == nil || j.Depth < 0 || j.Depth > 1<<20 || len(j.Window) > j.Depth {
		return fmt.Errorf("%w: DSPOT: depth %d with %d window values", ErrStateCorrupt, j.Depth, len(j.Window))
	}
	n := &DSPOT{spot: j.SPOT, window: make([]float64, j.Depth)}
	for _, x := range j.Window {
		n.accept(x)
	}
	*d = *n
	return nil
}

type pooledJSON struct {
	Config PooledConfig `json:"config"`
	SPOT   *SPOT        `json:"spot"`
}

// MarshalJSON encodes the configuration and the model.
func (p *Pooled) MarshalJSON() ([]byte, error) {
	return json.Marshal(pooledJSON{Config: p.cfg, SPOT: p.spot})
}

// UnmarshalJSON restores a Pooled model; errors wrap ErrStateCorrupt.
func (p *Pooled) UnmarshalJSON(data []byte) error {
	var j pooledJSON
	if err := json.Unmarshal(data, &j); err != nil {
		if errors.Is(err, ErrStateCorrupt) {
			return err
		}
		return fmt.Errorf("%w: pooled: %v", ErrStateCorrupt, err)
	}
	if err := j.Config.Validate(); err != nil {
		return fmt.Errorf("%w: pooled: %v", ErrStateCorrupt, err)
	}
	if j.SPOT == nil || j.SPOT.cfg != j.Config.spotConfig() {
		return fmt.Errorf("%w: pooled: model missing or not made by its configuration", ErrStateCorrupt)
	}
	*p = Pooled{cfg: j.Config, spot: j.SPOT}
	return nil
}
