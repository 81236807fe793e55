package segmenter

import (
	"fmt"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/segments"
)

func TestInputsRoundTripAndBadInputsAreRefused(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	in := segments.Input{Event: &segments.Event{ID: "e1", Person: "p_1", At: at, Type: "purchase", Revenue: 12.5,
		Props: map[string]string{"sku": "x"}}}
	b, err := EncodeInput(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeInput(b)
	if err != nil || got.Event == nil || got.Event.Revenue != 12.5 || !got.Event.At.Equal(at) || got.Event.Props["sku"] != "x" {
		t.Fatalf("round trip: %+v, %v", got.Event, err)
	}
	for _, bad := range []string{
		`not json`,
		`{}`,
		`{"event":{"id":"e1","person":"p_1","at":"2026-05-01T10:00:00Z"}}`,
		`{"merge":{"from":"a","at":"2026-05-01T10:00:00Z"}}`,
		`{"event":{"id":"e1","person":"p","type":"x","at":"2026-05-01T10:00:00Z"},"merge":{"from":"a","into":"b","at":"2026-05-01T10:00:00Z"}}`,
		`{"transfer":{"into":"b","at":"2026-05-01T10:00:00Z"}}`,
	} {
		if _, err := DecodeInput([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestPartitionOfSpreadsPersons(t *testing.T) {
	counts := make([]int, 6)
	for i := 0; i < 6000; i++ {
		p := PartitionOf(fmt.Sprintf("p_%d", i), 6)
		if p < 0 || p >= 6 {
			t.Fatalf("partition %d of 6", p)
		}
		counts[p]++
	}
	for p, n := range counts {
		if n < 600 {
			t.Errorf("partition %d got %d of 6000 persons", p, n)
		}
	}
}

func TestFeatureValuesAsText(t *testing.T) {
	text := featureText(map[string]any{`since("x")`: 90 * time.Minute, `count("x")`: int64(3),
		`last_time("x")`: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)})
	if got := featureJSON(text); got != `{"count(\"x\")":"3","last_time(\"x\")":"2026-05-01T00:00:00Z","since(\"x\")":"1h30m0s"}` {
		t.Errorf("features: %s", got)
	}
}
