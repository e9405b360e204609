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
	// Beacons are the pairs the beacon detector follows (added within
	// version 1: files without them load with none).
	Beacons []BeaconTrack
}

type stateJSON struct {
	Format    string              `json:"format"`
	Version   int                 `json:"version"`
	SPOT      map[string]*SPOT    `json:"spot,omitempty"`
	DSPOT     map[string]*DSPOT   `json:"dspot,omitempty"`
	Pooled    map[string]*Pooled  `json:"pooled,omitempty"`
	Baselines map[string]Baseline `json:"baselines,omitempty"`
	Beacons   []BeaconTrack       `json:"beacons,omitempty"`
}

// Save writes s to w as versioned JSON.
func (s *State) Save(w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := json.NewEncoder(bw).Encode(stateJSON{
		Format: stateFormat, Version: StateVersion,
		SPOT: s.SPOT, DSPOT: s.DSPOT, Pooled: s.Pooled, Baselines: s.Baselines, Beacons: s.Beacons,
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
	for i := range sj.Beacons {
		if err := sj.Beacons[i].check(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStateCorrupt, err)
		}
	}
	for kind, name := range map[string]string{"spot": nilKey(sj.SPOT), "dspot": nilKey(sj.DSPOT), "pooled": nilKey(sj.Pooled)} {
		if name != "" {
			return nil, fmt.Errorf("%w: %s model %s is null", ErrStateCorrupt, kind, name)
		}
	}
	return &State{SPOT: sj.SPOT, DSPOT: sj.DSPOT, Pooled: sj.Pooled, Baselines: sj.Baselines, Beacons: sj.Beacons}, nil
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

// spotJSON stores the excess ring as it lies in memory, with its running
// sums and the fitted tail, so a restored model continues bit for bit as
// the saved one would have: when two fits are nearly as likely, refitting
// from sums rounded differently could pick the other.
type spotJSON struct {
	Config      SPOTConfig `json:"config"`
	Calibration []float64  `json:"calibration,omitempty"`
	Calibrated  bool       `json:"calibrated"`
	T           float64    `json:"t"`
	N           int        `json:"n"`
	NT          int        `json:"n_t"`
	Excesses    []float64  `json:"excesses,omitempty"` // ring slots
	Head        int        `json:"head"`
	Sum         float64    `json:"sum"`
	SumSq       float64    `json:"sum_sq"`
	Gamma       float64    `json:"gamma"`
	Sigma       float64    `json:"sigma"`
	// Z is stored, not recomputed: SPOT updates z_q when it refits, not
	// on every normal value that raises n.
	Z float64 `json:"z"`
	// NoTail stands for z = +Inf (no tail fitted yet), which JSON cannot
	// hold; RefitDue marks a deferred refit (Pooled).
	NoTail   bool `json:"no_tail,omitempty"`
	RefitDue bool `json:"refit_due,omitempty"`
}

// MarshalJSON encodes the model's configuration, learned sample and fit.
func (s *SPOT) MarshalJSON() ([]byte, error) {
	j := spotJSON{Config: s.cfg, Calibrated: s.Calibrated(), T: s.t, N: s.n, NT: s.nt}
	if !j.Calibrated {
		j.Calibration = s.calib
	} else {
		j.Excesses, j.Head = s.ex.values(), s.ex.head
		j.Sum, j.SumSq = s.ex.sum, s.ex.sumSq
		j.RefitDue = s.dirty
		if math.IsInf(s.z, 1) {
			j.NoTail = true
		} else {
			j.Gamma, j.Sigma, j.Z = s.fit.gamma, s.fit.sigma, s.z
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON restores a model MarshalJSON encoded, checking that its
// configuration is valid and its sample, sums and counts consistent;
// errors wrap ErrStateCorrupt.
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
	k, size := len(j.Excesses), m.cfg.MaxExcess
	if len(j.Calibration) > 0 || k > size || j.NT < k || j.N < j.NT || j.N < 1 || (j.NT > 0) != (k > 0) ||
		j.Head < 0 || j.Head >= size || (k < size && j.Head != k) {
		return fmt.Errorf("%w: SPOT: n %d, n_t %d, %d excesses (at most %d), head %d", ErrStateCorrupt, j.N, j.NT, k, size, j.Head)
	}
	for _, y := range j.Excesses {
		if !(y > 0) {
			return fmt.Errorf("%w: SPOT: excess %g (excesses are > 0)", ErrStateCorrupt, y)
		}
	}
	copy(m.ex.buf, j.Excesses)
	m.ex.count, m.ex.head = k, j.Head
	m.ex.recompute() // the extremes, and sums to check the stored ones by
	if k > 0 && (!within(j.Sum, m.ex.sum, 1e-9) || !within(j.SumSq, m.ex.sumSq, 1e-9)) {
		return fmt.Errorf("%w: SPOT: stored sums %g, %g disagree with the excesses (%g, %g)", ErrStateCorrupt, j.Sum, j.SumSq, m.ex.sum, m.ex.sumSq)
	}
	m.ex.sum, m.ex.sumSq = j.Sum, j.SumSq
	m.calib, m.t, m.n, m.nt = nil, j.T, j.N, j.NT
	switch {
	case k == 0:
		m.refit()
	case j.NoTail:
		if !j.RefitDue {
			return fmt.Errorf("%w: SPOT: %d excesses but no tail fitted", ErrStateCorrupt, k)
		}
	default:
		m.fit = gpd{gamma: j.Gamma, sigma: j.Sigma}
		// A fit awaiting its refit predates the newest excesses, which may
		// lie beyond a light tail's end; only its scale can be checked.
		if bad := !(j.Sigma > 0) || math.IsInf(j.Sigma, 0); bad || (!j.RefitDue && math.IsInf(m.fit.logLik(m.ex.values()), -1)) {
			return fmt.Errorf("%w: SPOT: tail fit gamma %g, sigma %g does not fit the excesses", ErrStateCorrupt, j.Gamma, j.Sigma)
		}
		if !(j.Z > j.T) || math.IsInf(j.Z, 0) {
			return fmt.Errorf("%w: SPOT: alarm threshold %g not above t %g", ErrStateCorrupt, j.Z, j.T)
		}
		m.z = j.Z
	}
	m.dirty = j.RefitDue
	*s = *m
	return nil
}

// within reports whether got is within frac (relative) of want.
func within(got, want, frac float64) bool {
	return math.Abs(got-want) <= frac*math.Abs(want)
}

type dspotJSON struct {
	SPOT   *SPOT     `json:"spot"`
	Window []float64 `json:"window"` // ring slots, len = depth
	Head   int       `json:"head"`
	Filled int       `json:"filled"`
}

// MarshalJSON encodes the drift window as it lies in memory (so its mean
// is summed in the same order after a restore) and the residuals' model.
func (d *DSPOT) MarshalJSON() ([]byte, error) {
	return json.Marshal(dspotJSON{SPOT: d.spot, Window: d.window, Head: d.head, Filled: d.filled})
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
	depth := len(j.Window)
	if j.SPOT == nil || depth > 1<<20 || j.Filled < 0 || j.Filled > depth || j.Head < 0 ||
		(depth > 0 && j.Head >= depth) || (depth == 0 && j.Head != 0) || (j.Filled < depth && j.Head != j.Filled) {
		return fmt.Errorf("%w: DSPOT: depth %d, %d values, head %d", ErrStateCorrupt, depth, j.Filled, j.Head)
	}
	*d = DSPOT{spot: j.SPOT, window: append(make([]float64, 0, depth), j.Window...), head: j.Head, filled: j.Filled}
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
	j.SPOT.lazy = true
	*p = Pooled{cfg: j.Config, spot: j.SPOT}
	return nil
}
