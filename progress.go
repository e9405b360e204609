package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/capture"
)

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\033[K"

// progressWriter is standard error shared by the log and the progress
// line: a log line first clears the progress line, then the progress line
// is drawn again below it, so neither cuts into the other.
type progressWriter struct {
	mu   sync.Mutex
	w    io.Writer
	line string // on screen now, without a newline; "" when none
}

func newProgressWriter(w io.Writer) *progressWriter { return &progressWriter{w: w} }

// Write writes one log line (logrus writes each entry in one call).
func (p *progressWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line == "" {
		return p.w.Write(b)
	}
	io.WriteString(p.w, clearLine)
	n, err := p.w.Write(b)
	if len(b) > 0 && b[len(b)-1] == '\n' {
		io.WriteString(p.w, p.line)
	} else {
		p.line = "" // the cursor is mid-line: a redraw would land in it
	}
	return n, err
}

// show replaces the progress line.
func (p *progressWriter) show(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line = line
	io.WriteString(p.w, clearLine+line)
}

// clear erases the progress line for good.
func (p *progressWriter) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line != "" {
		io.WriteString(p.w, clearLine)
	}
	p.line = ""
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startProgress shows a progress line every interval while a capture file
// is read, when asked or when standard error is a terminal. The returned
// function stops it and clears the line.
func startProgress(ctx context.Context, o *options, w *progressWriter, c *capture.Counters, size int64, every time.Duration) func() {
	on := o.progress == "on" || o.progress == "auto" && isTerminal(w.w)
	if !on || o.capture.File == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.clear()
		start := time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				pkts := c.Packets.Load()
				line := fmt.Sprintf("%d packets, %s, %.0f packets/s", pkts, alert.HumanBytes(float64(c.Bytes.Load())),
					float64(pkts)/time.Since(start).Seconds())
				if size > 0 {
					// Record headers are not counted, so this slightly
					// under-reports; it is a progress bar, not an audit.
					line = fmt.Sprintf("%3.0f%%  %s", 100*float64(c.Captured.Load())/float64(size), line)
				}
				w.show(line)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
