// Package anomaly scores a flow's series of per-interval byte counts.
//
// The Anomalyzer detector reimplements the statistical tests of the public
// lytics/anomalyzer library (magnitude, fence, highrank, lowrank, diff, cdf,
// ks) and their combination, Eval, exactly as shared/ANOMALYZER-SPEC.md
// describes them, so that tuned configurations keep their meaning.
//
// Every test returns a probability-like value in [0, 1], or NA when the series
// is too short for it. Where an exact answer is cheap it is computed exactly,
// otherwise by Monte Carlo with the injected *rand.Rand:
//
//   - magnitude, fence, cdf: closed form, always exact.
//   - highrank, lowrank: always exact, by counting the a-subsets of the ranks
//     whose sum is below (above) the observed one (dynamic programming over rank
//     sums; a closed form for ActiveSize 1). PermCount is not used.
//   - diff: exact enumeration of all n! orders when the series has at most 8
//     points, PermCount random shuffles otherwise.
//   - ks: exact enumeration of every way to fill the active and reference
//     windows when there are at most 20000 of them, PermCount random shuffles
//     otherwise.
//
// Scoring runs for every active flow every interval, so Anomalyzer.Score does
// not allocate once its scratch buffers have grown to the longest series seen.
//
// Beside the anomalyzer, the package holds learned thresholds and the
// detector primitives the detection stage (flow/detect) is built from. SPOT
// and DSPOT learn the threshold a stream exceeds with a small probability q
// from the tail of its values (a generalised Pareto fit over a high
// quantile). A Baseline is one key's robust level and spread of log volume
// over its active intervals, so a value becomes a deviation in spreads; a
// Pooled model is one SPOT fed every key's deviation in a scope, so it
// calibrates within minutes however new each key is. The primitives judge a
// value against those and return a Result (score, expected value, threshold
// crossed, sub-scores): Surge (a key against its own baseline, or a new key
// against its parent's, e.g. a new destination against its source's usual
// upload), Tunnel (DNS or ICMP volume against that protocol's baseline),
// Ramp (steady growth), Count (scans, fan-out, fan-in, brute force: a
// distinct count against an absolute floor in the spirit of Zeek's, raised
// by the key's own learned level) and Beacon (RITA-style regularity). State
// saves and restores the learned models, versioned.
package anomaly
