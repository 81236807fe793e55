// Package identifiers normalises the identifiers a touchpoint carries and
// hashes the personal ones (email, phone) so that they never leave the ingest
// service in clear text.
package identifiers

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/pkg/utf8fast"
)

// The identifier types touchline knows. Producers may send other types; they
// are trimmed and kept as they are.
const (
	AnonymousID = "anonymous_id"
	DeviceID    = "device_id"
	CustomerID  = "customer_id"
	Email       = "email"
	Phone       = "phone"
)

// Config configures normalisation and hashing. The identity rules
// (pkg/identity, pipelines/identity.yaml) fill in all but the pepper, which
// is a secret of the deployment's configuration.
type Config struct {
	// Pepper, when set, turns the hash into HMAC-SHA256 keyed with it, so
	// hashes cannot be matched against lists of known emails. Default empty:
	// plain SHA-256 of the normalised value, the form ad platforms' customer
	// lists use. Changing it changes every hash: set it once.
	Pepper string `yaml:"pepper"`
	// RequirePepper refuses to hash without a pepper: a deployment that
	// hashes with one would otherwise, when its secret goes missing,
	// silently hash every email and phone differently and split every
	// person. Default false; the shipped deployments set it.
	RequirePepper bool `yaml:"require_pepper"`
	// Hashed lists the types hashed after normalisation.
	Hashed []string `yaml:"-"`
	// Region is the ISO 3166 region (e.g. "US", "GB", "IT") whose numbering
	// plan reads phone numbers written without a country calling code.
	Region string `yaml:"-"`
	// Kinds maps a type to its normalisation, "email" or "phone"; other
	// types are only trimmed.
	Kinds map[string]string `yaml:"-"`
	// Blocked maps a type, or "any", to values that are marked Blocked
	// (compared after normalisation; for "any", trimmed and lower-cased).
	Blocked map[string][]string `yaml:"-"`
}

// DefaultConfig returns the normalisation touchline applies without identity
// rules: emails and phones normalised and hashed, phone numbers without a
// calling code read as US numbers.
func DefaultConfig() Config {
	return Config{Hashed: []string{Email, Phone}, Region: "US",
		Kinds: map[string]string{Email: Email, Phone: Phone}}
}

// Validate reports invalid settings.
func (c Config) Validate() error {
	if !phonenumbers.GetSupportedRegions()[c.Region] {
		return fmt.Errorf("phone region %q: want an ISO 3166 region code that has a numbering plan, such as US, GB or IT", c.Region)
	}
	for t, k := range c.Kinds {
		if k != Email && k != Phone {
			return fmt.Errorf("type %s: unknown normalisation %q (want email or phone)", t, k)
		}
	}
	return nil
}

// ErrNoPepper reports a missing pepper where one is required.
var ErrNoPepper = errors.New("identifiers.require_pepper is set but the pepper is empty: set TOUCHLINE_PEPPER (or identifiers.pepper) to the deployment's secret; hashing without it would change every hash")

// CheckPepper returns ErrNoPepper when RequirePepper is set and Pepper is
// empty. Everything that hashes identifiers calls it before it starts.
func (c Config) CheckPepper() error {
	if c.RequirePepper && c.Pepper == "" {
		return ErrNoPepper
	}
	return nil
}

// ErrInvalid reports an identifier value that normalises to nothing usable.
var ErrInvalid = errors.New("invalid identifier")

// Normalizer normalises and hashes identifiers. It is immutable and safe for
// concurrent use.
type Normalizer struct {
	cfg    Config
	hashed map[string]bool
	// blocked holds the normalised values of the blocklist by type;
	// blockedAny the lower-cased values of its "any" entry.
	blocked    map[string]map[string]bool
	blockedAny map[string]bool
	// anyMaxLen is the length in bytes of the longest lower-cased value of
	// the "any" blocklist.
	anyMaxLen int
	phones    *phoneCache
}

// maxLowerShrink bounds how many times shorter, in bytes, lower-casing can
// make a valid UTF-8 string: one rune is at most 4 bytes and its lower case
// at least 1 (the Kelvin sign, 3 bytes, lowers to "k").
const maxLowerShrink = 4

// New returns a Normalizer for cfg.
func New(cfg Config) (*Normalizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Normalizer{cfg: cfg, hashed: map[string]bool{}, blocked: map[string]map[string]bool{}, blockedAny: map[string]bool{}, phones: newPhoneCache()}
	for _, t := range cfg.Hashed {
		n.hashed[NormalizeType(t)] = true
	}
	for t, values := range cfg.Blocked {
		typ := NormalizeType(t)
		for _, v := range values {
			if typ == "any" {
				lower := strings.ToLower(strings.TrimSpace(v))
				n.blockedAny[lower] = true
				n.anyMaxLen = max(n.anyMaxLen, len(lower))
				continue
			}
			norm, err := n.normalize(typ, v)
			if err != nil {
				return nil, fmt.Errorf("blocked %s %q: %w", typ, v, err)
			}
			if n.blocked[typ] == nil {
				n.blocked[typ] = map[string]bool{}
			}
			n.blocked[typ][norm] = true
		}
	}
	return n, nil
}

// NormalizeType lower-cases and trims an identifier type.
func NormalizeType(t string) string { return strings.ToLower(strings.TrimSpace(t)) }

// Identifier is one normalised identifier.
type Identifier struct {
	Type  string
	Value string
	// Blocked marks a shared or junk value (blocklist): stored with the
	// event, but never used to name or link a person.
	Blocked bool
}

// Normalize returns the identifiers of a touchpoint, normalised, hashed where
// configured, sorted by type then value. An invalid value is an error wrapping
// ErrInvalid that names the type.
func (n *Normalizer) Normalize(in touchpoint.Attrs) ([]Identifier, error) {
	out, err := n.each(in, make([]Identifier, 0, len(in)), true)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Identifier) int {
		return cmp.Or(strings.Compare(a.Type, b.Type), strings.Compare(a.Value, b.Value))
	})
	return out, nil
}

// Check returns the error Normalize would return for in, or nil, without
// building, hashing or sorting the identifiers: for callers that only
// validate.
func (n *Normalizer) Check(in touchpoint.Attrs) error {
	_, err := n.each(in, nil, false)
	return err
}

// each normalises every identifier of in, appending them to out when keep
// is set (hashed where configured), and returns the first error.
func (n *Normalizer) each(in touchpoint.Attrs, out []Identifier, keep bool) ([]Identifier, error) {
	for _, e := range in {
		t, v := e.Key, e.Value
		if !utf8fast.ValidString(t) {
			return nil, fmt.Errorf("%w: a type is not valid UTF-8", ErrInvalid)
		}
		id, err := n.identifier(NormalizeType(t), v, keep)
		if err != nil {
			return nil, err
		}
		if keep {
			out = append(out, id)
		}
	}
	return out, nil
}

// Identifier normalises one value of type typ (already normalised), marks
// it Blocked when the blocklist holds it, and hashes it when typ is hashed. A
// value the "any" blocklist holds is not validated: "unknown" is a blocked
// email, not an invalid one. A value that is not valid UTF-8 is invalid:
// lower-casing or JSON would turn distinct values into one.
func (n *Normalizer) Identifier(typ, v string) (Identifier, error) {
	return n.identifier(typ, v, true)
}

// identifier is Identifier when full is set; otherwise it only checks v,
// leaving out what a check does not need (the type's blocklist, the hash).
func (n *Normalizer) identifier(typ, v string, full bool) (Identifier, error) {
	id := Identifier{Type: typ}
	if !utf8fast.ValidString(v) {
		return id, fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, typ)
	}
	v = strings.TrimSpace(v)
	if n.isBlockedAny(v) {
		id.Blocked = true
	} else {
		norm, err := n.normalize(typ, v)
		if err != nil {
			return id, err
		}
		v = norm
		if full {
			id.Blocked = n.blocked[typ][v] // a type without entries has no map to look v up in
		}
	}
	id.Value = v
	if full && n.hashed[typ] {
		id.Value = n.hash(v)
	}
	return id, nil
}

// isBlockedAny reports whether the "any" blocklist holds v, compared
// case-insensitively. A value too long to lower-case into any of its
// entries is not lower-cased at all: lower-casing keeps the length of ASCII
// and shortens other text at most maxLowerShrink times.
func (n *Normalizer) isBlockedAny(v string) bool {
	if len(v) > n.anyMaxLen && (len(v) > maxLowerShrink*n.anyMaxLen || utf8fast.IsASCII(v)) {
		return false
	}
	return n.blockedAny[strings.ToLower(v)]
}

// Value returns the stored form of one value of type typ: normalised, and
// hashed when typ is hashed.
func (n *Normalizer) Value(typ, v string) (string, error) {
	id, err := n.Identifier(typ, v)
	return id.Value, err
}

// normalize returns v normalised for typ, without hashing.
func (n *Normalizer) normalize(typ, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch n.cfg.Kinds[typ] {
	case Email:
		v = strings.ToLower(v)
		if !utf8fast.IsASCII(v) {
			// "é" typed as one character or as "e" and an accent, and
			// what a copy from a web page brings along unseen.
			v = asciiDomain(norm.NFC.String(strings.TrimSpace(strings.Map(dropInvisible, v))))
		}
		if at := strings.IndexByte(v, '@'); at <= 0 || at == len(v)-1 {
			return "", fmt.Errorf("%w: %s is not an email address", ErrInvalid, typ)
		}
	case Phone:
		p, err := n.phone(v)
		if err != nil {
			return "", err
		}
		v = p
	}
	if v == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrInvalid, typ)
	}
	return v, nil
}

// dropInvisible drops, for strings.Map, the characters that have no
// place in an address and show nothing when it is read: the soft hyphen,
// the zero-width space, the word joiner and the byte order mark. The
// zero-width joiner and non-joiner are kept: they tell words apart in some
// scripts.
func dropInvisible(r rune) rune {
	switch r {
	case '\u00ad', '\u200b', '\u2060', '\ufeff':
		return -1
	}
	return r
}

// asciiDomain returns the address v with its domain in IDNA's ASCII form
// (müller.de as xn--mller-kva.de, ｅｘａｍｐｌｅ.com as example.com), the
// form mail is delivered to, so that an address written either way is one
// address. A domain IDNA refuses (a label with an underscore, or one that
// starts with a hyphen) is left as it is, as an address was before.
func asciiDomain(v string) string {
	at := strings.LastIndexByte(v, '@')
	if at < 0 || utf8fast.IsASCII(v[at+1:]) {
		return v
	}
	domain, err := idna.Lookup.ToASCII(v[at+1:])
	if err != nil {
		return v
	}
	return v[:at+1] + domain
}

// phone returns v in E.164 form ("+", the country calling code and the
// national significant number), read by libphonenumber's numbering plans: a
// number without a calling code is read in the default region, national
// trunk prefixes are dropped where the plan has one (the 0 of "+44 (0)20")
// and kept where it is part of the number (Italy's leading 0), a leading 00
// is an international prefix, and an extension is dropped. A number that
// cannot be a phone number of its country (too short or too long for its
// plan, an unknown calling code, a local number without its area code) is
// refused with the reason.
//
// The E.164 form is the one the number's every form gets, itself included.
// A reading drops a trunk prefix from the national number once, and a
// national number that itself starts with one (India's "0(000000000" reads
// as +91000000000) would lose it again when its E.164 form is read. So a
// form is read again until it stays as it is; each change shortens the
// national number, so that ends within maxPhoneRereads.
func (n *Normalizer) phone(v string) (string, error) {
	return n.phoneWithin(v, maxPhoneRereads)
}

// maxPhoneRereads bounds the readings of a number's successive E.164 forms:
// more than the longest national number has digits.
const maxPhoneRereads = 20

// phoneWithin is phone with at most rereads readings of E.164 forms left.
func (n *Normalizer) phoneWithin(v string, rereads int) (string, error) {
	if r, ok := n.phones.get(v); ok {
		return r.e164, r.err
	}
	e164, err := n.parsePhone(v)
	if err == nil && e164 != v {
		if rereads == 0 {
			e164, err = "", fmt.Errorf("%w: phone has no E.164 form that reads as itself", ErrInvalid)
		} else {
			e164, err = n.phoneWithin(e164, rereads-1)
		}
	}
	n.phones.put(v, phoneResult{e164, err})
	return e164, err
}

// parsePhone reads v once by the numbering plans, without the cache.
func (n *Normalizer) parsePhone(v string) (string, error) {
	if strings.HasPrefix(v, "00") {
		v = "+" + v[2:]
	}
	num, err := phonenumbers.Parse(v, n.cfg.Region)
	if err != nil {
		return "", fmt.Errorf("%w: phone %s", ErrInvalid, phoneParseReason(err))
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE:
		return phonenumbers.Format(num, phonenumbers.E164), nil
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "", fmt.Errorf("%w: phone has an unknown country calling code", ErrInvalid)
	case phonenumbers.TOO_SHORT:
		return "", fmt.Errorf("%w: phone is too short for a number of %s", ErrInvalid, phoneCountry(num))
	case phonenumbers.TOO_LONG:
		return "", fmt.Errorf("%w: phone is too long for a number of %s", ErrInvalid, phoneCountry(num))
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return "", fmt.Errorf("%w: phone is a local number of %s without its area code", ErrInvalid, phoneCountry(num))
	}
	return "", fmt.Errorf("%w: phone has no length a number of %s has", ErrInvalid, phoneCountry(num))
}

// phoneParseReason words an error of phonenumbers.Parse.
func phoneParseReason(err error) string {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return "has an unknown country calling code, or no calling code and no default region"
	case errors.Is(err, phonenumbers.ErrNotANumber):
		return "is not a phone number"
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return "is too short to be a phone number"
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return "is too long to be a phone number"
	}
	return err.Error()
}

// phoneCountry names the country of a number: its region and calling code.
func phoneCountry(num *phonenumbers.PhoneNumber) string {
	return fmt.Sprintf("%s (+%d)", phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())), num.GetCountryCode())
}

// phoneCache remembers the normal forms of recently seen phone values: a
// person's number comes back event after event, written the same way, and
// reading it by the numbering plans costs tens of microseconds. It holds
// two generations of at most phoneCacheSize values each, of at most
// phoneCacheKey bytes, so its memory is bounded. It is safe for concurrent
// use.
type phoneCache struct {
	mu        sync.Mutex
	cur, prev map[string]phoneResult
}

// The bounds of a phoneCache: values per generation, and the longest value
// kept.
const (
	phoneCacheSize = 16384
	phoneCacheKey  = 64
)

// phoneResult is the normal form of a phone value, or why it has none.
type phoneResult struct {
	e164 string
	err  error
}

func newPhoneCache() *phoneCache {
	return &phoneCache{cur: map[string]phoneResult{}}
}

// get returns the cached result of v.
func (c *phoneCache) get(v string) (phoneResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.cur[v]; ok {
		return r, true
	}
	r, ok := c.prev[v]
	if ok {
		c.add(v, r)
	}
	return r, ok
}

// put caches the result of v.
func (c *phoneCache) put(v string, r phoneResult) {
	if len(v) > phoneCacheKey {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(v, r)
}

// add adds to the current generation, starting a new one when it is full.
func (c *phoneCache) add(v string, r phoneResult) {
	if len(c.cur) >= phoneCacheSize {
		c.prev, c.cur = c.cur, make(map[string]phoneResult, phoneCacheSize)
	}
	c.cur[v] = r
}

func (n *Normalizer) hash(v string) string {
	if n.cfg.Pepper == "" {
		sum := sha256.Sum256([]byte(v))
		return hex.EncodeToString(sum[:])
	}
	m := hmac.New(sha256.New, []byte(n.cfg.Pepper))
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}
