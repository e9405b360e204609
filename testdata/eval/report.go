package main

import (
	"fmt"
	"io"
	"strings"
)

// writeMarkdown prints the report as Markdown tables, one column per row.
func writeMarkdown(w io.Writer, rep *report, keys int) error {
	var b strings.Builder
	head := func(first string) {
		b.WriteString("| " + first + " |")
		for _, r := range rep.Rows {
			b.WriteString(" " + r.Name + " |")
		}
		b.WriteString("\n|---|")
		for range rep.Rows {
			b.WriteString("---|")
		}
		b.WriteString("\n")
	}
	b.WriteString("Configurations:\n\n")
	for _, r := range rep.Rows {
		flags := strings.Join(r.Flags, " ")
		if flags == "" {
			flags = "(the binary's defaults)"
		}
		fmt.Fprintf(&b, "- **%s**: `%s`\n", r.Name, flags)
	}
	b.WriteString("\n")

	if len(rep.Suite) > 0 {
		b.WriteString("Generated suite: attacks caught / planted (median delay in intervals from the attack's start to its first matching alert):\n\n")
		head("attack class")
		for ci, cs := range rep.Suite[0].Classes {
			b.WriteString("| " + cs.Class + " |")
			for _, s := range rep.Suite {
				c := s.Classes[ci]
				cell := fmt.Sprintf("%d/%d", c.Caught, c.Planted)
				if c.Caught > 0 {
					cell += fmt.Sprintf(" (%g)", c.Median)
				}
				b.WriteString(" " + cell + " |")
			}
			b.WriteString("\n")
		}
		line := func(name string, cell func(s suiteScore) string) {
			b.WriteString("| " + name + " |")
			for _, s := range rep.Suite {
				b.WriteString(" " + cell(s) + " |")
			}
			b.WriteString("\n")
		}
		line("**all attacks** (within 2 intervals)", func(s suiteScore) string {
			p, c, w := 0, 0, 0
			for _, x := range s.Classes {
				p, c, w = p+x.Planted, c+x.Caught, w+x.Within2
			}
			return fmt.Sprintf("%d/%d (%d)", c, p, w)
		})
		line("benign events alerted", func(s suiteScore) string { return fmt.Sprintf("%d/%d", s.BenignAlerted, s.Benign) })
		line("false alerts per 1000 flow-hours, held-out", func(s suiteScore) string {
			return fmt.Sprintf("%.1f (%d in %.0f fh)", s.HeldOutRate, s.HeldOutAlerts, s.HeldOutFlowHours)
		})
		line("alerts on tuning backgrounds", func(s suiteScore) string {
			return fmt.Sprintf("%d in %.0f fh", s.TuningAlerts, s.TuningFlowHours)
		})
		line("unmatched alerts in attack captures", func(s suiteScore) string { return fmt.Sprint(s.Unmatched) })
		b.WriteString("\n")
	}

	if len(rep.Public) > 0 {
		for _, attack := range []bool{true, false} {
			if attack {
				b.WriteString("Public attack captures: alerts naming the labelled hosts / all alerts, and the most alerted keys:\n\n")
				head("capture (class)")
			} else {
				b.WriteString("Public benign captures (any alert is a false alert): alerts, and the most alerted keys:\n\n")
				head("capture")
			}
			total := make([]int, len(rep.Rows))
			n := 0
			for ci, pc := range rep.Captures {
				if pc.Attack != attack {
					continue
				}
				n++
				name := "`" + strings.TrimSuffix(strings.TrimSuffix(pc.Name, ".pcap"), ".pcapng") + "`"
				if attack {
					name += " (" + pc.Class + ")"
				}
				b.WriteString("| " + name + " |")
				for ri := range rep.Rows {
					ps := rep.Public[ri][ci]
					var cell string
					switch {
					case ps.Error != "" && ps.Alerts == 0:
						cell = "error: " + mdEscape(ps.Error)
					case attack:
						cell = fmt.Sprintf("%d/%d", ps.Named, ps.Alerts)
						if ps.Named > 0 {
							total[ri]++
						}
					default:
						cell = fmt.Sprint(ps.Alerts)
						if ps.Alerts > 0 {
							total[ri]++
						}
					}
					for i, k := range ps.Keys {
						if i == keys {
							cell += fmt.Sprintf(" +%d more", len(ps.Keys)-keys)
							break
						}
						label := k.Key
						if k.Kind != "" {
							label = k.Kind + " " + label
						}
						cell += fmt.Sprintf(" `%s`×%d", label, k.Count)
					}
					b.WriteString(" " + cell + " |")
				}
				b.WriteString("\n")
			}
			if attack {
				b.WriteString("| **captures with an alert naming a labelled host** |")
			} else {
				b.WriteString("| **captures with any alert** |")
			}
			for _, t := range total {
				fmt.Fprintf(&b, " %d/%d |", t, n)
			}
			b.WriteString("\n\n")
		}
	}
	fmt.Fprintf(&b, "Evaluated in %s.\n", rep.Elapsed)
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
