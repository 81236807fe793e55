package enrich

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// BenchmarkProcessorTouchpoint measures decoding, validating and normalising
// one generated touchpoint into a row.
func BenchmarkProcessorTouchpoint(b *testing.B) {
	p, codecs := newProcessor(b)
	ctx := context.Background()
	gen, err := generate.New(generate.Config{Events: 10_000, Persons: 500, Days: 30, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var records []*kgo.Record
	if err := gen.Touchpoints(func(t *touchpoint.Touchpoint) error {
		v, err := codecs.Encode(ctx, 1, t.ToAvro())
		records = append(records, &kgo.Record{Value: v})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	var tp Touchpoint
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, rej, err := p.Touchpoint(ctx, records[i%len(records)], &tp); err != nil || rej != nil {
			b.Fatal(err, rej)
		}
	}
}
