package anomaly

import "math"

// Magnitude is the relative change of the active window's mean from the
// reference window's mean, |m_a - m_r| / m_r, with the newest activeSize
// points as the active window and up to refSize points before them as the
// reference (refSize is the spec's r = NSeasons*ActiveSize). A zero reference
// mean gives 0 if the active mean is also 0, else 1; a negative one gives a
// negative value, which Eval caps to 0. NA when there is no reference point.
func Magnitude(v []float64, activeSize, refSize int) float64 {
	if activeSize < 1 {
		return NA
	}
	n := len(v)
	act, ref := window(n, refSize, activeSize)
	if ref < 1 {
		return NA
	}
	mr := mean(v[n-act-ref : n-act])
	ma := mean(v[n-act:])
	if mr == 0 {
		if ma == 0 {
			return 0
		}
		return 1
	}
	return math.Abs(ma-mr) / mr
}

// ReferenceMean is the mean of the magnitude test's reference window for cfg
// (the baseline an alert says the newest interval was "compared with"), or
// NaN when the series is too short to have one. cfg's zero NSeasons means the
// default 4, as after Validate.
func ReferenceMean(series []float64, cfg Config) float64 {
	if cfg.ActiveSize < 1 {
		return math.NaN()
	}
	n := len(series)
	act, ref := window(n, cfg.refSize(), cfg.ActiveSize)
	if ref < 1 {
		return math.NaN()
	}
	return mean(series[n-act-ref : n-act])
}
