package channel

import (
	"strings"
	"unicode/utf8"
)

// fold returns s without surrounding white space and lower-cased. It only
// allocates when s has upper-case or non-ASCII letters.
func fold(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}

// Key returns the normalised form of a channel id or alias, in which
// names are compared: folded, with spaces and hyphens as underscores
// ("Paid Search" and "paid-search" are paid_search).
func Key(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, fold(s))
}

// hostOf returns the host of a referrer URL, lower-cased, without port and
// without a leading "www." or "m.". The scheme is optional
// ("www.google.com/search" works). It returns "" when s has no plausible host:
// a host must consist of letters, digits, '-', '_' and dots and contain at
// least one dot, or be a bracketed IPv6 address, so "(direct)", "null" and
// "about:blank" have none. It only allocates when the host has upper-case or
// non-ASCII letters.
func hostOf(s string) string {
	s = strings.TrimSpace(s)
	authority := true
	if i := strings.Index(s, "://"); i > 0 && isScheme(s[:i]) {
		s = s[i+3:]
	} else if strings.HasPrefix(s, "//") {
		s = s[2:]
	} else {
		authority = false // "www.google.com/search": a host, but no user info
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 && authority {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !isPort(s[end+1:]) {
			return ""
		}
		s = s[1:end]
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(isHex(c) || c == ':' || c == '.') {
				return ""
			}
		}
		if s == "" {
			return ""
		}
		return fold(s)
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if !isPort(s[i:]) {
			return ""
		}
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	dot, lower := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if i == 0 || s[i-1] == '.' {
				return ""
			}
			dot = true
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case 'A' <= c && c <= 'Z', c >= utf8.RuneSelf:
			lower = true
		default:
			return ""
		}
	}
	if !dot {
		return ""
	}
	if lower {
		s = strings.ToLower(s)
	}
	return trimHostPrefix(s)
}

// trimHostPrefix drops leading "www." and "m." labels from host h, as long as
// a domain with a dot remains ("m.facebook.com" is facebook.com, "m.me" stays).
func trimHostPrefix(h string) string {
	for {
		switch {
		case strings.HasPrefix(h, "www.") && strings.IndexByte(h[4:], '.') > 0:
			h = h[4:]
		case strings.HasPrefix(h, "m.") && strings.IndexByte(h[2:], '.') > 0:
			h = h[2:]
		default:
			return h
		}
	}
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// isPort reports whether s is empty or a ":" followed by digits (possibly none).
func isPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// registrableLabel returns the label of host h left of its public suffix:
// "google" for google.com, news.google.com, google.co.uk and google.com.au.
// The public suffix is approximated as the top-level domain plus, under a
// two-letter (country) top-level domain, a generic second-level label such as
// co, com, org or ac. A host without a dot is its own label.
func registrableLabel(h string) string {
	last := strings.LastIndexByte(h, '.')
	if last < 0 {
		return h
	}
	tld, rest := h[last+1:], h[:last]
	i := strings.LastIndexByte(rest, '.')
	if label := rest[i+1:]; i < 0 || len(tld) != 2 || !isGenericSecondLevel(label) {
		return label
	}
	rest = rest[:i]
	return rest[strings.LastIndexByte(rest, '.')+1:]
}

// isGenericSecondLevel reports whether label is a common generic second-level
// domain under country top-level domains (co.uk, com.au, ne.jp, ...).
func isGenericSecondLevel(label string) bool {
	switch label {
	case "ac", "co", "com", "edu", "gen", "go", "gob", "gov", "ltd", "mil",
		"ne", "net", "nic", "nom", "or", "org", "plc", "sch":
		return true
	}
	return false
}

// hostList is a compiled list of the rule file's `lists` section.
type hostList struct {
	name    string
	names   map[string]struct{} // entries without a dot
	domains map[string]struct{} // entries with a dot
}

// contains reports whether v, a folded field value, matches an entry: v
// equals a name, or v is a host that equals a domain or is a subdomain of one,
// or v is a host whose registrable label is a name. It does not allocate.
func (l *hostList) contains(v string) bool {
	if v == "" {
		return false
	}
	if strings.IndexByte(v, '.') < 0 {
		_, ok := l.names[v]
		return ok
	}
	if inDomains(l.domains, v) {
		return true
	}
	_, ok := l.names[registrableLabel(v)]
	return ok
}

// inDomains reports whether host h, or a parent domain of it, is in domains.
func inDomains(domains map[string]struct{}, h string) bool {
	if len(domains) == 0 {
		return false
	}
	for {
		if _, ok := domains[h]; ok {
			return true
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return false
		}
		h = h[i+1:]
	}
}
