// Package stitch stitches the identifiers of touchpoints into persons: the
// identity rules of pipelines/identity.yaml (identifier types, normalisation,
// hashing, per-person limits, priorities, blocked values) and the resolver
// that applies link requests to a union-find under those rules.
package stitch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/pipefile"
)

// RulesFile is the name of the identity rules file in the pipelines
// directory.
const RulesFile = "identity.yaml"

// Type is the rule of one identifier type.
type Type struct {
	// Name is the type as producers send it, lower case.
	Name string
	// Normalize is "email", "phone" or "" (values are only trimmed).
	Normalize string
	// Hash says whether values are hashed after normalisation.
	Hash bool
	// MaxPerPerson bounds the values of this type one person may have; 0
	// means no bound.
	MaxPerPerson int
}

// Rules are the identity rules. They are immutable once loaded.
type Rules struct {
	// Types are the configured types, most trusted first: the person id of
	// an event comes from its highest-priority identifier. Types not listed
	// rank after them (alphabetically) with no normalisation, no hashing and
	// no limit.
	Types []Type
	// PhoneRegion is the region whose numbering plan reads a phone number
	// written without a country calling code: an ISO 3166 code such as
	// "US", or a calling code such as "+44" for its main region (GB).
	PhoneRegion string
	// Blocklist maps a type, or "any", to values that never link (compared
	// after normalisation, before hashing).
	Blocklist map[string][]string

	rank map[string]int
}

// DefaultRules returns the rules that hold without pipelines/identity.yaml;
// the shipped file spells them out.
func DefaultRules() *Rules {
	r := &Rules{
		Types: []Type{
			{Name: identifiers.CustomerID, MaxPerPerson: 1},
			{Name: identifiers.Email, Normalize: "email", Hash: true},
			{Name: identifiers.Phone, Normalize: "phone", Hash: true},
			{Name: identifiers.DeviceID},
			{Name: identifiers.AnonymousID},
		},
		PhoneRegion: "US",
		Blocklist: map[string][]string{
			"any":                {"unknown", "null", "none", "undefined", "nil", "0", "-", "n/a", "test"},
			identifiers.Email:    {"test@test.com", "test@example.com", "noreply@example.com", "no-reply@example.com"},
			identifiers.Phone:    {"+10000000000", "+11111111111", "+15555555555"},
			identifiers.DeviceID: {"00000000-0000-0000-0000-000000000000"},
		},
	}
	r.index()
	return r
}

func (r *Rules) index() {
	r.rank = make(map[string]int, len(r.Types))
	for i, t := range r.Types {
		r.rank[t.Name] = i
	}
}

// Rank orders identifier types by priority: lower is more trusted. Unlisted
// types rank after every listed one.
func (r *Rules) Rank(typ string) int {
	if i, ok := r.rank[typ]; ok {
		return i
	}
	return len(r.Types)
}

// Limit returns the per-person bound of a type, 0 for none.
func (r *Rules) Limit(typ string) int {
	if i, ok := r.rank[typ]; ok {
		return r.Types[i].MaxPerPerson
	}
	return 0
}

// Normalizer returns the normaliser these rules describe, hashing with
// pepper (HMAC-SHA256 when set).
func (r *Rules) Normalizer(pepper string) (*identifiers.Normalizer, error) {
	cfg := identifiers.Config{Pepper: pepper, Region: phoneRegion(r.PhoneRegion), Kinds: map[string]string{}, Blocked: r.Blocklist}
	for _, t := range r.Types {
		if t.Hash {
			cfg.Hashed = append(cfg.Hashed, t.Name)
		}
		if t.Normalize != "" {
			cfg.Kinds[t.Name] = t.Normalize
		}
	}
	return identifiers.New(cfg)
}

// PersonID returns the person id an event with these identifiers has until
// the resolver says otherwise: the id of its highest-priority identifier that
// is not blocked (ties: the first in the given order), or "" when every
// identifier is blocked.
func (r *Rules) PersonID(ids []identifiers.Identifier) string {
	best := -1
	for i, id := range ids {
		if !id.Blocked && (best < 0 || r.Rank(id.Type) < r.Rank(ids[best].Type)) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return SingletonID(ids[best])
}

// SingletonID is the person id of an identifier on its own: "p_" and 20 hex
// digits of the SHA-256 of "type:value". Every identifier starts as this
// person; merges keep one of the merged persons' ids.
func SingletonID(id identifiers.Identifier) string {
	var room [128]byte // "type:value" of most identifiers, on the stack
	key := append(append(append(room[:0], id.Type...), ':'), id.Value...)
	sum := sha256.Sum256(key)
	var out [2 + 20]byte
	copy(out[:], "p_")
	hex.Encode(out[2:], sum[:10])
	return string(out[:])
}

// phoneRegion returns the region of a phone_default_region setting: an
// ISO 3166 code, or, for a calling code such as "+44", the main region of
// that code (GB), by libphonenumber's data; "" when it names none.
func phoneRegion(setting string) string {
	if code, ok := strings.CutPrefix(setting, "+"); ok {
		n, err := strconv.Atoi(code)
		if err != nil || !callingCode.MatchString(setting) {
			return ""
		}
		if region := phonenumbers.GetRegionCodeForCountryCode(n); region != phonenumbers.UNKNOWN_REGION {
			return region
		}
		return ""
	}
	region := strings.ToUpper(setting)
	if !phonenumbers.GetSupportedRegions()[region] {
		return ""
	}
	return region
}

var (
	typeName    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	callingCode = regexp.MustCompile(`^\+[1-9][0-9]{0,2}$`)
)

// LoadRules reads the identity rules at path. A missing file gives the
// defaults; a bad file gives a *pipefile.ConfigError naming path, the line
// and the reason.
func LoadRules(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return DefaultRules(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity rules: %w", err)
	}
	return ParseRules(path, data)
}

// ParseRules reads identity rules from data; name is the file name used in
// errors. Keys the file leaves out keep their defaults.
func ParseRules(name string, data []byte) (*Rules, error) {
	r := DefaultRules()
	root, err := pipefile.Document(name, data)
	if err != nil || root == nil {
		return r, err
	}
	errf := func(n *yaml.Node, format string, args ...any) error {
		return pipefile.Errorf(name, n.Line, format, args...)
	}
	top, err := pipefile.Pairs(name, root, "top level")
	if err != nil {
		return nil, err
	}
	var errs pipefile.List
	var blocklistNode *yaml.Node
	for _, kv := range top {
		switch kv[0].Value {
		case "types":
			if r.Types, err = parseTypes(name, kv[1], errf); err != nil {
				errs.Add(name, err)
			}
		case "phone_default_region":
			if phoneRegion(kv[1].Value) == "" {
				errs.Add(name, errf(kv[1], "phone_default_region %q: want a region code with a numbering plan, such as US, GB or IT, or a country calling code such as +44", kv[1].Value))
				continue
			}
			r.PhoneRegion = kv[1].Value
		case "blocklist":
			if r.Blocklist, err = parseBlocklist(name, kv[1], errf); err != nil {
				errs.Add(name, err)
				continue
			}
			blocklistNode = kv[1]
		default:
			errs.Add(name, errf(kv[0], "unknown key %q (want types, phone_default_region or blocklist)", kv[0].Value))
		}
	}
	if len(errs) > 0 {
		// The blocklist is checked against valid types and region only.
		return nil, errs.Err()
	}
	r.index()
	if blocklistNode != nil {
		if err := r.checkBlocklist(name, blocklistNode, errf); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkBlocklist refuses a blocklist entry of a type not in types, and a
// value its type's normalisation refuses (a phone number that cannot be
// one), at the entry's line.
func (r *Rules) checkBlocklist(file string, n *yaml.Node, errf errorf) error {
	norm, err := (&Rules{Types: r.Types, PhoneRegion: r.PhoneRegion}).Normalizer("")
	if err != nil {
		return errf(n, "blocklist: %v", err)
	}
	entries, _ := pipefile.Pairs(file, n, "blocklist")
	var errs pipefile.List
	for _, kv := range entries {
		typ := kv[0].Value
		if typ == "any" {
			continue
		}
		if _, ok := r.rank[typ]; !ok {
			errs.Add(file, errf(kv[0], "blocklist names type %q, which is not in types", typ))
			continue
		}
		for _, v := range kv[1].Content {
			if _, err := norm.Value(typ, v.Value); err != nil {
				errs.Add(file, errf(v, "blocklist %s %q: %v", typ, v.Value, err))
			}
		}
	}
	return errs.Err()
}

type errorf func(n *yaml.Node, format string, args ...any) error

func parseTypes(file string, n *yaml.Node, errf errorf) ([]Type, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, errf(n, "types: want a list of identifier types, most trusted first")
	}
	var types []Type
	var errs pipefile.List
	seen := map[string]int{}
	for i, item := range n.Content {
		t, err := parseType(file, pipefile.Deref(item), i, seen, errf)
		if err != nil {
			errs.Add(file, err)
			continue
		}
		types = append(types, t)
	}
	return types, errs.Err()
}

// parseType reads the i-th type, item; seen holds the lines of the names
// before it.
func parseType(file string, item *yaml.Node, i int, seen map[string]int, errf errorf) (Type, error) {
	var t Type
	fields, err := pipefile.Pairs(file, item, fmt.Sprintf("type %d", i+1))
	if err != nil {
		return t, err
	}
	for _, kv := range fields {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "name":
			t.Name = v.Value
		case "normalize":
			if v.Value != "email" && v.Value != "phone" {
				return t, errf(v, "normalize %q: want email or phone", v.Value)
			}
			t.Normalize = v.Value
		case "hash":
			if v.Decode(&t.Hash) != nil {
				return t, errf(v, "hash: want true or false")
			}
		case "max_per_person":
			if v.Decode(&t.MaxPerPerson) != nil || t.MaxPerPerson < 0 {
				return t, errf(v, "max_per_person: want 0 (no limit) or a positive number")
			}
		default:
			return t, errf(k, "unknown key %q (want name, normalize, hash or max_per_person)", k.Value)
		}
	}
	if !typeName.MatchString(t.Name) {
		return t, errf(item, "type name %q: want lower-case letters, digits and _", t.Name)
	}
	if line, dup := seen[t.Name]; dup {
		return t, errf(item, "type %q listed twice (first on line %d)", t.Name, line)
	}
	seen[t.Name] = item.Line
	return t, nil
}

func parseBlocklist(file string, n *yaml.Node, errf errorf) (map[string][]string, error) {
	fields, err := pipefile.Pairs(file, n, "blocklist")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, kv := range fields {
		var values []string
		if kv[1].Kind != yaml.SequenceNode || kv[1].Decode(&values) != nil {
			return nil, errf(kv[1], "blocklist %s: want a list of values", kv[0].Value)
		}
		sort.Strings(values)
		out[kv[0].Value] = values
	}
	return out, nil
}
