package avro

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

func sample() *touchpoint.Touchpoint {
	rev := touchpoint.Money(42_500_000)
	return &touchpoint.Touchpoint{
		EventID: "e-1", EventTime: time.Date(2026, 11, 2, 10, 11, 12, 345_000_000, time.UTC), EventType: "purchase",
		UTMSource: "google", UTMMedium: "cpc", UTMCampaign: "brand",
		Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": "a-1", "email": "jane@example.com"}),
		Revenue:     &rev, Currency: "EUR", OrderID: "o-1",
		Properties: touchpoint.AttrsOf(map[string]string{"sku": "x"}),
		Context:    &touchpoint.Context{DeviceType: "mobile", Country: "DE"},
	}
}

func TestRoundTripShippedSchemas(t *testing.T) {
	reg, err := NewStaticRegistry()
	if err != nil {
		t.Fatal(err)
	}
	c := NewCodecs(reg)
	ctx := context.Background()
	tp := sample()
	b, err := c.Encode(ctx, Latest(KindTouchpoint).ID, tp.ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || b[4] != byte(Latest(KindTouchpoint).ID) {
		t.Fatalf("header % x", b[:5])
	}
	_, native, err := c.Decode(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	back, err := touchpoint.TouchpointFromAvro(native)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, tp) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, tp)
	}

	imp := int64(1000)
	sp := &touchpoint.Spend{Date: touchpoint.DayOf(tp.EventTime), Channel: "paid_search", Campaign: "brand",
		Cost: 12_340_000, Currency: "USD", Impressions: &imp, Source: "google_ads"}
	b, err = c.Encode(ctx, Latest(KindSpend).ID, sp.ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	_, native, err = c.Decode(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	spBack, err := touchpoint.SpendFromAvro(native)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(spBack, sp) {
		t.Fatalf("spend round trip:\n got %+v\nwant %+v", spBack, sp)
	}
}

func TestDecodeErrors(t *testing.T) {
	reg, _ := NewStaticRegistry()
	c := NewCodecs(reg)
	ctx := context.Background()
	good, _ := c.Encode(ctx, 1, sample().ToAvro())
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotWireFormat},
		{"json", []byte(`{"a":1}`), ErrNotWireFormat},
		{"unknown id", append([]byte{0, 0, 0, 0, 99}, good[5:]...), ErrUnknownSchema},
		{"truncated", good[:len(good)-3], ErrCorrupt},
		{"trailing bytes", append(append([]byte{}, good...), 1, 2), ErrCorrupt},
	} {
		if _, _, err := c.Decode(ctx, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestSchemaEvolution writes with a version 2 that adds an optional field:
// touchline decodes it with the writer's schema and reads the fields it
// knows, and the compatibility rule accepts it; a version adding a required
// field is refused.
func TestSchemaEvolution(t *testing.T) {
	v1, _ := Latest(KindTouchpoint).Text()
	v2, err := os.ReadFile("testdata/touchpoint.v2.avsc")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkBackwardCompatible(v1, string(v2)); err != nil {
		t.Fatalf("v2 adding an optional field: %v", err)
	}
	bad, _ := os.ReadFile("testdata/touchpoint.v2-required.avsc")
	if err := checkBackwardCompatible(v1, string(bad)); err == nil {
		t.Fatal("a required field without default was accepted")
	}

	c := NewCodecs(staticRegistry(t, map[int]string{100: string(v2)}))
	ctx := context.Background()
	native := sample().ToAvro()
	native["consent"] = map[string]any{"string": "granted"}
	b, err := c.Encode(ctx, 100, native)
	if err != nil {
		t.Fatal(err)
	}
	_, decoded, err := c.Decode(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := touchpoint.TouchpointFromAvro(decoded)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tp, sample()) {
		t.Fatalf("v2 record read as:\n%+v\nwant\n%+v", tp, sample())
	}
}

// TestShippedSchemasEvolveCompatibly checks every shipped version against the
// previous version of its kind.
func TestShippedSchemasEvolveCompatibly(t *testing.T) {
	prev := map[Kind]Shipped{}
	for _, s := range ShippedSchemas {
		if p, ok := prev[s.Kind]; ok {
			a, _ := p.Text()
			b, _ := s.Text()
			if err := checkBackwardCompatible(a, b); err != nil {
				t.Errorf("%s v%d after v%d: %v", s.Kind, s.Version, p.Version, err)
			}
		}
		prev[s.Kind] = s
	}
}
