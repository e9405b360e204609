package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// screen replays what a terminal shows for text written with clearLine
// sequences: the finished lines, and the line the cursor is on.
func screen(text string) (lines []string, current string) {
	for len(text) > 0 {
		switch {
		case strings.HasPrefix(text, clearLine):
			current = ""
			text = text[len(clearLine):]
		case text[0] == '\n':
			lines = append(lines, current)
			current = ""
			text = text[1:]
		default:
			current += text[:1]
			text = text[1:]
		}
	}
	return lines, current
}

// A log line written while the progress line shows stands on a line of
// its own, and the progress line comes back below it.
func TestLogLinesDoNotCollideWithProgress(t *testing.T) {
	var out bytes.Buffer
	pw := newProgressWriter(&out)
	log := logrus.New()
	log.SetOutput(pw)
	log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})

	pw.show(" 40%  1000 packets")
	log.Warn("kernel dropped packets")
	lines, current := screen(out.String())
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "level=warning") {
		t.Fatalf("log line mixed with the progress line: %q", lines)
	}
	if current != " 40%  1000 packets" {
		t.Fatalf("progress line not redrawn after the log line: %q", current)
	}
	pw.show(" 80%  2000 packets")
	pw.clear()
	log.Info("done")
	lines, current = screen(out.String())
	if len(lines) != 2 || lines[1] != `level=info msg=done` || current != "" {
		t.Fatalf("after clear: lines %q, current %q", lines, current)
	}
}
