package alert

import (
	"strconv"
	"strings"
)

// Process is a local process that holds a socket of an alerted flow.
type Process struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	// User is the process's effective user name, or its numeric uid when
	// the name cannot be resolved.
	User string `json:"user"`
	// Cmdline is the command line, arguments separated by spaces; empty
	// for kernel threads and zombies.
	Cmdline string `json:"cmdline"`
	// Sockets names the process's sockets that matched the flow, with the
	// ports the flow key leaves out: "tcp 10.0.0.5:51234->203.0.113.9:443".
	Sockets []string `json:"sockets,omitempty"`
}

// cmdlineRunes is how much of a command line notifiers show: enough to
// recognise the command and its main arguments, short enough that a long
// argument list cannot swamp a chat message.
const cmdlineRunes = 160

// String describes p for people:
//
//	curl (pid 4242, user alice): curl -T big.tar https://upload.example/…
func (p Process) String() string {
	var b strings.Builder
	b.WriteString(OrDash(p.Name))
	b.WriteString(" (pid ")
	b.WriteString(strconv.Itoa(p.PID))
	if p.User != "" {
		b.WriteString(", user ")
		b.WriteString(p.User)
	}
	b.WriteByte(')')
	if p.Cmdline != "" {
		b.WriteString(": ")
		b.WriteString(Truncate(p.Cmdline, cmdlineRunes))
	}
	return b.String()
}

// ProcessShown is how many processes notifiers list before "and N more":
// a socket shared by a pre-forked server's workers can have dozens.
const ProcessShown = 5

// processLines describes a's processes one per entry, then its note;
// nil when there is nothing to say.
func ProcessLines(a *Alert) []string {
	var out []string
	for i, p := range a.Process {
		if i == ProcessShown {
			out = append(out, "and "+strconv.Itoa(len(a.Process)-ProcessShown)+" more")
			break
		}
		out = append(out, p.String())
	}
	if a.ProcessNote != "" {
		out = append(out, a.ProcessNote)
	}
	return out
}
