package avro

import (
	"context"
	"testing"

	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// generated returns touchpoints of the generator's journeys and their
// wire-format encodings in the shipped schema.
func generated(b *testing.B, c *Codecs) ([]*touchpoint.Touchpoint, [][]byte) {
	gen, err := generate.New(generate.Config{Events: 10_000, Persons: 500, Days: 30, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var ts []*touchpoint.Touchpoint
	var msgs [][]byte
	err = gen.Touchpoints(func(t *touchpoint.Touchpoint) error {
		m, err := c.Encode(context.Background(), Latest(KindTouchpoint).ID, t.ToAvro())
		ts, msgs = append(ts, t), append(msgs, m)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return ts, msgs
}

// BenchmarkTouchpointDecode compares the general path (goavro's native map,
// then TouchpointFromAvro) with the fast path on generated touchpoints.
func BenchmarkTouchpointDecode(b *testing.B) {
	c := shippedCodecs(b)
	_, msgs := generated(b, c)
	for _, path := range []struct {
		name   string
		decode func([]byte) (*touchpoint.Touchpoint, error)
	}{
		{"goavro", func(m []byte) (*touchpoint.Touchpoint, error) { return generalTouchpoint(c, m) }},
		{"fast", func(m []byte) (*touchpoint.Touchpoint, error) { return c.DecodeTouchpoint(context.Background(), m) }},
	} {
		b.Run(path.name, func(b *testing.B) {
			each(b, len(msgs), func(i int) error { _, err := path.decode(msgs[i]); return err })
		})
	}
}

// BenchmarkTouchpointEncode compares goavro's encoding of ToAvro's map with
// the fast path on generated touchpoints.
func BenchmarkTouchpointEncode(b *testing.B) {
	c := shippedCodecs(b)
	ts, _ := generated(b, c)
	id := Latest(KindTouchpoint).ID
	ctx := context.Background()
	for _, path := range []struct {
		name   string
		encode func(*touchpoint.Touchpoint) ([]byte, error)
	}{
		{"goavro", func(t *touchpoint.Touchpoint) ([]byte, error) { return c.Encode(ctx, id, t.ToAvro()) }},
		{"fast", func(t *touchpoint.Touchpoint) ([]byte, error) { return c.EncodeTouchpoint(ctx, id, t) }},
	} {
		b.Run(path.name, func(b *testing.B) {
			each(b, len(ts), func(i int) error { _, err := path.encode(ts[i]); return err })
		})
	}
}

// each runs op on 0, 1, ..., n-1, 0, ... for the benchmark's iterations.
func each(b *testing.B, n int, op func(i int) error) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := op(i % n); err != nil {
			b.Fatal(err)
		}
	}
}
