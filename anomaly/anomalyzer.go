package anomaly

import (
	"math/rand/v2"
	"slices"
)

// Detector scores one flow's series of per-interval byte counts, oldest
// first, newest (the interval just closed) last. It returns a probability in
// [0, 1] that the newest values are anomalous, and fills tests, if not nil,
// with the per-test results behind it. Implementations are NOT safe for
// concurrent use (they own scratch buffers and an RNG); each goroutine gets
// its own.
type Detector interface {
	Name() string
	Score(series []float64, tests *TestScores) (p float64)
}

var _ Detector = (*Anomalyzer)(nil)

// Anomalyzer is the Detector that runs the configured anomalyzer tests and
// combines them as the spec's Eval does. It is not safe for concurrent use.
type Anomalyzer struct {
	cfg Config
	ref int              // r = NSeasons * ActiveSize
	has [numMethods]bool // configured methods
	rng *rand.Rand       // Monte Carlo permutations
	lim limits           // exact-vs-Monte-Carlo thresholds
	s   scratch          // reused buffers
	own TestScores       // used when Score is given nil
}

// NewAnomalyzer validates a copy of cfg (see Config.Validate) and returns an
// Anomalyzer that draws its Monte Carlo permutations from rng. Pass a seeded
// rng for reproducible scores; nil means one seeded randomly.
func NewAnomalyzer(cfg Config, rng *rand.Rand) (*Anomalyzer, error) {
	cfg.Methods = slices.Clone(cfg.Methods)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rng == nil {
		rng = randomRand()
	}
	return &Anomalyzer{
		cfg: cfg,
		ref: cfg.refSize(),
		has: cfg.methodSet(),
		rng: rng,
		lim: defaultLimits(),
	}, nil
}

// Name returns "anomalyzer", the detector name alerts carry.
func (a *Anomalyzer) Name() string { return "anomalyzer" }

// Config returns the validated configuration, defaults applied.
func (a *Anomalyzer) Config() Config {
	c := a.cfg
	c.Methods = slices.Clone(c.Methods)
	return c
}

// randomRand returns a generator seeded from the runtime's random source, for
// callers who do not need reproducible Monte Carlo results.
func randomRand() *rand.Rand {
	return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
}
