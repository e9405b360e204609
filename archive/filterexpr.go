package archive

import (
	"net/netip"
	"strings"
)

// filterPrefixes reads a BPF expression far enough to tell whether every
// packet it matches must have a source or destination in certain
// prefixes, and returns them; nil means it cannot tell (the expression
// names no addresses, negates, or uses a form this does not follow), and
// the caller reads everything. Only what is certain narrows: "host A and
// port 80" needs A; "host A or port 80" needs nothing; "not host A" needs
// nothing.
func filterPrefixes(expr string) []netip.Prefix {
	p := &filterParser{toks: filterTokens(expr)}
	ps, ok := p.or()
	if !ok || p.i != len(p.toks) {
		return nil
	}
	return ps
}

func filterTokens(expr string) []string {
	expr = strings.NewReplacer("(", " ( ", ")", " ) ").Replace(expr)
	return strings.Fields(expr)
}

type filterParser struct {
	toks []string
	i    int
}

func (p *filterParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

// or parses a disjunction: it needs addresses only if every branch does.
func (p *filterParser) or() ([]netip.Prefix, bool) {
	ps, ok := p.and()
	if !ok {
		return nil, false
	}
	for t := p.peek(); t == "or" || t == "||"; t = p.peek() {
		p.i++
		qs, ok := p.and()
		if !ok {
			return nil, false
		}
		if ps == nil || qs == nil {
			ps = nil
			continue
		}
		ps = append(ps, qs...)
	}
	return ps, true
}

// and parses a conjunction: any term that needs addresses is enough; the
// one with the fewest prefixes reads least.
func (p *filterParser) and() ([]netip.Prefix, bool) {
	ps, ok := p.term()
	if !ok {
		return nil, false
	}
	for t := p.peek(); t == "and" || t == "&&"; t = p.peek() {
		p.i++
		qs, ok := p.term()
		if !ok {
			return nil, false
		}
		if ps == nil || qs != nil && len(qs) < len(ps) {
			ps = qs
		}
	}
	return ps, true
}

// term is a parenthesised expression or one primitive.
func (p *filterParser) term() ([]netip.Prefix, bool) {
	if p.peek() == "(" {
		p.i++
		ps, ok := p.or()
		if !ok || p.peek() != ")" {
			return nil, false
		}
		p.i++
		return ps, true
	}
	var words []string
	for t := p.peek(); t != "" && t != "(" && t != ")" && t != "and" && t != "&&" && t != "or" && t != "||"; t = p.peek() {
		words = append(words, t)
		p.i++
	}
	if len(words) == 0 {
		return nil, false
	}
	return primitivePrefixes(words), true
}

// primitivePrefixes handles [ip|ip6] [src|dst] [host|net] ADDR[/bits];
// anything else needs no address as far as this can tell.
func primitivePrefixes(w []string) []netip.Prefix {
	if len(w) > 1 && (w[0] == "ip" || w[0] == "ip6") {
		w = w[1:]
	}
	if len(w) > 1 && (w[0] == "src" || w[0] == "dst") {
		w = w[1:]
	}
	if len(w) > 1 && (w[0] == "host" || w[0] == "net") {
		w = w[1:]
	}
	if len(w) != 1 {
		return nil
	}
	if a, err := netip.ParseAddr(w[0]); err == nil {
		a = a.Unmap()
		return []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}
	}
	if pf, err := netip.ParsePrefix(w[0]); err == nil {
		return []netip.Prefix{pf.Masked()}
	}
	return nil
}
