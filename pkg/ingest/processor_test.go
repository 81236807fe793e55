package ingest

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
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

func newProcessor(t testing.TB) (*Processor, *avro.Codecs) {
	t.Helper()
	rules, err := channel.Load("../../pipelines/channels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := identity.DefaultRules()
	norm, err := ids.Normalizer("")
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := avro.NewStaticRegistry(nil)
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
		Identifiers: map[string]string{"anonymous_id": "a1", "email": " Jane@Example.com", "customer_id": "c9"},
		Revenue:     &rev, Currency: "USD", Properties: map[string]string{"b": "2", "a": "1"},
	}
	b, err := codecs.Encode(ctx, 1, tp.ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	out, rej, err := p.Touchpoint(ctx, &kgo.Record{Topic: "t", Partition: 3, Offset: 77, Value: b})
	if err != nil || rej != nil {
		t.Fatalf("%v %v", err, rej)
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

func TestSpendVersionOrdersRestatements(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	older := SpendVersion(&kgo.Record{Timestamp: t0, Offset: (1 << 20) - 1})
	sameMsLater := SpendVersion(&kgo.Record{Timestamp: t0, Offset: 1 << 20})
	nextMs := SpendVersion(&kgo.Record{Timestamp: t0.Add(time.Millisecond), Offset: 0})
	if !(nextMs > older) {
		t.Fatalf("a later timestamp must win: %d <= %d", nextMs, older)
	}
	if sameMsLater >= nextMs {
		t.Fatalf("the timestamp dominates the offset: %d >= %d", sameMsLater, nextMs)
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
		return &touchpoint.Touchpoint{EventID: "e", EventType: "click", EventTime: at, Identifiers: ids}
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
		{"none known: the singleton id, and a link", map[string]string{"anonymous_id": "zzz"}, identity.SingletonID(identifiers.Identifier{Type: "anonymous_id", Value: "zzz"}), true},
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
		EventTime: time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond), Identifiers: ids})
	if rej != nil {
		t.Fatalf("rejected: %v", rej.Err)
	}
	want := identity.SingletonID(identifiers.Identifier{Type: "customer_id", Value: "c"})
	if out.Row.PersonID != want || out.Link == nil || len(out.Link.Identifiers) != 2 {
		t.Errorf("person %s, link %+v; want %s and a link of both identifiers", out.Row.PersonID, out.Link, want)
	}
}
