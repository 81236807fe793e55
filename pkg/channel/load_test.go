package channel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// base is a small valid rule file; the error cases edit it. Line numbers
// matter: the cases below expect errors on these lines.
const base = `channels:                          # 1
  - id: email                        # 2
    description: Email.              # 3
    aliases: [e-mail, newsletter]    # 4
  - id: direct                       # 5
  - id: unassigned                   # 6
lists:                               # 7
  search: [google, bing.com]         # 8
internal_hosts: [shop.example.com]   # 9
rules:                               # 10
  - channel: email                   # 11
    utm_medium: {equals: [email]}    # 12
  - channel: direct                  # 13
    event_type: {absent: false}      # 14
  - channel: unassigned              # 15
`

// head returns the first n lines of base.
func head(n int) string {
	return strings.Join(strings.SplitAfter(base, "\n")[:n], "")
}

// edit returns base with line n (1-based) replaced by with; with may span
// several lines.
func edit(n int, with string) string {
	lines := strings.Split(base, "\n")
	lines[n-1] = with
	return strings.Join(lines, "\n")
}

func TestParseBase(t *testing.T) {
	r, err := Parse("base.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   Input
		want string
	}{
		{Input{UTMMedium: "Email"}, "email"},
		{Input{Channel: "Newsletter"}, "email"},
		{Input{EventType: "page_view"}, "direct"},
		{Input{EventType: "page_view", Referrer: "https://shop.example.com/"}, "direct"},
		{Input{}, "unassigned"},
	} {
		if got := r.Classify(tc.in); got != tc.want {
			t.Errorf("Classify(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := len(r.Channels()); got != 3 {
		t.Errorf("got %d channels, want 3", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		yaml   string
		line   int
		reason string
	}{
		{"unknown channel", edit(11, "  - channel: emial"), 11, `rule 1: unknown channel "emial"`},
		{"alias as rule channel", edit(11, "  - channel: e-mail"), 11, `rule 1: channel "e-mail" is an alias; use the id "email"`},
		{"rule without channel", edit(11, "  - utm_source: {equals: [x]}"), 11, `rule 1: no channel`},
		{"null channel", edit(11, "  - channel:"), 11, `rule 1: channel: want a channel id, got nothing`},
		{"unknown field", edit(12, "    utm_sorce: {equals: [email]}"), 12, `rule 1: unknown field "utm_sorce" (want channel, utm_source, utm_medium, utm_campaign, referrer_host, event_type)`},
		{"unknown operator", edit(12, "    utm_medium: {contains: email}"), 12, `rule 1: utm_medium: unknown operator "contains" (want equals, matches, in_list, absent)`},
		{"no operator", edit(12, "    utm_medium: {}"), 12, `rule 1: utm_medium: no operator`},
		{"condition not a mapping", edit(12, "    utm_medium: email"), 12, `rule 1: utm_medium: want a mapping of operators, e.g. {equals: [google]}, got "email"`},
		{"bad regex", edit(12, "    utm_medium: {matches: 'e(mail'}"), 12, `rule 1: utm_medium: matches: bad regular expression "e(mail": missing closing )`},
		{"regex not a string", edit(12, "    utm_medium: {matches: [a, b]}"), 12, `rule 1: utm_medium: matches: want a regular expression, got a list`},
		{"unknown list", edit(12, "    utm_source: {in_list: serch}"), 12, `rule 1: utm_source: in_list: unknown list "serch"`},
		{"unknown list among several", edit(12, "    utm_source:\n      in_list:\n        - search\n        - social"), 15, `rule 1: utm_source: in_list: unknown list "social"`},
		{"empty equals", edit(12, "    utm_medium: {equals: []}"), 12, `rule 1: utm_medium: equals: empty list`},
		{"empty value in equals", edit(12, "    utm_medium: {equals: ['']}"), 12, `rule 1: utm_medium: equals: empty value (use absent: true)`},
		{"absent not a bool", edit(14, "    event_type: {absent: yes}"), 14, `rule 2: event_type: absent: want true or false, got "yes"`},
		{"absent combined", edit(14, "    event_type: {absent: true, equals: [x]}"), 14, `rule 2: event_type: absent: true cannot be combined with other operators`},
		{"duplicate field", edit(12, "    utm_medium: {equals: [email]}\n    utm_medium: {equals: [mail]}"), 13, `rule 1: duplicate key "utm_medium" (first on line 12)`},
		{"duplicate operator", edit(12, "    utm_medium: {equals: [email], equals: [x]}"), 12, `rule 1: utm_medium: duplicate key "equals" (first on line 12)`},
		{"condition-less rule in the middle", edit(12, ""), 11, `rule 1: no conditions; only the last rule may be an unconditional fallback`},
		{"no fallback", edit(15, "  - channel: unassigned\n    utm_source: {absent: true}"), 15, `rule 3: the last rule must be a fallback without conditions`},
		{"empty rule set", head(9) + "rules: []\n", 10, `no rules: want a non-empty list of rules, got a list`},
		{"rules not a list", head(9) + "rules: {}\n", 10, `no rules: want a non-empty list of rules, got a mapping`},
		{"no rules key", head(9), 1, `no rules: the file must define at least the fallback rule`},
		{"rule not a mapping", edit(13, "  - direct\n  -"), 13, `rule 2: want a mapping with channel and conditions, got "direct"`},
		{"duplicate channel id", edit(5, "  - id: email"), 5, `duplicate channel id "email" (first on line 2)`},
		{"duplicate alias", edit(5, "  - id: direct\n    aliases: [newsletter]"), 6, `channel "direct": alias "newsletter" is already the alias of channel "email" (line 4)`},
		{"alias duplicate after normalisation", edit(4, "    aliases: [e-mail, E_Mail]"), 4, `channel "email": alias "E_Mail" is already the alias of channel "email" (line 4)`},
		{"alias is another id", edit(5, "  - id: direct\n    aliases: [Email]"), 6, `channel "direct": alias "Email" is already the id of channel "email" (line 2)`},
		{"id is an earlier alias", edit(5, "  - id: newsletter"), 5, `channel id "newsletter" is already an alias of channel "email" (line 4)`},
		{"bad channel id", edit(5, "  - id: Direct"), 5, `channel 2: id "Direct" must be lower-case letters, digits and underscores`},
		{"channel without id", edit(5, "  - description: x"), 5, `channel 2: no id`},
		{"unknown channel key", edit(3, "    desc: Email."), 3, `channel "email": unknown key "desc" (want id, description or aliases)`},
		{"no channels", "rules:\n  - channel: x\n", 1, `no channels: the file must define the channel taxonomy`},
		{"empty channels", "channels: []\n" + strings.TrimPrefix(base, head(6)), 1, `channels: want a non-empty list of channels, got a list`},
		{"unknown top-level key", edit(7, "listz:"), 7, `unknown key "listz" (want channels, lists, internal_hosts or rules)`},
		{"duplicate top-level key", base + "rules: []\n", 16, `top level: duplicate key "rules" (first on line 10)`},
		{"empty list", edit(8, "  search: []"), 8, `list "search" is empty`},
		{"bad list name", edit(8, "  Search: [google]"), 8, `list name "Search" must be lower-case letters`},
		{"list entry is a URL", edit(8, "  search: [google, 'https://bing.com/']"), 8, `list "search": entry "https://bing.com/": want a name or a host name, not a URL`},
		{"duplicate list entry", edit(8, "  search:\n    - google\n    - Google"), 10, `list "search": duplicate entry "Google" (first on line 9)`},
		{"duplicate list entry after www", edit(8, "  search: [bing.com, www.bing.com]"), 8, `list "search": duplicate entry "www.bing.com" (first on line 8)`},
		{"bad internal host", edit(9, "internal_hosts: [localhost]"), 9, `internal_hosts: "localhost" is not a host name`},
		{"internal hosts not a list", edit(9, "internal_hosts: shop.example.com"), 9, `internal_hosts: want a list of strings, got "shop.example.com"`},
		{"yaml syntax", edit(12, "    utm_medium: {equals: [email]"), 12, `did not find expected ',' or '}'`},
		{"yaml tab", edit(12, "\tutm_medium: {equals: [email]}"), 12, `found character that cannot start any token`},
		{"yaml bad indentation", edit(12, "   utm_medium: {equals: [email]}"), 11, `did not find expected '-' indicator`},
		{"top level not a mapping", "- a\n- b\n", 1, `top level: want a mapping`},
		{"empty file", "", 1, `empty file: want channels and rules`},
		{"comments only", "# nothing here\n", 1, `empty file: want channels and rules`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("pipelines/channels.yaml", []byte(tc.yaml))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v (%T), want a *ConfigError", err, err)
			}
			if ce.File != "pipelines/channels.yaml" || ce.Line != tc.line || !strings.HasPrefix(ce.Reason, tc.reason) {
				t.Fatalf("got %q (line %d), want line %d and a reason starting with %q", err, ce.Line, tc.line, tc.reason)
			}
			if want := "pipelines/channels.yaml:" + strconv.Itoa(tc.line) + ": " + ce.Reason; ce.Error() != want || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Error() = %q, want %q", err, want)
			}
		})
	}
}

func TestConfigErrorWithoutLine(t *testing.T) {
	e := &ConfigError{File: "a.yaml", Reason: "bad"}
	if got := e.Error(); got != "a.yaml: bad" {
		t.Errorf("got %q", got)
	}
}

func TestLoad(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		t.Errorf("missing file: got a *ConfigError %v", err)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "channels.yaml")
	if err := os.WriteFile(path, []byte(edit(11, "  - channel: emial")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ":11: rule 1: unknown channel \"emial\""; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestOperatorSemantics(t *testing.T) {
	const file = `channels: [{id: a}, {id: b}, {id: c}, {id: d}, {id: e}, {id: f}, {id: z}]
lists:
  one: [alpha]
  two: [beta.example]
rules:
  - channel: a
    utm_source: {matches: '^$'}          # matches an empty field
    utm_medium: {equals: x}              # a single value without brackets
  - channel: b
    utm_source: {matches: 'ABC'}         # case-insensitive, unanchored
  - channel: c
    utm_source: {matches: '^\S+ \S+$'}   # upper-case escapes keep their meaning
  - channel: d
    referrer_host: {in_list: [one, two]} # any of several lists
  - channel: e
    utm_campaign: {absent: false, matches: '^(|q)$'}
  - channel: f
    utm_campaign: {matches: '^(|q)$'}
  - channel: z
`
	r, err := Parse("ops.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   Input
		want string
	}{
		{Input{UTMMedium: "X"}, "a"},
		{Input{UTMSource: "s", UTMMedium: "x"}, "f"},
		{Input{UTMSource: "xxabcxx"}, "b"},
		{Input{UTMSource: "xxAbCxx"}, "b"},
		{Input{UTMSource: "two words"}, "c"},
		{Input{UTMSource: "two  words"}, "f"},
		{Input{UTMSource: "s", Referrer: "https://www.alpha.com/"}, "d"},
		{Input{UTMSource: "s", Referrer: "https://x.beta.example/"}, "d"},
		{Input{UTMSource: "s", UTMCampaign: "Q"}, "e"},
		{Input{UTMSource: "s"}, "f"},
		{Input{UTMSource: "s", UTMCampaign: "r"}, "z"},
	} {
		if got := r.Classify(tc.in); got != tc.want {
			t.Errorf("Classify(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestManyRegexps checks rule sets with more distinct expressions than memo
// slots.
func TestManyRegexps(t *testing.T) {
	var b strings.Builder
	b.WriteString("channels: [{id: hit}, {id: miss}]\nrules:\n")
	const n = memoSlots + 10
	for i := range n {
		fmt.Fprintf(&b, "  - channel: miss\n    utm_source: {matches: '^s%d$'}\n    utm_medium: {equals: [never]}\n", i)
	}
	for i := range n {
		fmt.Fprintf(&b, "  - channel: hit\n    utm_source: {matches: '^s%d$'}\n", i)
	}
	b.WriteString("  - channel: miss\n")
	r, err := Parse("many.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got := r.Classify(Input{UTMSource: fmt.Sprintf("S%d", i)}); got != "hit" {
			t.Errorf("s%d: got %q, want hit", i, got)
		}
	}
	if got := r.Classify(Input{UTMSource: "s"}); got != "miss" {
		t.Errorf("got %q, want miss", got)
	}
}

// TestParseReportsEveryError: the problems of every section and every rule
// come out at once, each at its line; the rules, which name channels and
// lists, are checked once those are valid.
func TestParseReportsEveryError(t *testing.T) {
	_, err := Parse("c.yaml", []byte(edit(13, "  - direct\n  -")))
	want := "c.yaml:13: rule 2: want a mapping with channel and conditions, got \"direct\"\n" +
		"c.yaml:15: rule 3: no channel"
	if err == nil || err.Error() != want {
		t.Fatalf("rules:\n%v\nwant:\n%s", err, want)
	}
	_, err = Parse("c.yaml", []byte(edit(5, "  - id: Direct")+"colour: red\n"))
	want = "c.yaml:5: channel 2: id \"Direct\" must be lower-case letters, digits and underscores, starting with a letter\n" +
		"c.yaml:16: unknown key \"colour\" (want channels, lists, internal_hosts or rules)"
	if err == nil || err.Error() != want {
		t.Fatalf("sections:\n%v\nwant:\n%s", err, want)
	}
}
