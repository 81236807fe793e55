package enrich

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
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

func newProcessor(t testing.TB) (*Processor, *avro.Codecs) {
	t.Helper()
	rules, err := channel.Load("../../pipelines/channels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := stitch.DefaultRules()
	norm, err := ids.Normalizer("")
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := avro.NewStaticRegistry()
	codecs := avro.NewCodecs(reg)
	return NewProcessor(codecs, rules, norm, ids, touchpoint.DefaultLimits()), codecs
}

func hexSHA(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestProcessorTouchpointRow(t *testing.T) {
	p, codecs := newProcessor(t)
	ctx := context.Background()
	rev := touchpoint.Money(19_990_000)
	at := time.Date(2026, 11, 3, 8, 30, 15, 250_000_000, time.UTC)
	tp := &touchpoint.Touchpoint{
		EventID: "e1", EventTime: at, EventType: "purchase",
		UTMSource: "google", UTMMedium: "cpc", UTMCampaign: "brand",
		Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": "a1", "email": " Jane@Example.com", "customer_id": "c9"}),
		Revenue:     &rev, Currency: "USD", Properties: touchpoint.AttrsOf(map[string]string{"b": "2", "a": "1"}),
	}
	b, err := codecs.Encode(ctx, 1, tp.ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	out := &Touchpoint{Row: clickhouse.TouchpointRow{PersonID: "left by an earlier record"}, Link: &stitch.LinkRequest{ID: "earlier"}}
	ok, rej, err := p.Touchpoint(ctx, &kgo.Record{Topic: "t", Partition: 3, Offset: 77, Value: b}, out)
	if !ok || err != nil || rej != nil {
		t.Fatalf("%v %v %v", ok, err, rej)
	}
	row := &out.Row
	if out.Link == nil || out.Link.ID != "e1" || len(out.Link.Identifiers) != 3 || !out.Link.At.Equal(at) {
		t.Errorf("link request %+v, want the event's three identifiers", out.Link)
	}
	sum := sha256.Sum256([]byte("customer_id:c9"))
	want := map[string]any{
		"channel":   "paid_search",
		"campaign":  "brand",
		"time":      time.Date(2026, 11, 3, 8, 30, 15, 0, time.UTC),
		"millis":    uint16(250),
		"revenue":   int64(19_990_000),
		"person":    "p_" + hex.EncodeToString(sum[:10]),
		"types":     "[anonymous_id customer_id email]",
		"values":    "[a1 c9 " + hexSHA("jane@example.com") + "]",
		"props":     "[a b][1 2]",
		"partition": int32(3),
		"offset":    int64(77),
	}
	got := map[string]any{
		"channel": row.Channel, "campaign": row.Campaign, "time": row.EventTime, "millis": row.EventMillis,
		"revenue": row.Revenue, "person": row.PersonID,
		"types": fmtSlice(row.IdentifierTypes), "values": fmtSlice(row.IdentifierValues),
		"props":     fmtSlice(row.PropertyKeys) + fmtSlice(row.PropertyValues),
		"partition": row.SourcePartition, "offset": row.SourceOffset,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
}

func fmtSlice(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

// TestSpendVersionOrdersRestatements: a later timestamp wins whatever the
// offsets; within one millisecond the later offset wins, unless the two
// straddle a multiple of 2^20 (docs/records.md).
func TestSpendVersionOrdersRestatements(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	older := SpendVersion(&kgo.Record{Timestamp: t0, Offset: (1 << 20) - 1})
	sameMsHighOffset := SpendVersion(&kgo.Record{Timestamp: t0, Offset: 1<<21 - 1})
	nextMs := SpendVersion(&kgo.Record{Timestamp: t0.Add(time.Millisecond), Offset: 0})
	if !(nextMs > older) {
		t.Fatalf("a later timestamp must win: %d <= %d", nextMs, older)
	}
	if sameMsHighOffset >= nextMs {
		t.Fatalf("the timestamp dominates the offset: %d >= %d", sameMsHighOffset, nextMs)
	}
	first := SpendVersion(&kgo.Record{Timestamp: t0, Offset: 41})
	second := SpendVersion(&kgo.Record{Timestamp: t0, Offset: 42})
	if !(second > first) {
		t.Fatalf("within a millisecond the later offset must win: %d <= %d", second, first)
	}
}

// fakeMap is a local identity map held in a Go map.
type fakeMap map[string]string

func (m fakeMap) Persons(ids []identifiers.Identifier, persons []string) error {
	for i, id := range ids {
		persons[i] = m[id.Type+":"+id.Value]
	}
	return nil
}

func TestProcessorResolvesPersonsThroughTheLocalMap(t *testing.T) {
	p, _ := newProcessor(t)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	event := func(ids map[string]string) *touchpoint.Touchpoint {
		return &touchpoint.Touchpoint{EventID: "e", EventType: "click", EventTime: at, Identifiers: touchpoint.AttrsOf(ids)}
	}
	p.WithPersons(fakeMap{"anonymous_id:a": "p_device", "customer_id:c": "p_customer", "device_id:d": "p_customer"})
	for _, tc := range []struct {
		name   string
		ids    map[string]string
		person string
		link   bool
	}{
		{"all known, one person: nothing to link", map[string]string{"customer_id": "c", "device_id": "d"}, "p_customer", false},
		{"known persons differ: the best identifier's person, and a link", map[string]string{"customer_id": "c", "anonymous_id": "a"}, "p_customer", true},
		{"one unknown: the known person, and a link", map[string]string{"anonymous_id": "a", "device_id": "new"}, "p_device", true},
		{"none known: the singleton id, and a link", map[string]string{"anonymous_id": "zzz"}, stitch.SingletonID(identifiers.Identifier{Type: "anonymous_id", Value: "zzz"}), true},
		{"blocked values are ignored", map[string]string{"customer_id": "c", "anonymous_id": "unknown"}, "p_customer", false},
	} {
		out, rej := p.TouchpointRow(event(tc.ids))
		if rej != nil {
			t.Fatalf("%s: rejected: %v", tc.name, rej.Err)
		}
		if out.Row.PersonID != tc.person || (out.Link != nil) != tc.link {
			t.Errorf("%s: person %s, link %v; want %s, %v", tc.name, out.Row.PersonID, out.Link != nil, tc.person, tc.link)
		}
	}
}

// failingMap is a local identity map whose lookups fail.
type failingMap struct{}

func (failingMap) Persons([]identifiers.Identifier, []string) error { return errors.New("closed") }

func TestProcessorTreatsAFailedLookupAsUnknown(t *testing.T) {
	p, _ := newProcessor(t)
	p.WithPersons(failingMap{})
	ids := map[string]string{"customer_id": "c", "anonymous_id": "a"}
	out, rej := p.TouchpointRow(&touchpoint.Touchpoint{EventID: "e", EventType: "click",
		EventTime: time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond), Identifiers: touchpoint.AttrsOf(ids)})
	if rej != nil {
		t.Fatalf("rejected: %v", rej.Err)
	}
	want := stitch.SingletonID(identifiers.Identifier{Type: "customer_id", Value: "c"})
	if out.Row.PersonID != want || out.Link == nil || len(out.Link.Identifiers) != 2 {
		t.Errorf("person %s, link %+v; want %s and a link of both identifiers", out.Row.PersonID, out.Link, want)
	}
}

func TestProcessorDeadLettersHostileRecords(t *testing.T) {
	p, codecs := newProcessor(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	encode := func(id int, native map[string]any) []byte {
		b, err := codecs.Encode(ctx, id, native)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	touch := func(mutate func(*touchpoint.Touchpoint)) []byte {
		tp := &touchpoint.Touchpoint{EventID: "e", EventType: "purchase", EventTime: at, Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": "c"})}
		mutate(tp)
		return encode(1, tp.ToAvro())
	}
	spend := func(mutate func(*touchpoint.Spend)) []byte {
		s := &touchpoint.Spend{Date: touchpoint.DayOf(at), Channel: "paid_search", Cost: 1, Currency: "USD", Source: "google_ads"}
		mutate(s)
		return encode(2, s.ToAvro())
	}
	bomb, err := hex.DecodeString("00000000010c626f6d622d31f0adc3afc76812706167655f76696577000000000000000000feffffff0f")
	if err != nil {
		t.Fatal(err)
	}
	huge, err := touchpoint.ParseMoney("999999999999.999999")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		value  []byte
		spend  bool
		reason touchpoint.Reason
	}{
		{"a record that claims 2^31 map entries", bomb, false, ReasonCorrupt},
		{"the same bytes on the spend topic", append(avro.AppendHeader(nil, 2), bomb[5:]...), true, ReasonCorrupt},
		{"invalid UTF-8 in an identifier", touch(func(tp *touchpoint.Touchpoint) { tp.Identifiers.Set("customer_id", "cus\xff\xfe") }), false, touchpoint.ReasonInvalidField},
		{"invalid UTF-8 in page_url", touch(func(tp *touchpoint.Touchpoint) { tp.PageURL = "https://x.example/\xc3" }), false, touchpoint.ReasonInvalidField},
		{"invalid UTF-8 in a property", touch(func(tp *touchpoint.Touchpoint) { tp.Properties = touchpoint.AttrsOf(map[string]string{"k": "\xfe"}) }), false, touchpoint.ReasonInvalidField},
		{"revenue of 999,999,999,999.999999", touch(func(tp *touchpoint.Touchpoint) { tp.Revenue = &huge }), false, touchpoint.ReasonInvalidField},
		{"invalid UTF-8 in a spend campaign", spend(func(s *touchpoint.Spend) { s.Campaign = "br\xffand" }), true, touchpoint.ReasonInvalidField},
		{"spend above the bound", spend(func(s *touchpoint.Spend) { s.Cost = huge }), true, touchpoint.ReasonInvalidField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &kgo.Record{Value: tc.value, Timestamp: at}
			var rej *Rejection
			var err error
			if tc.spend {
				_, rej, err = p.Spend(ctx, r)
			} else {
				_, rej, err = p.Touchpoint(ctx, r, new(Touchpoint))
			}
			if err != nil || rej == nil || rej.Reason != tc.reason {
				t.Fatalf("got rejection %+v, error %v; want reason %s", rej, err, tc.reason)
			}
		})
	}
}

func TestProcessorScrubsFreeText(t *testing.T) {
	p, _ := newProcessor(t)
	tp := &touchpoint.Touchpoint{
		EventID: "e", EventType: "page_view", EventTime: time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond),
		Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": "a"}),
		PageURL:     "https://shop.example/welcome?email=jane.doe%40example.com&step=2",
		Referrer:    "https://www.google.com/search?q=jane.doe%40example.com",
		UTMTerm:     "call +44 20 7946 0018",
		UTMContent:  "banner",
		Properties:  touchpoint.AttrsOf(map[string]string{"email": "jane.doe@example.com", "note": "from jane.doe@example.com", "sku": "shoe-1"}),
	}
	out, rej := p.TouchpointRow(tp)
	if rej != nil {
		t.Fatalf("rejected: %v", rej.Err)
	}
	row := out.Row
	got := []string{row.PageURL, row.Referrer, row.UTMTerm, row.UTMContent, row.Channel, fmtSlice(row.PropertyKeys), fmtSlice(row.PropertyValues)}
	want := []string{"https://shop.example/welcome?email=(redacted)&step=2", "https://www.google.com/search?q=(redacted)",
		"call (redacted)", "banner", "organic_search", "[email note sku]", "[(redacted) from (redacted) shoe-1]"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %q, want %q", i, got[i], want[i])
		}
	}

	p.WithScrubber(mustScrubber(t, scrub.Config{}))
	out, rej = p.TouchpointRow(tp)
	if rej != nil || out.Row.PageURL != tp.PageURL || fmtSlice(out.Row.PropertyValues) != "[jane.doe@example.com from jane.doe@example.com shoe-1]" {
		t.Errorf("scrubbing off: %+v, %v", out.Row, rej)
	}
}

func mustScrubber(t *testing.T, cfg scrub.Config) *scrub.Scrubber {
	t.Helper()
	s, err := scrub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCheckRejectsAsTouchpointRowDoes: Check, the collector's validation,
// refuses each of these touchpoints with TouchpointRow's reason and error
// text, and passes the valid one, without building a row.
func TestCheckRejectsAsTouchpointRowDoes(t *testing.T) {
	p, _ := newProcessor(t)
	at := time.Now().Add(-time.Hour)
	neg := touchpoint.Money(-1)
	valid := func() *touchpoint.Touchpoint {
		return &touchpoint.Touchpoint{EventID: "e", EventType: "page_view", EventTime: at,
			Identifiers: touchpoint.AttrsOf(map[string]string{"email": "jane@example.com"})}
	}
	for _, c := range []struct {
		name   string
		edit   func(*touchpoint.Touchpoint)
		reason touchpoint.Reason
	}{
		{"valid", func(*touchpoint.Touchpoint) {}, ""},
		{"no event type", func(tp *touchpoint.Touchpoint) { tp.EventType = "" }, touchpoint.ReasonMissingField},
		{"no identifiers", func(tp *touchpoint.Touchpoint) { tp.Identifiers = nil }, touchpoint.ReasonMissingField},
		{"negative revenue", func(tp *touchpoint.Touchpoint) { tp.Revenue, tp.Currency = &neg, "EUR" }, touchpoint.ReasonNegativeRevenue},
		{"invalid email", func(tp *touchpoint.Touchpoint) { tp.Identifiers.Set("email", "not an email") }, ReasonInvalidIdentifier},
	} {
		tp := valid()
		c.edit(tp)
		rej := p.Check(tp, time.Now())
		_, rowRej := p.TouchpointRow(tp)
		switch {
		case c.reason == "" && (rej != nil || rowRej != nil):
			t.Errorf("%s: Check %v, TouchpointRow %v, want both nil", c.name, rej, rowRej)
		case c.reason != "" && (rej == nil || rowRej == nil):
			t.Errorf("%s: Check %v, TouchpointRow %v, want both %s", c.name, rej, rowRej, c.reason)
		case c.reason != "" && (rej.Reason != c.reason || rej.Reason != rowRej.Reason || rej.Err.Error() != rowRej.Err.Error()):
			t.Errorf("%s: Check %s (%v), TouchpointRow %s (%v), want %s from both", c.name, rej.Reason, rej.Err, rowRej.Reason, rowRej.Err, c.reason)
		}
	}
}

// TestCheckValidatesAtTheTimeGiven: an event time is checked against the
// time Check is given (the collector's is the request's arrival), not the
// clock: 23 hours ahead of it passes, 25 hours ahead is refused.
func TestCheckValidatesAtTheTimeGiven(t *testing.T) {
	p, _ := newProcessor(t)
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	tp := &touchpoint.Touchpoint{EventID: "e", EventType: "page_view", EventTime: at,
		Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": "a1"})}
	if rej := p.Check(tp, at.Add(-23*time.Hour)); rej != nil {
		t.Errorf("23 hours ahead: %v, want nil", rej.Err)
	}
	if rej := p.Check(tp, at.Add(-25*time.Hour)); rej == nil || rej.Reason != touchpoint.ReasonInvalidTime {
		t.Errorf("25 hours ahead: %v, want %s", rej, touchpoint.ReasonInvalidTime)
	}
}

// TestCheckDoesNotBuildIdentifiers: the collector's validation of a valid
// touchpoint normalises its identifiers only to refuse what ingest would,
// without building, hashing or sorting them, so it allocates nothing.
func TestCheckDoesNotBuildIdentifiers(t *testing.T) {
	p, _ := newProcessor(t)
	tp := &touchpoint.Touchpoint{EventID: "e", EventType: "page_view", EventTime: time.Now().Add(-time.Hour),
		Identifiers: touchpoint.AttrsOf(map[string]string{"email": "jane@example.com", "anonymous_id": "a1", "customer_id": "c-42"}),
		Properties:  touchpoint.AttrsOf(map[string]string{"path": "/", "title": "Shop"})}
	if allocs := testing.AllocsPerRun(100, func() {
		if rej := p.Check(tp, time.Now()); rej != nil {
			t.Fatal(rej)
		}
	}); allocs != 0 {
		t.Errorf("checking a valid touchpoint took %v allocations, want 0", allocs)
	}
}
