package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkProcessor measures the processor alone on the shipped
// definitions: one op is one event of a random person among 10,000, in
// event-time order, evaluated when the watermark passes it.
func BenchmarkProcessor(b *testing.B) {
	defs, err := LoadDefinitions("../../../pipelines/segments.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewProcessor(defs, nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"page_view", "page_view", "add_to_cart", "email_open", "email_click", "purchase", "signup"}
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := &Event{ID: fmt.Sprint("e", i), Person: fmt.Sprint("p", rng.IntN(10_000)), At: t0.Add(time.Duration(i) * time.Second),
			Type: types[rng.IntN(len(types))], Channel: "web", Revenue: float64(rng.IntN(200))}
		if _, err := p.Add(Input{Event: e}); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 0 {
			p.TakeDirty()
			p.TakePending()
		}
	}
}
