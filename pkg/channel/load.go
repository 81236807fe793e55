package channel

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// ConfigError is an error in a rule file, with its place. Every error of Load
// and Parse about the file's content is a *ConfigError.
type ConfigError = pipefile.ConfigError

// Load reads and compiles the rule file at path. An unreadable file gives the
// *os.PathError (wrapped); a bad file gives a *ConfigError naming path, the
// line and the reason.
func Load(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("channel rules: %w", err)
	}
	return Parse(path, data)
}

// Parse compiles the rule file data; name is the file name used in errors.
// Any problem is reported as a *ConfigError with the line of the offending
// node: YAML syntax, unknown keys or operators, duplicate keys, channel ids
// or aliases, rules naming an unknown channel or list, invalid regular
// expressions, an empty taxonomy or rule set, and rules without conditions
// other than the last one (which must be such an unconditional fallback).
func Parse(name string, data []byte) (*Rules, error) {
	p := &parser{file: name}
	return p.parse(data)
}

// namePattern is the syntax of channel ids and list names.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// operators are the operators of a condition, in the order of error messages.
const operators = "equals, matches, in_list, absent"

type parser struct {
	file string
	// slots numbers the distinct (field, pattern) pairs of `matches`
	// conditions for the memo of Classify.
	slots map[string]int
}

func (p *parser) errf(line int, format string, args ...any) error {
	return pipefile.Errorf(p.file, line, format, args...)
}

// pair is one key and value of a YAML mapping.
type pair struct {
	key       string
	keyNode   *yaml.Node
	valueNode *yaml.Node
}

// mapping returns the pairs of mapping node n, rejecting other kinds and
// duplicate keys. what names n in errors ("rule 3").
func (p *parser) mapping(n *yaml.Node, what, want string) ([]pair, error) {
	kvs, err := pipefile.Mapping(p.file, n, what, want)
	if err != nil {
		return nil, err
	}
	pairs := make([]pair, len(kvs))
	for i, kv := range kvs {
		pairs[i] = pair{kv[0].Value, kv[0], kv[1]}
	}
	return pairs, nil
}

// scalars returns the scalars of n: a sequence of scalars, or, when single is
// true, also one scalar on its own.
func (p *parser) scalars(n *yaml.Node, what string, single bool) ([]*yaml.Node, error) {
	if single && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []*yaml.Node{n}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n.Line, "%s: want a list of strings, got %s", what, pipefile.KindName(n))
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, e := range n.Content {
		e = pipefile.Deref(e)
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
			return nil, p.errf(e.Line, "%s: want a string, got %s", what, pipefile.KindName(e))
		}
		out = append(out, e)
	}
	return out, nil
}

func (p *parser) parse(data []byte) (*Rules, error) {
	root, err := pipefile.Document(p.file, data)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, p.errf(1, "empty file: want channels and rules")
	}
	top, err := p.mapping(root, "top level", "a mapping with channels, lists, internal_hosts and rules")
	if err != nil {
		return nil, err
	}
	var errs pipefile.List
	var channels, lists, internal, rules *pair
	for i := range top {
		switch kv := &top[i]; kv.key {
		case "channels":
			channels = kv
		case "lists":
			lists = kv
		case "internal_hosts":
			internal = kv
		case "rules":
			rules = kv
		default:
			errs.Add(p.file, p.errf(kv.keyNode.Line, "unknown key %q (want channels, lists, internal_hosts or rules)", kv.key))
		}
	}
	r := &Rules{names: map[string]string{}, internal: map[string]struct{}{}, results: newResults()}
	if channels == nil {
		errs.Add(p.file, p.errf(root.Line, "no channels: the file must define the channel taxonomy"))
	} else {
		errs.Add(p.file, p.channels(r, channels.valueNode))
	}
	named := map[string]*hostList{}
	if lists != nil {
		if named, err = p.lists(lists.valueNode); err != nil {
			errs.Add(p.file, err)
		}
	}
	if internal != nil {
		errs.Add(p.file, p.internalHosts(r, internal.valueNode))
	}
	switch {
	case rules == nil:
		errs.Add(p.file, p.errf(root.Line, "no rules: the file must define at least the fallback rule"))
	case len(errs) == 0:
		// The rules name channels and lists: checked once those are valid.
		errs.Add(p.file, p.rules(r, rules.valueNode, named))
	}
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return r, nil
}

// channels reads the taxonomy into r.channels and r.names.
func (p *parser) channels(r *Rules, n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return p.errf(n.Line, "channels: want a non-empty list of channels, got %s", pipefile.KindName(n))
	}
	// taken remembers which channel (and line) claimed each normalised name.
	type claim struct {
		id   string
		line int
	}
	taken := map[string]claim{}
	for i, item := range n.Content {
		item = pipefile.Deref(item)
		what := fmt.Sprintf("channel %d", i+1)
		pairs, err := p.mapping(item, what, "a mapping with id, description and aliases")
		if err != nil {
			return err
		}
		var c Channel
		var idNode, aliasesNode *yaml.Node
		for _, kv := range pairs {
			if kv.key == "id" && kv.valueNode.Kind == yaml.ScalarNode && namePattern.MatchString(kv.valueNode.Value) {
				what = fmt.Sprintf("channel %q", kv.valueNode.Value) // name it in errors
			}
		}
		for _, kv := range pairs {
			switch kv.key {
			case "id":
				idNode = kv.valueNode
			case "description":
				if kv.valueNode.Kind != yaml.ScalarNode {
					return p.errf(kv.valueNode.Line, "%s: description: want a string, got %s", what, pipefile.KindName(kv.valueNode))
				}
				c.Description = strings.TrimSpace(kv.valueNode.Value)
			case "aliases":
				aliasesNode = kv.valueNode
			default:
				return p.errf(kv.keyNode.Line, "%s: unknown key %q (want id, description or aliases)", what, kv.key)
			}
		}
		if idNode == nil {
			return p.errf(item.Line, "%s: no id", what)
		}
		if idNode.Kind != yaml.ScalarNode || !namePattern.MatchString(idNode.Value) {
			return p.errf(idNode.Line, "%s: id %s must be lower-case letters, digits and underscores, starting with a letter", what, pipefile.KindName(idNode))
		}
		c.ID = idNode.Value
		if prev, dup := taken[c.ID]; dup {
			if prev.id == c.ID {
				return p.errf(idNode.Line, "duplicate channel id %q (first on line %d)", c.ID, prev.line)
			}
			return p.errf(idNode.Line, "channel id %q is already an alias of channel %q (line %d)", c.ID, prev.id, prev.line)
		}
		taken[c.ID] = claim{c.ID, idNode.Line}
		if aliasesNode != nil {
			aliases, err := p.scalars(aliasesNode, what+": aliases", false)
			if err != nil {
				return err
			}
			for _, a := range aliases {
				key := Key(a.Value)
				if key == "" {
					return p.errf(a.Line, "%s: empty alias", what)
				}
				if prev, dup := taken[key]; dup {
					how := "alias"
					if prev.id == key {
						how = "id"
					}
					return p.errf(a.Line, "%s: alias %q is already the %s of channel %q (line %d)", what, a.Value, how, prev.id, prev.line)
				}
				taken[key] = claim{c.ID, a.Line}
				c.Aliases = append(c.Aliases, fold(a.Value))
			}
		}
		r.channels = append(r.channels, c)
	}
	for key, cl := range taken {
		r.names[key] = cl.id
	}
	return nil
}

// lists reads the named lists.
func (p *parser) lists(n *yaml.Node) (map[string]*hostList, error) {
	pairs, err := p.mapping(n, "lists", "a mapping of list names to lists")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*hostList, len(pairs))
	for _, kv := range pairs {
		if !namePattern.MatchString(kv.key) {
			return nil, p.errf(kv.keyNode.Line, "list name %q must be lower-case letters, digits and underscores, starting with a letter", kv.key)
		}
		what := fmt.Sprintf("list %q", kv.key)
		entries, err := p.scalars(kv.valueNode, what, false)
		if err != nil {
			return nil, err
		}
		if len(entries) == 0 {
			return nil, p.errf(kv.valueNode.Line, "%s is empty", what)
		}
		l := &hostList{name: kv.key, names: map[string]struct{}{}, domains: map[string]struct{}{}}
		seen := map[string]int{}
		for _, e := range entries {
			v := fold(e.Value)
			switch {
			case v == "":
				return nil, p.errf(e.Line, "%s: empty entry", what)
			case strings.ContainsAny(v, "/:?#@"):
				return nil, p.errf(e.Line, "%s: entry %q: want a name or a host name, not a URL", what, e.Value)
			case strings.IndexByte(v, '.') >= 0:
				v = trimHostPrefix(strings.TrimSuffix(v, "."))
				if strings.HasPrefix(v, ".") || strings.Contains(v, "..") {
					return nil, p.errf(e.Line, "%s: entry %q is not a host name", what, e.Value)
				}
				l.domains[v] = struct{}{}
			default:
				l.names[v] = struct{}{}
			}
			if first, dup := seen[v]; dup {
				return nil, p.errf(e.Line, "%s: duplicate entry %q (first on line %d)", what, e.Value, first)
			}
			seen[v] = e.Line
		}
		out[kv.key] = l
	}
	return out, nil
}

// internalHosts reads the internal hosts into r.internal.
func (p *parser) internalHosts(r *Rules, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // "internal_hosts:" with nothing is the default: none
	}
	hosts, err := p.scalars(n, "internal_hosts", false)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		host := hostOf(h.Value)
		if host == "" {
			return p.errf(h.Line, "internal_hosts: %q is not a host name", h.Value)
		}
		r.internal[host] = struct{}{}
	}
	return nil
}

// rules compiles the rules into r.rules.
func (p *parser) rules(r *Rules, n *yaml.Node, lists map[string]*hostList) error {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return p.errf(n.Line, "no rules: want a non-empty list of rules, got %s", pipefile.KindName(n))
	}
	var errs pipefile.List
	for i, item := range n.Content {
		ru, err := p.rule(r, pipefile.Deref(item), i, i == len(n.Content)-1, lists)
		if err != nil {
			errs.Add(p.file, err)
			continue
		}
		r.rules = append(r.rules, ru)
	}
	return errs.Err()
}

// rule reads the i-th rule, item; last says whether it is the last one,
// which must be the fallback.
func (p *parser) rule(r *Rules, item *yaml.Node, i int, last bool, lists map[string]*hostList) (rule, error) {
	what := fmt.Sprintf("rule %d", i+1)
	ru := rule{line: item.Line}
	pairs, err := p.mapping(item, what, "a mapping with channel and conditions")
	if err != nil {
		return ru, err
	}
	for _, kv := range pairs {
		if kv.key == "channel" {
			if ru.channel, err = p.ruleChannel(r, kv.valueNode, what); err != nil {
				return ru, err
			}
			continue
		}
		f, ok := fieldByName(kv.key)
		if !ok {
			return ru, p.errf(kv.keyNode.Line, "%s: unknown field %q (want channel, %s)", what, kv.key, strings.Join(fieldNames[:], ", "))
		}
		c, err := p.condition(f, kv.valueNode, what+": "+kv.key, lists)
		if err != nil {
			return ru, err
		}
		ru.conds = append(ru.conds, c)
	}
	if ru.channel == "" {
		return ru, p.errf(item.Line, "%s: no channel", what)
	}
	switch {
	case len(ru.conds) == 0 && !last:
		return ru, p.errf(item.Line, "%s: no conditions; only the last rule may be an unconditional fallback", what)
	case len(ru.conds) > 0 && last:
		return ru, p.errf(item.Line, "%s: the last rule must be a fallback without conditions, so that every touchpoint gets a channel", what)
	}
	sort.SliceStable(ru.conds, func(a, b int) bool { return ru.conds[a].cost() < ru.conds[b].cost() })
	ru.filter()
	return ru, nil
}

func (p *parser) ruleChannel(r *Rules, n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errf(n.Line, "%s: channel: want a channel id, got %s", what, pipefile.KindName(n))
	}
	for _, c := range r.channels {
		if c.ID == n.Value {
			return c.ID, nil
		}
	}
	if id, ok := r.Lookup(n.Value); ok {
		return "", p.errf(n.Line, "%s: channel %q is an alias; use the id %q", what, n.Value, id)
	}
	return "", p.errf(n.Line, "%s: unknown channel %q", what, n.Value)
}

// slot returns the memo slot of pattern on field f, or -1 when all slots are
// taken.
func (p *parser) slot(f field, pattern string) int {
	key := fieldNames[f] + "\x00" + pattern
	if s, ok := p.slots[key]; ok {
		return s
	}
	if p.slots == nil {
		p.slots = map[string]int{}
	}
	if len(p.slots) == memoSlots {
		return -1
	}
	p.slots[key] = len(p.slots)
	return p.slots[key]
}

// compileFolded compiles a case-insensitive pattern for folded (lower-cased)
// input. A pattern without upper-case letters needs no (?i) flag then, and
// matching without it is about a fifth faster; a pattern with upper-case
// letters (in literals or in escapes such as \S) gets the flag.
func compileFolded(pattern string) (*regexp.Regexp, error) {
	if strings.ToLower(pattern) == pattern {
		return regexp.Compile(pattern)
	}
	return regexp.Compile("(?i)" + pattern)
}

func fieldByName(name string) (field, bool) {
	for f, n := range fieldNames {
		if n == name {
			return field(f), true
		}
	}
	return 0, false
}

// condition compiles the operators of one field of a rule.
func (p *parser) condition(f field, n *yaml.Node, what string, lists map[string]*hostList) (condition, error) {
	c := condition{field: f}
	pairs, err := p.mapping(n, what, "a mapping of operators, e.g. {equals: [google]}")
	if err != nil {
		return c, err
	}
	if len(pairs) == 0 {
		return c, p.errf(n.Line, "%s: no operator (want %s)", what, operators)
	}
	for _, kv := range pairs {
		op, v := what+": "+kv.key, kv.valueNode
		switch kv.key {
		case "equals":
			vals, err := p.scalars(v, op, true)
			if err != nil {
				return c, err
			}
			if len(vals) == 0 {
				return c, p.errf(v.Line, "%s: empty list", op)
			}
			for _, s := range vals {
				if fold(s.Value) == "" {
					return c, p.errf(s.Line, "%s: empty value (use absent: true)", op)
				}
				c.equals = append(c.equals, fold(s.Value))
			}
		case "matches":
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return c, p.errf(v.Line, "%s: want a regular expression, got %s", op, pipefile.KindName(v))
			}
			re, err := compileFolded(v.Value)
			if err != nil {
				reason := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
				return c, p.errf(v.Line, "%s: bad regular expression %q: %s", op, v.Value, reason)
			}
			c.re, c.reEmpty = re, re.MatchString("")
			c.slot = p.slot(f, v.Value)
		case "in_list":
			names, err := p.scalars(v, op, true)
			if err != nil {
				return c, err
			}
			if len(names) == 0 {
				return c, p.errf(v.Line, "%s: empty list", op)
			}
			for _, name := range names {
				l, ok := lists[name.Value]
				if !ok {
					return c, p.errf(name.Line, "%s: unknown list %q", op, name.Value)
				}
				c.lists = append(c.lists, l)
			}
		case "absent":
			var absent bool
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&absent) != nil {
				return c, p.errf(v.Line, "%s: want true or false, got %s", op, pipefile.KindName(v))
			}
			c.presence = -1
			if absent {
				c.presence = 1
			}
		default:
			return c, p.errf(kv.keyNode.Line, "%s: unknown operator %q (want %s)", what, kv.key, operators)
		}
	}
	if c.presence == 1 && len(pairs) > 1 {
		return c, p.errf(n.Line, "%s: absent: true cannot be combined with other operators", what)
	}
	return c, nil
}
