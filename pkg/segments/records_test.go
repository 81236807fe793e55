package segments

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/segments/engine"
)

func TestInputsRoundTripAndBadInputsAreRefused(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	in := engine.Input{Event: &engine.Event{ID: "e1", Person: "p_1", At: at, Type: "purchase", Revenue: 12.5,
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
	pe := engine.Pending{Input: in, Arrival: 7}
	for _, encode := range []func(any) ([]byte, error){json.Marshal, func(v any) ([]byte, error) { return encodePending(v.(engine.Pending)) }} {
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
		`{"progress":{"sources":0}}`,
		`{"hold":{"from":"a","at":"2026-05-01T10:00:00Z"}}`,
		`{"progress":{"sources":2,"read":{"2":"2026-05-01T10:00:00Z"}}}`,
		`{"progress":{"sources":2,"read":{"1":"0001-01-01T00:00:00Z"}}}`,
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
	in := engine.Input{Event: &engine.Event{ID: "run-123456", Person: "p_0123456789abcdef0123", Type: "add_to_cart",
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

// TestAdmitJudgesLatenessByTheEventsOwnPartition: an event is late only
// when it is at or before what its own touchpoints partition had already
// given, less the lateness; how far other partitions are ahead does not
// matter.
func TestAdmitJudgesLatenessByTheEventsOwnPartition(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	read := map[int32]time.Time{0: t0.Add(time.Hour)} // partition 0 is an hour ahead
	steps := []struct {
		p    int32
		at   time.Time
		want bool
	}{
		{1, t0, true},                       // first event of partition 1
		{1, t0.Add(-4 * time.Minute), true}, // 4m out of order: within 5m
		{1, t0.Add(-5 * time.Minute), false},
		{1, t0.Add(10 * time.Minute), true},
		{1, t0.Add(5 * time.Minute), false}, // at the new progress less 5m
		{1, t0.Add(5*time.Minute + time.Millisecond), true},
		{0, t0.Add(56 * time.Minute), true},
		{0, t0.Add(55 * time.Minute), false},
	}
	for i, s := range steps {
		if got := admit(read, s.p, s.at, 5*time.Minute); got != s.want {
			t.Fatalf("step %d: event of partition %d at %s admitted %v, want %v", i, s.p, s.at.Format(time.TimeOnly), got, s.want)
		}
	}
	if want := t0.Add(10 * time.Minute); !read[1].Equal(want) || !read[0].Equal(t0.Add(time.Hour)) {
		t.Fatalf("progress %v, want partition 1 at %s and 0 unchanged", read, want)
	}
}

// TestSurvivorFollowsMerges: the router sends a merged person's events to
// the person it merged into, through chains, and a loop of merges (which
// the resolver does not make) cannot hang it.
func TestSurvivorFollowsMerges(t *testing.T) {
	r := &Router{merged: map[string]string{"a": "b", "b": "c", "x": "y", "y": "x"}}
	for person, want := range map[string]string{"a": "c", "b": "c", "c": "c", "z": "z"} {
		if got := r.survivor(person); got != want {
			t.Errorf("survivor(%s) = %s, want %s", person, got, want)
		}
	}
	if got := r.survivor("x"); got != "x" && got != "y" {
		t.Errorf("survivor(x) = %s in a loop", got)
	}
}
