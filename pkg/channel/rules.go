// Package channel derives the marketing channel of a touchpoint: the explicit
// channel a producer sent when it names a known channel, otherwise the first
// matching rule of a declarative rule file (pipelines/channels.yaml) over the
// UTM parameters, the referrer host and the event type, in the spirit of GA4's
// default channel grouping.
//
// The rule file's format is documented in the comments of the shipped
// pipelines/channels.yaml. Load or Parse compiles a file into Rules, which are
// immutable and safe for concurrent use.
package channel

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Input is what the classifier looks at: the fields of a touchpoint that carry
// channel information. All fields are optional; empty means absent. Values
// are trimmed and compared case-insensitively.
type Input struct {
	// Channel is the channel the producer sent explicitly. It wins when it
	// is a channel id or alias of the taxonomy, and is ignored otherwise.
	Channel string
	// UTMSource, UTMMedium and UTMCampaign are the UTM parameters of the
	// landing URL.
	UTMSource, UTMMedium, UTMCampaign string
	// Referrer is the referrer URL; only its host is used. The scheme is
	// optional.
	Referrer string
	// EventType is the touchpoint's event type (page_view, purchase,
	// store_visit, ...).
	EventType string
}

// Channel is one channel of the taxonomy.
type Channel struct {
	// ID is the channel's canonical id, such as "paid_search": what
	// Classify returns.
	ID string
	// Description says what the channel covers, for people.
	Description string
	// Aliases are other names the explicit channel of an Input may use for
	// this channel, as written in the rule file (lower-cased).
	Aliases []string
}

// Rules is a compiled rule set: a channel taxonomy and ordered rules. It is
// immutable once built by Load or Parse (apart from the bounded memory of
// recent results, which only saves work) and safe for concurrent use by any
// number of goroutines. The zero value has no rules and is not usable.
type Rules struct {
	channels []Channel
	// names maps the Key of every channel id and alias to the id.
	names map[string]string
	rules []rule
	// internal holds the internal hosts: a referrer from one of them or a
	// subdomain counts as no referrer.
	internal map[string]struct{}
	// results remembers the rule that matched recent inputs.
	results *results
}

// field is a field of the input that conditions look at.
type field uint8

const (
	fieldUTMSource field = iota
	fieldUTMMedium
	fieldUTMCampaign
	fieldReferrerHost
	fieldEventType
	numFields
)

// fieldNames are the names of the fields in the rule file, by field.
var fieldNames = [numFields]string{"utm_source", "utm_medium", "utm_campaign", "referrer_host", "event_type"}

// values holds the normalised input fields, indexed by field.
type values [numFields]string

// memoSlots is how many distinct (field, regular expression) pairs a rule
// set memoises per Classify call; further ones are simply not memoised.
const memoSlots = 64

// memo holds the regular expression results of one Classify call, by slot:
// 0 not yet evaluated, 1 matched, 2 did not match. Several rules often test
// the same expression on the same field (GA4's paid-medium pattern is in six
// rules), and some expressions cost a microsecond.
type memo [memoSlots]uint8

// rule is one compiled rule: all conditions must hold.
type rule struct {
	channel string
	line    int
	conds   []condition
	// need and forbid are bit sets of fields (1<<field) that must be
	// present and absent for the rule to possibly match: a quick filter
	// before the conditions.
	need, forbid uint8
}

// filter sets the rule's need and forbid bits from its conditions.
func (r *rule) filter() {
	for i := range r.conds {
		c := &r.conds[i]
		switch {
		case c.presence == 1:
			r.forbid |= 1 << c.field
		case c.presence == -1, c.equals != nil, c.lists != nil, c.re != nil && !c.reEmpty:
			r.need |= 1 << c.field
		}
	}
}

// condition is the compiled operators of one rule over one field; all of its
// operators must hold.
type condition struct {
	field field
	// presence is +1 for `absent: true`, -1 for `absent: false`, 0 when the
	// condition says nothing about presence.
	presence int8
	equals   []string
	re       *regexp.Regexp
	// reEmpty is whether re matches the empty string, precomputed because
	// most fields of most inputs are empty.
	reEmpty bool
	// slot is the memo slot of (field, re), or -1 for none.
	slot  int
	lists []*hostList
}

// cost orders the conditions of a rule so that cheap checks run first.
func (c *condition) cost() int {
	switch {
	case c.re != nil:
		return 3
	case c.lists != nil:
		return 2
	case c.equals != nil:
		return 1
	}
	return 0
}

func (c *condition) match(v string, m *memo) bool {
	switch c.presence {
	case 1:
		return v == ""
	case -1:
		if v == "" {
			return false
		}
	}
	if c.equals != nil {
		found := false
		for _, e := range c.equals {
			if e == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if c.lists != nil {
		found := false
		for _, l := range c.lists {
			if l.contains(v) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	switch {
	case c.re == nil:
		return true
	case v == "":
		return c.reEmpty
	case c.slot < 0:
		return c.re.MatchString(v)
	}
	switch m[c.slot] {
	case 1:
		return true
	case 2:
		return false
	}
	ok := c.re.MatchString(v)
	m[c.slot] = 2
	if ok {
		m[c.slot] = 1
	}
	return ok
}

func (r *rule) match(v *values, m *memo) bool {
	for i := range r.conds {
		c := &r.conds[i]
		if !c.match(v[c.field], m) {
			return false
		}
	}
	return true
}

// Classify returns the channel id of in, never "". An explicit in.Channel
// that Lookup knows wins; otherwise the first rule whose conditions all hold
// decides (the rule file's last rule is an unconditional fallback). The
// referrer counts as absent when its host is one of the internal hosts.
// Classify does not allocate unless a field has upper-case or non-ASCII
// letters. It is safe for concurrent use.
func (r *Rules) Classify(in Input) string {
	if in.Channel != "" {
		if id, ok := r.Lookup(in.Channel); ok {
			return id
		}
	}
	v := r.values(in)
	i, ok := r.results.get(&v)
	if !ok {
		i = r.first(&v)
		r.results.put(&v, i)
	}
	return r.rules[i].channel
}

// values returns the normalised fields of in that rules look at.
func (r *Rules) values(in Input) values {
	var v values
	v[fieldUTMSource] = fold(in.UTMSource)
	v[fieldUTMMedium] = fold(in.UTMMedium)
	v[fieldUTMCampaign] = fold(in.UTMCampaign)
	v[fieldReferrerHost] = r.referrerHost(in.Referrer)
	v[fieldEventType] = fold(in.EventType)
	return v
}

// first returns the index of the first rule that matches v.
func (r *Rules) first(v *values) int {
	var present uint8
	for f, s := range v {
		if s != "" {
			present |= 1 << f
		}
	}
	var m memo
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.need&^present == 0 && ru.forbid&present == 0 && ru.match(v, &m) {
			return i
		}
	}
	// Unreachable: Parse makes sure the last rule has no conditions.
	return len(r.rules) - 1
}

// referrerHost returns the host of referrer as rules see it: "" for none, an
// implausible one or an internal one.
func (r *Rules) referrerHost(referrer string) string {
	h := hostOf(referrer)
	if h != "" && inDomains(r.internal, h) {
		return ""
	}
	return h
}

// Lookup returns the channel id that name, an id or an alias, stands for.
// name is trimmed and lower-cased, and spaces and hyphens count as
// underscores, so "Paid Search", "paid-search" and "E-Mail" are known. ok is
// false for anything else. Lookup does not allocate for ASCII names of up to
// 64 bytes and is safe for concurrent use.
func (r *Rules) Lookup(name string) (id string, ok bool) {
	s := strings.TrimSpace(name)
	if s == "" {
		return "", false
	}
	var buf [64]byte
	if len(s) <= len(buf) {
		ascii := true
		for i := 0; i < len(s) && ascii; i++ {
			c := s[i]
			switch {
			case c >= utf8.RuneSelf:
				ascii = false
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			case c == ' ' || c == '-':
				c = '_'
			}
			buf[i] = c
		}
		if ascii {
			id, ok = r.names[string(buf[:len(s)])]
			return id, ok
		}
	}
	id, ok = r.names[Key(s)]
	return id, ok
}

// Channels returns the taxonomy in file order. The result is a copy: changing
// it does not change r.
func (r *Rules) Channels() []Channel {
	out := make([]Channel, len(r.channels))
	for i, c := range r.channels {
		c.Aliases = append([]string(nil), c.Aliases...)
		out[i] = c
	}
	return out
}
