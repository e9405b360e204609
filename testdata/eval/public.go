package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// publicCapture is one file of ../shared/pcaps/attacks or traffic, with what
// its README says about it.
type publicCapture struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Attack bool   `json:"attack"` // from attacks/: should alert; from traffic/: should not
	Label  string `json:"label,omitempty"`
	Class  string `json:"class,omitempty"`
	// Addrs are the addresses the README names (attacker, victim, hosts);
	// empty when it names none, and then any alert counts as naming it.
	Addrs   []string `json:"addrs,omitempty"`
	Content string   `json:"content"`
}

// addrPattern finds IPv4 and IPv6 literals in README prose; each hit is
// checked with netip.ParseAddr.
var addrPattern = regexp.MustCompile(`[0-9A-Fa-f:.]*[0-9A-Fa-f][:.][0-9A-Fa-f:.]*[0-9A-Fa-f](/[0-9]{1,3})?`)

// addrsIn returns the addresses written in s, in order, without repeats.
// A block written as "a.b.c.0/24" is kept as a prefix: any address in it
// is named.
func addrsIn(s string) []string {
	var out []string
	for _, m := range addrPattern.FindAllString(s, -1) {
		if p, err := netip.ParsePrefix(m); err == nil {
			if str := p.Masked().String(); !contains(out, str) {
				out = append(out, str)
			}
			continue
		}
		a, err := netip.ParseAddr(m)
		if err != nil || (a.Is4() && strings.Count(m, ".") != 3) || (a.Is6() && !strings.Contains(m, "::") && strings.Count(m, ":") < 7) {
			continue
		}
		if str := a.String(); !contains(out, str) {
			out = append(out, str)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// classOf maps a README label to a class of the suite, by its words.
func classOf(label string) string {
	l := strings.ToLower(label)
	for _, c := range []struct{ word, class string }{
		{"horizontal", "hscan"}, {"sweep", "hscan"}, {"scan", "vscan"},
		{"brute", "bruteforce"}, {"dns tunnel", "dnstunnel"}, {"over dns", "dnstunnel"},
		{"icmp tunnel", "icmptunnel"}, {"ddos", "fanin"}, {"flood", "fanin"}, {"storm", "fanin"},
		{"worm", "fanout"}, {"ransomware", "fanout"}, {"spambot", "fanout"},
		{"beacon", "beacon"}, {"c2", "beacon"}, {"malware", "beacon"},
	} {
		if strings.Contains(l, c.word) {
			return c.class
		}
	}
	return "other"
}

// readPublic reads the file table of dir/README.md: rows whose first cell
// is a file name in backquotes. In attacks/ the second column is the
// label; the last column is always the description.
func readPublic(dir string, attack bool) ([]publicCapture, error) {
	readme := filepath.Join(dir, "README.md")
	f, err := os.Open(readme)
	if err != nil {
		return nil, fmt.Errorf("public captures: %w", err)
	}
	defer f.Close()
	var out []publicCapture
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) < 3 {
			return nil, fmt.Errorf("%s:%d: a file row with %d columns, want the file, its label or source, and a description", readme, n, len(cells))
		}
		name := strings.Trim(cells[0], "`")
		c := publicCapture{Path: filepath.Join(dir, name), Name: name, Attack: attack, Content: cells[len(cells)-1]}
		if attack {
			c.Label = cells[1]
			c.Class = classOf(c.Label + " " + name)
			c.Addrs = addrsIn(c.Label + " " + c.Content)
		}
		if _, err := os.Stat(c.Path); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", readme, n, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", readme, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no file rows (| `name` | ... |) found", readme)
	}
	return out, nil
}
