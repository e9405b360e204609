package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"github.com/wherefore/wherefore/alert"
)

// alertOutput is the local JSON-lines record of alerts.
type alertOutput struct {
	w      *bufio.Writer
	enc    *json.Encoder
	closer io.Closer
}

func openAlertOutput(o *options, stdout io.Writer, fileMode bool) (*alertOutput, error) {
	path := o.alertsFile
	if path == "" {
		if fileMode {
			path = "-"
		} else {
			path = filepath.Join(o.logDir, "wherefore_anomalies.log")
		}
	}
	var w io.Writer = stdout
	var c io.Closer
	if path != "-" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, err
		}
		w, c = f, f
	}
	bw := bufio.NewWriter(w)
	return &alertOutput{w: bw, enc: json.NewEncoder(bw), closer: c}, nil
}

func (a *alertOutput) Notify(al *alert.Alert) error {
	if err := a.enc.Encode(al); err != nil {
		return err
	}
	return a.w.Flush()
}

func (a *alertOutput) Close() error {
	err := a.w.Flush()
	if a.closer != nil {
		if cerr := a.closer.Close(); err == nil {
			err = cerr
		}
		a.closer = nil
	}
	return err
}
