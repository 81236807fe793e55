package touchpoint

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/touchline-io/touchline/pkg/utf8fast"
)

// Reason classifies why a record was refused. It is the value of the
// dead-letter topic's reason header and of the dead-letter metric's label.
type Reason string

// The reasons a record is refused by validation.
const (
	ReasonMissingField    Reason = "missing_field"
	ReasonInvalidField    Reason = "invalid_field"
	ReasonInvalidTime     Reason = "invalid_time"
	ReasonNegativeRevenue Reason = "negative_revenue"
	ReasonOversizeField   Reason = "oversize_field"
)

// ValidationError says which field of a record is wrong and why.
type ValidationError struct {
	Reason Reason
	Field  string
	Msg    string
}

// Error formats the error as "field: message".
func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

// Limits bounds what a valid record may hold. The zero value is not useful:
// start from DefaultLimits.
type Limits struct {
	// MinTime is the earliest accepted event time. Default 2000-01-01 UTC.
	MinTime time.Time `yaml:"min_time"`
	// MaxFuture is how far past the ingest service's clock an event time may
	// be. Default 24h.
	MaxFuture time.Duration `yaml:"max_future"`
	// MaxFieldBytes bounds every string field, identifier and property.
	// Default 8192.
	MaxFieldBytes int `yaml:"max_field_bytes"`
	// MaxIdentifiers bounds the identifiers. Default 32.
	MaxIdentifiers int `yaml:"max_identifiers"`
	// MaxProperties bounds the properties. Default 100.
	MaxProperties int `yaml:"max_properties"`
}

// DefaultLimits returns the limits the ingest service uses unless configured.
func DefaultLimits() Limits {
	return Limits{
		MinTime:        time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		MaxFuture:      24 * time.Hour,
		MaxFieldBytes:  8192,
		MaxIdentifiers: 32,
		MaxProperties:  100,
	}
}

// Validate checks t against l at the time now and returns a *ValidationError
// for the first problem found.
func (t *Touchpoint) Validate(l Limits, now time.Time) error {
	v := validator{l: l}
	v.required("event_id", t.EventID)
	v.required("event_type", t.EventType)
	v.eventTime("event_time", t.EventTime, now)
	for _, f := range []struct{ name, value string }{
		{"channel", t.Channel}, {"campaign", t.Campaign}, {"utm_source", t.UTMSource},
		{"utm_medium", t.UTMMedium}, {"utm_campaign", t.UTMCampaign}, {"utm_content", t.UTMContent},
		{"utm_term", t.UTMTerm}, {"referrer", t.Referrer}, {"page_url", t.PageURL},
		{"currency", t.Currency}, {"order_id", t.OrderID},
	} {
		v.text(f.name, f.value)
	}
	if len(t.Identifiers) == 0 {
		v.fail(ReasonMissingField, "identifiers", "needs at least one entry")
	}
	if k, ok := v.stringMap("identifiers", t.Identifiers, l.MaxIdentifiers); ok {
		v.fail(ReasonInvalidField, "identifiers", fmt.Sprintf("%q has an empty value", k))
	}
	v.stringMap("properties", t.Properties, l.MaxProperties)
	if t.Revenue != nil {
		v.amount("revenue", *t.Revenue)
	}
	v.currency(t.Currency)
	if t.Context != nil {
		v.text("context.device_type", t.Context.DeviceType)
		v.text("context.os", t.Context.OS)
		v.text("context.country", t.Context.Country)
	}
	return v.err
}

// Validate checks s against l at the time now and returns a *ValidationError
// for the first problem found.
func (s *Spend) Validate(l Limits, now time.Time) error {
	v := validator{l: l}
	v.eventTime("date", s.Date.Time, now)
	v.required("channel", s.Channel)
	v.required("source", s.Source)
	v.required("currency", s.Currency)
	v.text("campaign", s.Campaign)
	v.currency(s.Currency)
	v.amount("cost", s.Cost)
	if s.Impressions != nil && *s.Impressions < 0 {
		v.fail(ReasonInvalidField, "impressions", "is negative")
	}
	if s.Clicks != nil && *s.Clicks < 0 {
		v.fail(ReasonInvalidField, "clicks", "is negative")
	}
	return v.err
}

type validator struct {
	l   Limits
	err error
}

func (v *validator) fail(reason Reason, field, msg string) {
	if v.err == nil {
		v.err = &ValidationError{Reason: reason, Field: field, Msg: msg}
	}
}

func (v *validator) required(field, value string) {
	if value == "" {
		v.fail(ReasonMissingField, field, "is required")
	}
	v.text(field, value)
}

// text checks a string field: valid UTF-8, at most MaxFieldBytes bytes.
func (v *validator) text(field, value string) {
	if v.textOK(value) {
		return
	}
	if p := badUTF8(value); p != "" {
		v.fail(ReasonInvalidField, field, "is "+p)
	}
	if len(value) > v.l.MaxFieldBytes {
		v.fail(ReasonOversizeField, field, fmt.Sprintf("has %d bytes, the limit is %d", len(value), v.l.MaxFieldBytes))
	}
}

// textOK reports whether text would find nothing wrong with value, so that
// a caller need not build the name of a field that is fine.
func (v *validator) textOK(value string) bool {
	return len(value) <= v.l.MaxFieldBytes && utf8fast.ValidString(value)
}

// amount checks an amount of money: not negative, at most MaxAmount.
func (v *validator) amount(field string, m Money) {
	switch {
	case m < 0:
		v.fail(ReasonNegativeRevenue, field, fmt.Sprintf("is negative (%s)", m))
	case m > MaxAmount:
		v.fail(ReasonInvalidField, field, fmt.Sprintf("%s is above the limit of %s per record", m, MaxAmount))
	}
}

func (v *validator) eventTime(field string, t, now time.Time) {
	switch {
	case t.IsZero():
		v.fail(ReasonMissingField, field, "is required")
	case t.Before(v.l.MinTime):
		v.fail(ReasonInvalidTime, field, fmt.Sprintf("%s is before %s", t.Format(time.RFC3339), v.l.MinTime.Format(time.RFC3339)))
	case t.After(now.Add(v.l.MaxFuture)):
		v.fail(ReasonInvalidTime, field, fmt.Sprintf("%s is more than %s in the future", t.Format(time.RFC3339), v.l.MaxFuture))
	}
}

// stringMap checks identifiers or properties: at most limit entries, keys
// not empty, keys and values as text checks them. It also returns the key of
// an entry with an empty value, if there is one, for a caller to whom that
// is an error after the others (found in the same pass over m).
func (v *validator) stringMap(field string, m Attrs, limit int) (emptyValue string, found bool) {
	if len(m) > limit {
		v.fail(ReasonOversizeField, field, fmt.Sprintf("has %d entries, the limit is %d", len(m), limit))
	}
	for _, e := range m {
		k, val := e.Key, e.Value
		if val == "" && !found {
			emptyValue, found = k, true
		}
		if k == "" {
			v.fail(ReasonInvalidField, field, "has an empty key")
		}
		if !utf8fast.ValidString(k) { // checked here so that no error names the key
			v.fail(ReasonInvalidField, field, "has a key that is "+badUTF8(k))
			continue
		}
		if len(k) <= v.l.MaxFieldBytes && v.textOK(val) {
			continue // the entry's name is only built for an error
		}
		name := field + "." + k
		if len(k) > 64 { // errors name the entry by its key's first bytes
			name = field + "." + strings.ToValidUTF8(k[:64], "") + "..."
		}
		v.text(name, k)
		v.text(name, val)
	}
	return emptyValue, found
}

func (v *validator) currency(c string) {
	if c == "" {
		return
	}
	if len(c) != 3 || !upper(c) {
		v.fail(ReasonInvalidField, "currency", fmt.Sprintf("%q is not an ISO 4217 code", c))
	}
}

// badUTF8 says where s is not valid UTF-8, or returns "" when it is. It
// names the offset, not the value, which may be personal data.
func badUTF8(s string) string {
	if utf8fast.ValidString(s) {
		return ""
	}
	for i, r := range s {
		if _, n := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && n == 1 {
			return fmt.Sprintf("not valid UTF-8 (byte %d of %d)", i, len(s))
		}
	}
	return "not valid UTF-8"
}

func upper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
