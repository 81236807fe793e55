package enrich

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/rates"
	"github.com/touchline-io/touchline/pkg/scrub"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// FuzzRecords hands the processor, as ingest builds it, arbitrary values of
// the touchpoints, spend and exchange-rate topics under each shipped
// schema. No record may panic it (the service would stop on it, and again
// after every restart), and every record is either converted or refused
// with a dead-letter reason; an error is for the registry alone, which
// the static one never gives. (No identifier is suppressed here, the one
// case where a record is dropped without a reason.)
func FuzzRecords(f *testing.F) {
	p, codecs := newProcessor(f)
	p = p.WithScrubber(scrub.Default())
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rev := touchpoint.Money(19_990_000)
	natives := []map[string]any{
		(&touchpoint.Touchpoint{EventID: "e", EventType: "purchase", EventTime: at, Revenue: &rev, Currency: "EUR",
			PageURL: "https://shop.example.com/?gclid=x&utm_source=google", Referrer: "https://www.google.com/",
			Identifiers: touchpoint.AttrsOf(map[string]string{"email": "Jane@Example.com", "phone": "+49 0030 901820", "anonymous_id": "a"}),
			Properties:  touchpoint.AttrsOf(map[string]string{"note": "call +44 20 7946 0018"})}).ToAvro(),
		(&touchpoint.Spend{Date: touchpoint.DayOf(at), Channel: "Paid Search", Campaign: "brand", Cost: 1_500_000, Currency: "USD", Source: "google_ads"}).ToAvro(),
		(&rates.ExchangeRate{Date: touchpoint.DayOf(at), Base: "EUR", Quote: "USD", Rate: big.NewRat(108, 100), Source: "ecb"}).ToAvro(),
	}
	kinds := []avro.Kind{avro.KindTouchpoint, avro.KindSpend, avro.KindRate}
	for i, native := range natives {
		b, err := codecs.Encode(ctx, avro.Latest(kinds[i]).ID, native)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
		f.Add(uint8(i), b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, topic uint8, value []byte) {
		r := &kgo.Record{Value: value, Timestamp: at, Offset: 7}
		var ok bool
		var rej *Rejection
		var err error
		switch topic % 3 {
		case 0:
			ok, rej, err = p.Touchpoint(ctx, r, new(Touchpoint))
		case 1:
			row, refused, failed := p.Spend(ctx, r)
			ok, rej, err = row != nil, refused, failed
		default:
			row, refused, failed := p.ExchangeRate(ctx, r)
			ok, rej, err = row != nil, refused, failed
		}
		if err != nil {
			t.Fatalf("an error, not a refusal: %v", err)
		}
		if ok == (rej != nil) {
			t.Fatalf("converted %v, refused %+v", ok, rej)
		}
	})
}
