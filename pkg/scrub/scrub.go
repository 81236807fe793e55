// Package scrub removes personal data from free text: email addresses, phone
// numbers and the values of configured query parameters in URLs, referrers
// and event properties, so that they never reach ClickHouse in clear text.
package scrub

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces every scrubbed value.
const Redacted = "(redacted)"

// Config says what is scrubbed. The zero value scrubs nothing: start from
// DefaultConfig.
type Config struct {
	// Emails scrubs email addresses. Default true.
	Emails bool `yaml:"emails"`
	// Phones scrubs phone numbers: international ones ("+" and 8 to 15
	// digits) and national ones written in at least two groups (9 to 15
	// digits). Default true.
	Phones bool `yaml:"phones"`
	// Params names query parameters (compared without case) whose values are
	// scrubbed whatever they hold; a property with one of these names as its
	// key is scrubbed too. Default DefaultParams.
	Params []string `yaml:"params"`
}

// DefaultParams are the query parameters scrubbed by default.
var DefaultParams = []string{
	"email", "e-mail", "e_mail", "mail", "phone", "tel", "telephone", "mobile", "msisdn",
	"first_name", "last_name", "full_name", "password",
}

// DefaultConfig returns the scrubbing ingest applies unless configured.
func DefaultConfig() Config {
	return Config{Emails: true, Phones: true, Params: append([]string(nil), DefaultParams...)}
}

// ErrConfig reports an invalid scrubbing setting.
var ErrConfig = errors.New("invalid scrub config")

// Scrubber scrubs text. It is immutable and safe for concurrent use.
type Scrubber struct {
	cfg    Config
	params map[string]bool
}

// New returns a Scrubber for cfg.
func New(cfg Config) (*Scrubber, error) {
	s := &Scrubber{cfg: cfg, params: map[string]bool{}}
	for _, p := range cfg.Params {
		name := strings.ToLower(strings.TrimSpace(p))
		if name == "" || strings.ContainsAny(name, "=&?#;") {
			return nil, fmt.Errorf("%w: params: %q is not a query parameter name", ErrConfig, p)
		}
		s.params[name] = true
	}
	return s, nil
}

// Default returns the Scrubber of DefaultConfig.
func Default() *Scrubber {
	s, err := New(DefaultConfig())
	if err != nil {
		panic(err) // DefaultParams are valid names
	}
	return s
}

var (
	email = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}`)
	// phoneCandidate finds runs that may be phone numbers; phone decides.
	phoneCandidate = regexp.MustCompile(`\+?\(?\d[\d ().\-]*\d`)
)

// Property returns the value of property key, scrubbed: Redacted when key is
// a configured parameter name, value scrubbed as text otherwise.
func (s *Scrubber) Property(key, value string) string {
	if value != "" && s.params[strings.ToLower(strings.TrimSpace(key))] {
		return Redacted
	}
	return s.Text(value)
}

// Text returns v with the values of configured query parameters, email
// addresses and phone numbers replaced by Redacted. v is read as a URL or
// free text: it is cut at ?, &, ; and #, and each part is scrubbed as it
// is and, when it holds percent-escapes, decoded (then the part is written
// back escaped), up to maxEscapes times, so that URLs inside parameters are
// scrubbed too. Parts without personal data keep their bytes.
func (s *Scrubber) Text(v string) string { return s.text(v, 0) }

// maxEscapes bounds how many times a part is percent-decoded: a URL inside a
// parameter of a URL inside a parameter.
const maxEscapes = 3

// text scrubs v, a text found percent-escaped escapes times.
func (s *Scrubber) text(v string, escapes int) string {
	if !s.worthScanning(v) {
		return v
	}
	var b strings.Builder
	query := false
	for start := 0; start <= len(v); {
		end := start + strings.IndexAny(v[start:], "?&;#")
		if end < start {
			end = len(v)
		}
		b.WriteString(s.part(v[start:end], query, escapes))
		if end == len(v) {
			break
		}
		query = query || v[end] == '?'
		b.WriteByte(v[end])
		start = end + 1
	}
	return b.String()
}

// worthScanning says whether v may hold anything to scrub: an '=', an '@',
// a percent-escape or at least 8 digits.
func (s *Scrubber) worthScanning(v string) bool {
	return strings.ContainsAny(v, "=@%") || digits(v) >= 8
}

// digits counts the ASCII digits of v.
func digits(v string) int {
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			n++
		}
	}
	return n
}

// part scrubs one part of a text cut at ?, &, ; and #; query says whether it
// follows a '?', where '+' means a space.
func (s *Scrubber) part(p string, query bool, escapes int) string {
	if name, value, ok := strings.Cut(p, "="); ok && value != "" {
		if n, err := url.QueryUnescape(name); err == nil && s.params[strings.ToLower(strings.TrimSpace(n))] {
			return name + "=" + Redacted
		}
	}
	if out, changed := s.scrub(p); changed {
		return out
	}
	unescape, escape := url.PathUnescape, url.PathEscape
	if query {
		unescape, escape = url.QueryUnescape, url.QueryEscape
	}
	dec, err := unescape(p)
	if err != nil || dec == p || escapes == maxEscapes {
		return p
	}
	out := s.text(dec, escapes+1)
	if out == dec {
		return p
	}
	return strings.ReplaceAll(escapeKeeping(out, escape), escape(Redacted), Redacted)
}

// escapeKeeping escapes a scrubbed part, keeping the '=' of a name=value
// pair.
func escapeKeeping(p string, escape func(string) string) string {
	name, value, ok := strings.Cut(p, "=")
	if !ok {
		return escape(p)
	}
	return escape(name) + "=" + escape(value)
}

// scrub replaces emails and phone numbers in t and says whether it did.
func (s *Scrubber) scrub(t string) (string, bool) {
	out := t
	if s.cfg.Emails && strings.IndexByte(out, '@') >= 0 {
		out = email.ReplaceAllLiteralString(out, Redacted)
	}
	if s.cfg.Phones && digits(out) >= 8 { // the fewest a phone number has
		out = replacePhones(out)
	}
	return out, out != t
}

func replacePhones(t string) string {
	locs := phoneCandidate.FindAllStringIndex(t, -1)
	if locs == nil {
		return t
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		if !phone(t, l[0], l[1]) {
			continue
		}
		b.WriteString(t[last:l[0]])
		b.WriteString(Redacted)
		last = l[1]
	}
	if last == 0 {
		return t
	}
	b.WriteString(t[last:])
	return b.String()
}

// phone says whether t[start:end], a phoneCandidate match, is a phone number
// standing on its own: "+" and 8 to 15 digits, or 9 to 15 digits in at least
// two groups separated by spaces, dashes or parentheses (no dots, which
// version numbers and addresses use), not glued to a word, a path, a time
// or a longer number.
func phone(t string, start, end int) bool {
	if start > 0 && glued(t[start-1], "_.-/%") || end < len(t) && glued(t[end], "_-/:") {
		return false
	}
	c := t[start:end]
	digits, groups := 0, 0
	for i := 0; i < len(c); i++ {
		if c[i] >= '0' && c[i] <= '9' {
			digits++
			if i == 0 || c[i-1] < '0' || c[i-1] > '9' {
				groups++
			}
		}
	}
	if c[0] == '+' {
		return digits >= 8 && digits <= 15
	}
	return digits >= 9 && digits <= 15 && groups >= 2 && !strings.Contains(c, ".")
}

// glued says whether the byte next to a candidate joins it to a longer
// token: a letter, a digit or one of extra.
func glued(c byte, extra string) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0
}
