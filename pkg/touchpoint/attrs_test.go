package touchpoint

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestAttrsActAsAMap: random sets and lookups, on few entries and
// on more than are walked one by one, give what a map gives, and the
// entries stay in the order of their keys.
func TestAttrsActAsAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 2026))
	// Keys that differ in their first byte, share it, are empty, or
	// start beyond ASCII, so that every way the walk orders two keys
	// is taken.
	starts := []string{"", "k", "k", "a", "z", "é", "K"}
	key := func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprint(starts[n%len(starts)], n)
	}
	for round := range 200 {
		keys := 1 + r.IntN(30) // up to 30 distinct keys: both lookups
		var a Attrs
		m := map[string]string{}
		for step := range 100 {
			k := key(r.IntN(keys))
			v := fmt.Sprint(round, "-", step)
			if r.IntN(2) == 0 {
				a.Set(k, v)
				m[k] = v
			} else {
				_, had := m[k]
				if added := a.Add(k, v); added == had {
					t.Fatalf("round %d step %d: Add(%q) = %v, but the map had it: %v", round, step, k, added, had)
				}
				if !had {
					m[k] = v
				}
			}
			probe := key(r.IntN(keys + 2)) // sometimes one never set
			got, ok := a.Lookup(probe)
			want, wantOK := m[probe]
			if got != want || ok != wantOK || a.Get(probe) != want {
				t.Fatalf("round %d step %d: Lookup(%q) = %q, %v; the map has %q, %v", round, step, probe, got, ok, want, wantOK)
			}
			if !slices.IsSortedFunc(a, func(x, y Attr) int { return strings.Compare(x.Key, y.Key) }) {
				t.Fatalf("round %d step %d: %v is not in the order of its keys", round, step, a)
			}
			if !reflect.DeepEqual(a.Map(), m) && len(m) > 0 {
				t.Fatalf("round %d step %d: %v holds %v, the map %v", round, step, a, a.Map(), m)
			}
		}
		if !reflect.DeepEqual(AttrsOf(m), a) && len(m) > 0 {
			t.Fatalf("round %d: AttrsOf(%v) = %v, want %v", round, m, AttrsOf(m), a)
		}
	}
}

// TestAttrsNilAndEmpty: nil stays nil and empty stays empty through
// AttrsOf, Map and JSON, as with a map.
func TestAttrsNilAndEmpty(t *testing.T) {
	if AttrsOf(nil) != nil || Attrs(nil).Map() != nil {
		t.Error("a nil map must give nil Attrs, and nil Attrs a nil map")
	}
	if a := AttrsOf(map[string]string{}); a == nil || len(a) != 0 {
		t.Errorf("AttrsOf of an empty map = %#v, want empty, not nil", a)
	}
	if m := (Attrs{}).Map(); m == nil || len(m) != 0 {
		t.Errorf("empty Attrs' Map = %#v, want empty, not nil", m)
	}
	if v, ok := Attrs(nil).Lookup("x"); ok || v != "" {
		t.Errorf("nil Attrs have %q, %v", v, ok)
	}
}

// TestAttrsJSONIsAMapsJSON: Attrs write and read the JSON a map of strings
// has, byte for byte, with encoding/json's escaping, its last-wins rule
// for a repeated key, its refusal of other values, and null.
func TestAttrsJSONIsAMapsJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 2026))
	chars := []string{"a", "b", "<", ">", "&", "\"", "\\", "é", "\u2028", "\xff", " ", "\n"}
	text := func() string {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteString(chars[r.IntN(len(chars))])
		}
		return b.String()
	}
	for range 500 {
		m := map[string]string{}
		for range r.IntN(12) {
			m[text()] = text()
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(AttrsOf(m))
		if err != nil || string(got) != string(want) {
			t.Fatalf("Attrs of %q write %s, %v; the map writes %s", m, got, err, want)
		}
		var back Attrs
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		var mapBack map[string]string
		if err := json.Unmarshal(got, &mapBack); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, AttrsOf(mapBack)) {
			t.Fatalf("%s read back as %v, want %v", got, back, AttrsOf(mapBack))
		}
	}
	for _, c := range []struct {
		in   string
		want Attrs
		err  bool
	}{
		{`{"b":"1","a":"2","b":"3"}`, Attrs{{"a", "2"}, {"b", "3"}}, false},
		{`{}`, Attrs{}, false},
		{`null`, nil, false},
		{`{"a":1}`, nil, true},
		{`["a"]`, nil, true},
	} {
		var got Attrs
		err := json.Unmarshal([]byte(c.in), &got)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s read as %#v, %v; want %#v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
	var tp Touchpoint
	if err := json.Unmarshal([]byte(`{"identifiers":null}`), &tp); err != nil || tp.Identifiers != nil {
		t.Errorf("null identifiers read as %#v, %v", tp.Identifiers, err)
	}
	if b, _ := json.Marshal(Touchpoint{}); !strings.Contains(string(b), `"identifiers":null`) || strings.Contains(string(b), `"properties"`) {
		t.Errorf("an empty touchpoint writes %s: want null identifiers and no properties, as with maps", b)
	}
}

// TestAttrsWith: With gives what setting, on a map, each of more's
// entries whose key neither a nor an earlier entry of more has gives.
func TestAttrsWith(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 2026))
	for round := range 300 {
		m := map[string]string{}
		for range r.IntN(10) {
			m[fmt.Sprint("k", r.IntN(20))] = fmt.Sprint("own-", round)
		}
		a := AttrsOf(m)
		var more []Attr
		for i := range r.IntN(60) {
			k := fmt.Sprint("k", r.IntN(40))
			more = append(more, Attr{k, fmt.Sprint(round, "-", i)})
			if _, ok := m[k]; !ok {
				m[k] = more[len(more)-1].Value
			}
		}
		if got := a.With(more); !reflect.DeepEqual(got, AttrsOf(m)) && len(m) > 0 {
			t.Fatalf("round %d: With gave %v, want %v", round, got, AttrsOf(m))
		}
	}
}
