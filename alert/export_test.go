package alert

import "time"

// SpoolAt writes a into the spool folder name under root as a run that
// stopped at time at would have left it, for the external tests of
// re-sending.
func SpoolAt(root, name string, a *Alert, at time.Time) error {
	sp, err := openSpool(root, name, 0)
	if err != nil {
		return err
	}
	_, err = sp.put(a, at)
	return err
}
