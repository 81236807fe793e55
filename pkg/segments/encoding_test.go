package segments

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestPersonBinaryRoundTrip: a person's binary encoding decodes to the
// same state, with and without a timer, and a truncated or foreign
// encoding is refused.
func TestPersonBinaryRoundTrip(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC)
	buy := Event{ID: "e2", Person: "ann", At: at.Add(time.Minute), Type: "purchase", Channel: "web", Campaign: "spring", Revenue: 12.5,
		Props: map[string]string{"sku": "A-1", "coupon": ""}}
	full := &Person{ID: "ann",
		Events:   []Event{{ID: "e1", Person: "ann", At: at, Type: "page_view"}, buy},
		Lifetime: map[string]*aggregate{`count("purchase")`: {Count: 1, Sum: 1, Min: 1, Max: 1}, `sum("purchase", "revenue")`: {Count: 1, Sum: 12.5, Min: 12.5, Max: 12.5}},
		Last:     map[string]Event{"purchase": buy},
		Members:  []string{"big", "new_leads"},
		Timer:    at.Add(time.Hour)}
	empty := newPerson("bob")
	for _, p := range []*Person{full, empty} {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Person
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		if !reflect.DeepEqual(&got, p) {
			t.Fatalf("%s: decoded\n%+v\nwant\n%+v", p.ID, got, *p)
		}
		for cut := 0; cut < len(b); cut++ {
			if err := new(Person).UnmarshalBinary(b[:cut]); err == nil {
				t.Fatalf("%s: %d of %d bytes decoded without an error", p.ID, cut, len(b))
			}
		}
	}
	err := new(Person).UnmarshalBinary([]byte(`{"id":"ann"}`))
	if err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("JSON decoded as a binary person: %v", err)
	}
}
