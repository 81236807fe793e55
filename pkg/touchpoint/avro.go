package touchpoint

import (
	"fmt"
	"math/big"
	"time"
)

// Avro union branch names, as github.com/linkedin/goavro/v2 names them.
const (
	avroString  = "string"
	avroLong    = "long"
	avroDecimal = "bytes.decimal"
	avroContext = "io.touchline.Context"
)

// ToAvro returns t in the native form of the Touchpoint Avro schema, as
// github.com/linkedin/goavro/v2 encodes it.
func (t *Touchpoint) ToAvro() map[string]any {
	m := map[string]any{
		"event_id":     t.EventID,
		"event_time":   t.EventTime.UTC(),
		"event_type":   t.EventType,
		"channel":      optString(t.Channel),
		"campaign":     optString(t.Campaign),
		"utm_source":   optString(t.UTMSource),
		"utm_medium":   optString(t.UTMMedium),
		"utm_campaign": optString(t.UTMCampaign),
		"utm_content":  optString(t.UTMContent),
		"utm_term":     optString(t.UTMTerm),
		"referrer":     optString(t.Referrer),
		"page_url":     optString(t.PageURL),
		"identifiers":  stringMap(t.Identifiers),
		"revenue":      nil,
		"currency":     optString(t.Currency),
		"order_id":     optString(t.OrderID),
		"properties":   stringMap(t.Properties),
		"context":      nil,
	}
	if t.Revenue != nil {
		m["revenue"] = map[string]any{avroDecimal: t.Revenue.Rat()}
	}
	if t.Context != nil {
		m["context"] = map[string]any{avroContext: map[string]any{
			"device_type": optString(t.Context.DeviceType),
			"os":          optString(t.Context.OS),
			"country":     optString(t.Context.Country),
		}}
	}
	return m
}

// TouchpointFromAvro converts a decoded Avro record to a Touchpoint. The record
// may come from any schema version: fields it lacks are absent, fields it adds
// are ignored. A missing required field is a *ValidationError.
func TouchpointFromAvro(m map[string]any) (*Touchpoint, error) {
	var t Touchpoint
	d := decoder{m: m}
	t.EventID = d.required("event_id")
	t.EventTime = d.time("event_time")
	t.EventType = d.required("event_type")
	t.Channel = d.optional("channel")
	t.Campaign = d.optional("campaign")
	t.UTMSource = d.optional("utm_source")
	t.UTMMedium = d.optional("utm_medium")
	t.UTMCampaign = d.optional("utm_campaign")
	t.UTMContent = d.optional("utm_content")
	t.UTMTerm = d.optional("utm_term")
	t.Referrer = d.optional("referrer")
	t.PageURL = d.optional("page_url")
	t.Identifiers = d.stringMap("identifiers")
	t.Revenue = d.money("revenue")
	t.Currency = d.optional("currency")
	t.OrderID = d.optional("order_id")
	t.Properties = d.stringMap("properties")
	if c, ok := unwrap(m["context"]).(map[string]any); ok {
		cd := decoder{m: c}
		t.Context = &Context{DeviceType: cd.optional("device_type"), OS: cd.optional("os"), Country: cd.optional("country")}
		if cd.err != nil {
			return nil, cd.err
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return &t, nil
}

// ToAvro returns s in the native form of the Spend Avro schema.
func (s *Spend) ToAvro() map[string]any {
	m := map[string]any{
		"date":        s.Date.Time,
		"channel":     s.Channel,
		"campaign":    optString(s.Campaign),
		"cost":        s.Cost.Rat(),
		"currency":    s.Currency,
		"impressions": nil,
		"clicks":      nil,
		"source":      s.Source,
	}
	if s.Impressions != nil {
		m["impressions"] = map[string]any{avroLong: *s.Impressions}
	}
	if s.Clicks != nil {
		m["clicks"] = map[string]any{avroLong: *s.Clicks}
	}
	return m
}

// SpendFromAvro converts a decoded Avro record of any Spend schema version to a
// Spend. A missing required field is a *ValidationError.
func SpendFromAvro(m map[string]any) (*Spend, error) {
	var s Spend
	d := decoder{m: m}
	s.Date = DayOf(d.time("date"))
	s.Channel = d.required("channel")
	s.Campaign = d.optional("campaign")
	if c := d.money("cost"); c != nil {
		s.Cost = *c
	} else if d.err == nil {
		d.fail(ReasonMissingField, "cost", "is required")
	}
	s.Currency = d.required("currency")
	s.Impressions = d.long("impressions")
	s.Clicks = d.long("clicks")
	s.Source = d.required("source")
	if d.err != nil {
		return nil, d.err
	}
	return &s, nil
}

func optString(s string) any {
	if s == "" {
		return nil
	}
	return map[string]any{avroString: s}
}

func stringMap(in Attrs) map[string]any {
	out := make(map[string]any, len(in))
	for _, e := range in {
		out[e.Key] = e.Value
	}
	return out
}

// unwrap returns the value of a goavro union ({"branch": value}) or v itself.
func unwrap(v any) any {
	if u, ok := v.(map[string]any); ok && len(u) == 1 {
		for k, inner := range u {
			switch k {
			case avroString, avroLong, avroDecimal, avroContext, "bytes", "int":
				return inner
			}
		}
	}
	return v
}

// decoder reads fields of a native Avro record, keeping the first error.
type decoder struct {
	m   map[string]any
	err error
}

func (d *decoder) fail(reason Reason, field, msg string) {
	if d.err == nil {
		d.err = &ValidationError{Reason: reason, Field: field, Msg: msg}
	}
}

func (d *decoder) optional(field string) string {
	switch v := unwrap(d.m[field]).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		d.fail(ReasonInvalidField, field, fmt.Sprintf("has type %T, want string", v))
		return ""
	}
}

func (d *decoder) required(field string) string {
	s := d.optional(field)
	if s == "" {
		d.fail(ReasonMissingField, field, "is required")
	}
	return s
}

func (d *decoder) time(field string) time.Time {
	switch v := unwrap(d.m[field]).(type) {
	case time.Time:
		return v.UTC()
	case nil:
		d.fail(ReasonMissingField, field, "is required")
	default:
		d.fail(ReasonInvalidField, field, fmt.Sprintf("has type %T, want a timestamp", v))
	}
	return time.Time{}
}

func (d *decoder) stringMap(field string) Attrs {
	raw, ok := unwrap(d.m[field]).(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			d.fail(ReasonInvalidField, field, fmt.Sprintf("value of %q has type %T, want string", k, v))
			continue
		}
		out[k] = s
	}
	return AttrsOf(out)
}

func (d *decoder) money(field string) *Money {
	switch v := unwrap(d.m[field]).(type) {
	case nil:
		return nil
	case *big.Rat:
		m, err := MoneyFromRat(v)
		if err != nil {
			d.fail(ReasonInvalidField, field, err.Error())
			return nil
		}
		return &m
	default:
		d.fail(ReasonInvalidField, field, fmt.Sprintf("has type %T, want a decimal", v))
		return nil
	}
}

func (d *decoder) long(field string) *int64 {
	switch v := unwrap(d.m[field]).(type) {
	case nil:
		return nil
	case int64:
		return &v
	case int32:
		x := int64(v)
		return &x
	default:
		d.fail(ReasonInvalidField, field, fmt.Sprintf("has type %T, want a long", v))
		return nil
	}
}
