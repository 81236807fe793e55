// Package identifiers normalises the identifiers a touchpoint carries and
// hashes the personal ones (email, phone) so that they never leave the ingest
// service in clear text.
package identifiers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
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
	// CountryCode is the calling code (digits, e.g. "1" or "44") put in
	// front of phone numbers written without one.
	CountryCode string `yaml:"-"`
	// Kinds maps a type to its normalisation, "email" or "phone"; other
	// types are only trimmed.
	Kinds map[string]string `yaml:"-"`
	// Blocked maps a type, or "any", to values that are marked Blocked
	// (compared after normalisation; for "any", trimmed and lower-cased).
	Blocked map[string][]string `yaml:"-"`
}

// DefaultConfig returns the normalisation touchline applies without identity
// rules: emails and phones normalised and hashed, calling code 1.
func DefaultConfig() Config {
	return Config{Hashed: []string{Email, Phone}, CountryCode: "1",
		Kinds: map[string]string{Email: Email, Phone: Phone}}
}

// Validate reports invalid settings.
func (c Config) Validate() error {
	if c.CountryCode == "" || !allDigits(c.CountryCode) || len(c.CountryCode) > 3 {
		return fmt.Errorf("phone calling code %q must be 1 to 3 digits", c.CountryCode)
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
	cfg     Config
	hashed  map[string]bool
	blocked map[string]bool // "type:normalised value", or "any:value"
}

// New returns a Normalizer for cfg.
func New(cfg Config) (*Normalizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Normalizer{cfg: cfg, hashed: map[string]bool{}, blocked: map[string]bool{}}
	for _, t := range cfg.Hashed {
		n.hashed[NormalizeType(t)] = true
	}
	for t, values := range cfg.Blocked {
		typ := NormalizeType(t)
		for _, v := range values {
			if typ == "any" {
				n.blocked["any:"+strings.ToLower(strings.TrimSpace(v))] = true
				continue
			}
			norm, err := n.normalize(typ, v)
			if err != nil {
				return nil, fmt.Errorf("blocked %s %q: %w", typ, v, err)
			}
			n.blocked[typ+":"+norm] = true
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
func (n *Normalizer) Normalize(in map[string]string) ([]Identifier, error) {
	out := make([]Identifier, 0, len(in))
	for t, v := range in {
		typ := NormalizeType(t)
		id, err := n.Identifier(typ, v)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Value < out[j].Value
	})
	return out, nil
}

// Identifier normalises one value of type typ (already normalised), marks
// it Blocked when the blocklist holds it, and hashes it when typ is hashed. A
// value the "any" blocklist holds is not validated: "unknown" is a blocked
// email, not an invalid one.
func (n *Normalizer) Identifier(typ, v string) (Identifier, error) {
	id := Identifier{Type: typ}
	v = strings.TrimSpace(v)
	if n.blocked["any:"+strings.ToLower(v)] {
		id.Blocked = true
	} else {
		norm, err := n.normalize(typ, v)
		if err != nil {
			return id, err
		}
		v = norm
		id.Blocked = n.blocked[typ+":"+v]
	}
	id.Value = v
	if n.hashed[typ] {
		id.Value = n.hash(v)
	}
	return id, nil
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

// phone returns v in E.164 form: "+" and digits. A number without a country
// code gets the default one; a national trunk prefix 0 is dropped.
func (n *Normalizer) phone(v string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(v, "+"):
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case n.cfg.CountryCode == "1" && len(d) == 11 && d[0] == '1':
	default:
		d = n.cfg.CountryCode + strings.TrimPrefix(d, "0")
	}
	if len(d) < 8 || len(d) > 15 {
		return "", fmt.Errorf("%w: phone has %d digits after normalisation, E.164 allows 8 to 15", ErrInvalid, len(d))
	}
	return "+" + d, nil
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

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
