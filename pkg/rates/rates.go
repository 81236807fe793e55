// Package rates holds touchline's exchange rates: the ExchangeRate record
// (one day's rate between two currencies, restatable like spend), its Avro
// form, and the readers of the common CSV shapes of published rates (the
// European Central Bank's reference rates, one column per currency, and a
// long form with one rate per line).
package rates

import (
	"fmt"
	"math/big"
	"time"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Scale is how many decimal places a rate may have: the scale of the Avro
// decimal of exchange_rate.v1.avsc.
const Scale = 9

// MaxRate bounds a rate: no currency pair is quoted at more than a billion
// units of quote per unit of base.
var MaxRate = big.NewRat(1_000_000_000, 1)

// ExchangeRate is the rate of one UTC day between two currencies: one unit of
// Base buys Rate units of Quote. A later ExchangeRate with the same Key
// restates the earlier one.
type ExchangeRate struct {
	Date   touchpoint.Day
	Base   string
	Quote  string
	Rate   *big.Rat
	Source string
}

// Key returns the restatement key of r, date|base|quote: records with equal
// keys replace each other. It is also the Kafka record key, so that the
// restatements of a key land in one partition, in order.
func (r *ExchangeRate) Key() string { return r.Date.String() + "|" + r.Base + "|" + r.Quote }

// Float returns the rate as the Float64 the exchange_rates table stores.
func (r *ExchangeRate) Float() float64 {
	f, _ := r.Rate.Float64()
	return f
}

// Validate checks r against l at the time now and returns a
// *touchpoint.ValidationError for the first problem found: a day outside
// the limits, a currency that is not three capital letters, a pair of one
// currency with itself, a rate that is not positive, has more than Scale
// decimal places or is above MaxRate, or a missing source.
func (r *ExchangeRate) Validate(l touchpoint.Limits, now time.Time) error {
	fail := func(reason touchpoint.Reason, field, msg string) error {
		return &touchpoint.ValidationError{Reason: reason, Field: field, Msg: msg}
	}
	switch {
	case r.Date.IsZero():
		return fail(touchpoint.ReasonMissingField, "date", "is required")
	case r.Date.Before(l.MinTime):
		return fail(touchpoint.ReasonInvalidTime, "date", fmt.Sprintf("%s is before %s", r.Date, l.MinTime.Format(time.DateOnly)))
	case r.Date.After(now.Add(l.MaxFuture)):
		return fail(touchpoint.ReasonInvalidTime, "date", fmt.Sprintf("%s is more than %s in the future", r.Date, l.MaxFuture))
	}
	for _, c := range []struct{ field, code string }{{"base", r.Base}, {"quote", r.Quote}} {
		if !IsCurrency(c.code) {
			return fail(touchpoint.ReasonInvalidField, c.field, fmt.Sprintf("%q is not an ISO 4217 code", c.code))
		}
	}
	switch {
	case r.Base == r.Quote:
		return fail(touchpoint.ReasonInvalidField, "quote", fmt.Sprintf("is the base currency %s", r.Base))
	case r.Rate == nil:
		return fail(touchpoint.ReasonMissingField, "rate", "is required")
	case r.Rate.Sign() <= 0:
		return fail(touchpoint.ReasonInvalidField, "rate", fmt.Sprintf("%s is not positive", r.Rate.FloatString(Scale)))
	case r.Rate.Cmp(MaxRate) > 0:
		return fail(touchpoint.ReasonInvalidField, "rate", fmt.Sprintf("%s is above %s", r.Rate.FloatString(Scale), MaxRate.FloatString(0)))
	case !scaled(r.Rate):
		return fail(touchpoint.ReasonInvalidField, "rate", fmt.Sprintf("has more than %d decimal places", Scale))
	case r.Source == "":
		return fail(touchpoint.ReasonMissingField, "source", "is required")
	case len(r.Source) > l.MaxFieldBytes:
		return fail(touchpoint.ReasonOversizeField, "source", fmt.Sprintf("has %d bytes, the limit is %d", len(r.Source), l.MaxFieldBytes))
	}
	return nil
}

// IsCurrency reports whether c has the form of an ISO 4217 code: three
// capital letters.
func IsCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// scaled reports whether r has at most Scale decimal places.
func scaled(r *big.Rat) bool {
	return new(big.Rat).Mul(r, big.NewRat(1_000_000_000, 1)).IsInt()
}

// ToAvro returns r in the native form of the ExchangeRate Avro schema.
func (r *ExchangeRate) ToAvro() map[string]any {
	return map[string]any{
		"date":   r.Date.Time,
		"base":   r.Base,
		"quote":  r.Quote,
		"rate":   r.Rate,
		"source": r.Source,
	}
}

// FromAvro converts a decoded Avro record of any ExchangeRate schema version
// to an ExchangeRate. A missing or mistyped field is a
// *touchpoint.ValidationError.
func FromAvro(m map[string]any) (*ExchangeRate, error) {
	var r ExchangeRate
	t, ok := m["date"].(time.Time)
	if !ok {
		return nil, &touchpoint.ValidationError{Reason: touchpoint.ReasonMissingField, Field: "date", Msg: "is required"}
	}
	r.Date = touchpoint.DayOf(t)
	for _, f := range []struct {
		name string
		to   *string
	}{{"base", &r.Base}, {"quote", &r.Quote}, {"source", &r.Source}} {
		s, ok := m[f.name].(string)
		if !ok {
			return nil, &touchpoint.ValidationError{Reason: touchpoint.ReasonMissingField, Field: f.name, Msg: "is required"}
		}
		*f.to = s
	}
	if r.Rate, ok = m["rate"].(*big.Rat); !ok {
		return nil, &touchpoint.ValidationError{Reason: touchpoint.ReasonMissingField, Field: "rate", Msg: "is required"}
	}
	return &r, nil
}
