package segmenter

import (
	"encoding/json"
	"fmt"
	"reflect"
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
	if b[0] == '{' {
		t.Fatalf("an input encoded as JSON: %s", b)
	}
	got, err := DecodeInput(b)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip: %+v, %v", got.Event, err)
	}
	// Versions before the binary encoding wrote JSON, which is still read.
	old, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeInput(old); err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("JSON input: %+v, %v", got.Event, err)
	}
	pe := segments.Pending{Input: in, Arrival: 7}
	for _, encode := range []func(any) ([]byte, error){json.Marshal, func(v any) ([]byte, error) { return encodePending(v.(segments.Pending)) }} {
		b, err := encode(pe)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodePending(b); err != nil || !reflect.DeepEqual(got, pe) {
			t.Fatalf("pending input %q: %+v, %v", b, got, err)
		}
	}
	if _, err := decodePending([]byte(`{"input":{},"arrival":1}`)); err == nil {
		t.Error("a pending input without an input accepted")
	}
	for _, bad := range []string{
		"",
		"\x01e",
		string(b[:len(b)-1]),
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

// BenchmarkInputDecoding decodes an event input in the binary encoding the
// router writes and, as the baseline, in the JSON earlier versions wrote.
func BenchmarkInputDecoding(b *testing.B) {
	in := segments.Input{Event: &segments.Event{ID: "run-123456", Person: "p_0123456789abcdef0123", Type: "add_to_cart",
		Channel: "email", Campaign: "spring", At: time.Date(2026, 5, 1, 10, 0, 0, 123000000, time.UTC), Revenue: 12.5,
		Props: map[string]string{"sku": "A-1"}}}
	binaryForm, err := EncodeInput(in)
	if err != nil {
		b.Fatal(err)
	}
	jsonForm, err := json.Marshal(in)
	if err != nil {
		b.Fatal(err)
	}
	for _, form := range []struct {
		name  string
		value []byte
	}{{"binary", binaryForm}, {"json", jsonForm}} {
		b.Run(form.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeInput(form.value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
