// Package enrich turns a raw Kafka record into what touchline stores and
// routes: it decodes the Avro record, validates and normalises it, classifies
// its channel, hashes its identifiers, resolves its person from the local
// identity map and says which link request it makes, or why it is rejected.
// The ingest service and the segments router both run it, so that they agree
// on every record without one service importing the other.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/channel"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/scrub"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Dead-letter reasons for records that never reach validation.
const (
	ReasonNotWireFormat     touchpoint.Reason = "not_wire_format"
	ReasonUnknownSchema     touchpoint.Reason = "unknown_schema"
	ReasonCorrupt           touchpoint.Reason = "corrupt"
	ReasonInvalidIdentifier touchpoint.Reason = "invalid_identifier"
)

// Rejection is why a record goes to the dead-letter topic.
type Rejection struct {
	Reason touchpoint.Reason
	Err    error
}

// Processor turns Kafka records into ClickHouse rows. It holds no mutable
// state besides the codec cache and is safe for concurrent use.
type Processor struct {
	codecs     *avro.Codecs
	channels   *channel.Rules
	normalizer *identifiers.Normalizer
	identity   *stitch.Rules
	persons    PersonLookup
	scrubber   *scrub.Scrubber
	limits     touchpoint.Limits

	// suppression drops the events of erased persons (suppress.go).
	suppression *suppression
}

// PersonLookup resolves identifiers to persons from a local copy of the
// identity map (identitymap.Map). It must be safe for concurrent use.
type PersonLookup interface {
	// Persons sets persons[i] to the person of ids[i], "" when unknown;
	// persons is at least as long as ids.
	Persons(ids []identifiers.Identifier, persons []string) error
}

// WithPersons makes the processor resolve persons through persons (the
// local identity map): an event gets the person of its highest-priority
// known identifier, and sends a link request only when some identifier is
// unknown or its identifiers belong to different persons. Without it every
// event gets the singleton id of its best identifier and sends a request.
func (p *Processor) WithPersons(persons PersonLookup) *Processor {
	p.persons = persons
	return p
}

// WithScrubber makes the processor scrub free-text fields with s instead of
// scrub.Default().
func (p *Processor) WithScrubber(s *scrub.Scrubber) *Processor {
	p.scrubber = s
	return p
}

// NewProcessor returns a Processor that decodes with codecs, derives channels
// with rules, normalises identifiers with norm, names persons by the
// identity rules ids, validates against limits and scrubs free text with
// scrub.Default().
func NewProcessor(codecs *avro.Codecs, rules *channel.Rules, norm *identifiers.Normalizer, ids *stitch.Rules, limits touchpoint.Limits) *Processor {
	return &Processor{codecs: codecs, channels: rules, normalizer: norm, identity: ids, limits: limits,
		scrubber: scrub.Default()}
}

// decode decodes a wire-format record. A non-nil Rejection means the record is
// bad; a non-nil error means the registry could not be asked and the record
// must be retried.
func (p *Processor) decode(ctx context.Context, r *kgo.Record) (map[string]any, *Rejection, error) {
	_, native, err := p.codecs.Decode(ctx, r.Value)
	if err != nil {
		rej, err := decodeFailure(err)
		return nil, rej, err
	}
	return native, nil, nil
}

// decodeFailure says why a record that does not decode is rejected, or
// returns err when it is no fault of the record's (the registry could not
// be asked).
func decodeFailure(err error) (*Rejection, error) {
	var ve *touchpoint.ValidationError
	switch {
	case errors.Is(err, avro.ErrNotWireFormat):
		return &Rejection{ReasonNotWireFormat, err}, nil
	case errors.Is(err, avro.ErrUnknownSchema):
		return &Rejection{ReasonUnknownSchema, err}, nil
	case errors.Is(err, avro.ErrCorrupt):
		return &Rejection{ReasonCorrupt, err}, nil
	case errors.As(err, &ve):
		return reject(err), nil
	default:
		return nil, err
	}
}

func reject(err error) *Rejection {
	var ve *touchpoint.ValidationError
	if errors.As(err, &ve) {
		return &Rejection{ve.Reason, err}
	}
	return &Rejection{touchpoint.ReasonInvalidField, err}
}

// Touchpoint is a touchpoint ready for ClickHouse, and the link request its
// identifiers make for the identity resolver (nil when all are blocked).
type Touchpoint struct {
	Row  clickhouse.TouchpointRow
	Link *stitch.LinkRequest
}

// Touchpoint converts a record of the touchpoints topic into dst, which a
// caller converting many keeps in memory of its own (a slice of them), and
// reports whether it did, as TouchpointRow does. A record written with the
// shipped Touchpoint schema is decoded by avro's fast path, straight into
// a touchpoint.Touchpoint.
func (p *Processor) Touchpoint(ctx context.Context, r *kgo.Record, dst *Touchpoint) (bool, *Rejection, error) {
	t, err := p.codecs.DecodeTouchpoint(ctx, r.Value)
	if err != nil {
		rej, err := decodeFailure(err)
		return false, rej, err
	}
	ok, rej := p.touchpointRow(t, dst)
	if ok {
		dst.Row.SourcePartition, dst.Row.SourceOffset = r.Partition, r.Offset
	}
	return ok, rej, nil
}

// Check validates t at the time now and normalises its identifiers as
// TouchpointRow does and returns the same rejection, or nil, without
// building the row: for the collector, which refuses what ingest would
// dead-letter and leaves the row to ingest.
func (p *Processor) Check(t *touchpoint.Touchpoint, now time.Time) *Rejection {
	_, rej, _ := p.check(t, now, false)
	return rej
}

// check is the validation of TouchpointRow at the time now: true and, when
// keep is set, t's normalised identifiers, or false and t's rejection (nil
// for an erased person's invalid event, which is dropped instead).
func (p *Processor) check(t *touchpoint.Touchpoint, now time.Time, keep bool) ([]identifiers.Identifier, *Rejection, bool) {
	if err := t.Validate(p.limits, now); err != nil {
		return nil, p.unlessSuppressed(t, reject(err)), false
	}
	var ids []identifiers.Identifier
	var err error
	if keep {
		ids, err = p.normalizer.Normalize(t.Identifiers)
	} else {
		err = p.normalizer.Check(t.Identifiers)
	}
	if err != nil {
		return nil, p.unlessSuppressed(t, &Rejection{ReasonInvalidIdentifier, err}), false
	}
	return ids, nil, true
}

// TouchpointRow validates and normalises t into a row and its link request,
// or says why it is rejected. The row's source partition and offset are left
// zero. The channel is derived from t as sent; the free-text fields
// (page_url, referrer, utm_content, utm_term and property values) are stored
// scrubbed of personal data.
func (p *Processor) TouchpointRow(t *touchpoint.Touchpoint) (*Touchpoint, *Rejection) {
	tp := new(Touchpoint)
	if ok, rej := p.touchpointRow(t, tp); !ok {
		return nil, rej
	}
	return tp, nil
}

// touchpointRow is TouchpointRow into tp: true, or false and the
// rejection (none for an erased person's event).
func (p *Processor) touchpointRow(t *touchpoint.Touchpoint, tp *Touchpoint) (bool, *Rejection) {
	now := time.Now() // one reading for the validation and ingested_at
	ids, rej, ok := p.check(t, now, true)
	if !ok {
		return false, rej
	}
	if p.suppressed(ids) {
		return false, nil
	}
	utm := Campaign(t)
	source, medium := utm.Implied()
	*tp = Touchpoint{Row: clickhouse.TouchpointRow{
		EventID:     t.EventID,
		EventTime:   t.EventTime.Truncate(time.Second),
		EventMillis: uint16(t.EventTime.Nanosecond() / int(time.Millisecond)),
		EventType:   t.EventType,
		Channel: p.channels.Classify(channel.Input{
			Channel: t.Channel, UTMSource: source, UTMMedium: medium,
			UTMCampaign: utm.UTMCampaign, Referrer: t.Referrer, EventType: t.EventType,
		}),
		Campaign:    firstNonEmpty(t.Campaign, utm.UTMCampaign),
		UTMSource:   utm.UTMSource,
		UTMMedium:   utm.UTMMedium,
		UTMCampaign: utm.UTMCampaign,
		UTMContent:  p.scrubber.Text(utm.UTMContent),
		UTMTerm:     p.scrubber.Text(utm.UTMTerm),
		Referrer:    p.scrubber.Text(t.Referrer),
		PageURL:     p.scrubber.Text(t.PageURL),
		Currency:    t.Currency,
		OrderID:     t.OrderID,
		IngestedAt:  now.UTC().Truncate(time.Second),
	}}
	row := &tp.Row
	arrays := make([]string, 2*(len(ids)+len(t.Properties))) // the row's four arrays, in one allocation
	row.IdentifierTypes, row.IdentifierValues, arrays = pair(arrays, len(ids))
	row.PropertyKeys, row.PropertyValues, _ = pair(arrays, len(t.Properties))
	for i, id := range ids {
		row.IdentifierTypes[i], row.IdentifierValues[i] = id.Type, id.Value
	}
	if t.Revenue != nil {
		row.Revenue = int64(*t.Revenue)
	}
	for i, e := range t.Properties { // in the order of their keys
		row.PropertyKeys[i], row.PropertyValues[i] = e.Key, p.scrubber.Property(e.Key, e.Value)
	}
	if c := t.Context; c != nil {
		row.DeviceType, row.OS, row.Country = c.DeviceType, c.OS, c.Country
	}
	if linkable := linkableIdentifiers(ids); len(linkable) > 0 {
		linked := false
		if p.persons != nil {
			tp.Row.PersonID, linked = p.resolve(linkable)
		}
		if !linked {
			tp.Link = &stitch.LinkRequest{ID: t.EventID, Identifiers: linkable, At: t.EventTime}
		}
	}
	if tp.Row.PersonID == "" { // unknown to the map: the best identifier names the person
		tp.Row.PersonID = p.identity.PersonID(ids)
	}
	return true, nil
}

// pair returns two slices of n strings each from the start of room, or
// nils for n == 0, and the rest of room.
func pair(room []string, n int) (a, b, rest []string) {
	if n == 0 {
		return nil, nil, room
	}
	return room[:n:n], room[n : 2*n : 2*n], room[2*n:]
}

// resolve looks an event's identifiers up in the local identity map, in one
// call: the person of the highest-priority known one, and whether all are
// known and of that person (nothing to link). When the lookup fails, all
// count as unknown.
func (p *Processor) resolve(ids []identifiers.Identifier) (person string, linked bool) {
	found := make([]string, len(ids))
	if err := p.persons.Persons(ids, found); err != nil {
		return "", false
	}
	linked = true
	bestRank := -1
	for i, id := range ids {
		if found[i] == "" || found[i] != found[0] {
			linked = false
		}
		if found[i] == "" {
			continue
		}
		if r := p.identity.Rank(id.Type); bestRank < 0 || r < bestRank {
			person, bestRank = found[i], r
		}
	}
	return person, linked
}

// linkableIdentifiers returns the identifiers that are not blocked, the
// ones an event's link request carries: ids itself when none is blocked.
// With one identifier the request links nothing but tells the resolver
// when the identifier was first seen.
func linkableIdentifiers(ids []identifiers.Identifier) []identifiers.Identifier {
	for i, id := range ids {
		if id.Blocked {
			linkable := append([]identifiers.Identifier(nil), ids[:i]...)
			for _, id := range ids[i+1:] {
				if !id.Blocked {
					linkable = append(linkable, id)
				}
			}
			return linkable
		}
	}
	return ids
}

// Spend converts a record of the spend topic to a row. The row's version grows
// with the record's timestamp and offset, so the newest restatement wins and a
// replay of older records never brings an old value back.
func (p *Processor) Spend(ctx context.Context, r *kgo.Record) (*clickhouse.SpendRow, *Rejection, error) {
	native, rej, err := p.decode(ctx, r)
	if rej != nil || err != nil {
		return nil, rej, err
	}
	s, err := touchpoint.SpendFromAvro(native)
	if err != nil {
		return nil, reject(err), nil
	}
	row, rej := p.SpendRow(s)
	if row != nil {
		row.Version = SpendVersion(r)
	}
	return row, rej, nil
}

// SpendRow validates s into a row, or says why it is rejected. The row's
// Version is left zero.
func (p *Processor) SpendRow(s *touchpoint.Spend) (*clickhouse.SpendRow, *Rejection) {
	if err := s.Validate(p.limits, time.Now()); err != nil {
		return nil, reject(err)
	}
	ch, ok := p.channels.Lookup(s.Channel)
	if !ok {
		return nil, &Rejection{touchpoint.ReasonInvalidField, fmt.Errorf("channel: %q is not a channel of pipelines/channels.yaml", s.Channel)}
	}
	return &clickhouse.SpendRow{
		Date:        s.Date.Time,
		Channel:     ch,
		Campaign:    s.Campaign,
		Source:      s.Source,
		Cost:        int64(s.Cost),
		Currency:    s.Currency,
		Impressions: s.Impressions,
		Clicks:      s.Clicks,
		IngestedAt:  time.Now().UTC().Truncate(time.Second),
	}, nil
}

// SpendVersion orders restatements: the record timestamp in milliseconds in
// the high bits and the low 20 bits of the offset below, so two restatements
// in the same millisecond keep their log order.
func SpendVersion(r *kgo.Record) uint64 {
	return uint64(r.Timestamp.UnixMilli())<<20 | uint64(r.Offset)&(1<<20-1)
}

// Campaign returns the UTM parameters of t: those it carries, or, when it
// carries none, those of the query of its page_url, with the ad click ids
// found there (gclid, ...), so that a landing page's tags count even when
// the producer did not copy them out of the URL.
func Campaign(t *touchpoint.Touchpoint) channel.Campaign {
	c := channel.Campaign{UTMSource: t.UTMSource, UTMMedium: t.UTMMedium, UTMCampaign: t.UTMCampaign,
		UTMContent: t.UTMContent, UTMTerm: t.UTMTerm}
	if c.Tagged() || t.PageURL == "" {
		return c
	}
	return channel.FromURL(t.PageURL)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
