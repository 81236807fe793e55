package touchpoint

import (
	"encoding/json"
	"slices"
	"strings"
)

// Attrs are a touchpoint's identifiers or its properties: names, each with
// one value, kept in the order of their names. A touchpoint has a few of
// each, and every record is filled, checked, encoded and decoded on the hot
// paths of the collector and ingest, where a slice costs a fraction of a
// map: walking four entries takes a few nanoseconds rather than some forty.
// Their JSON form is an object, as a map's (keys in order, null for none),
// and their Avro form a map. The zero value holds none.
type Attrs []Attr

// Attr is one name of Attrs and its value.
type Attr struct {
	Key, Value string
}

// AttrsOf returns the entries of m as Attrs: nil for a nil map, empty (not
// nil) for an empty one.
func AttrsOf(m map[string]string) Attrs {
	if m == nil {
		return nil
	}
	a := make(Attrs, 0, len(m))
	for k, v := range m {
		a = append(a, Attr{k, v})
	}
	a.Sort()
	return a
}

// byKey orders entries by their keys.
func byKey(x, y Attr) int { return strings.Compare(x.Key, y.Key) }

// Sort puts a, whose keys must be distinct, in the order of its keys: for
// entries gathered in another order.
func (a Attrs) Sort() { slices.SortFunc(a, byKey) }

// find returns where key is, or would be inserted, in a, and whether it is
// there.
func (a Attrs) find(key string) (int, bool) {
	if len(a) <= 8 { // a few: a walk beats halving
		for i := range a {
			k := a[i].Key
			// Keys mostly differ in their first byte, which orders
			// them without a call to compare the rest.
			if len(k) > 0 && len(key) > 0 && k[0] != key[0] {
				if k[0] > key[0] {
					return i, false
				}
				continue
			}
			if c := strings.Compare(k, key); c >= 0 {
				return i, c == 0
			}
		}
		return len(a), false
	}
	return slices.BinarySearchFunc(a, key, func(x Attr, k string) int { return strings.Compare(x.Key, k) })
}

// Lookup returns the value of key and whether a has it.
func (a Attrs) Lookup(key string) (string, bool) {
	if i, ok := a.find(key); ok {
		return a[i].Value, true
	}
	return "", false
}

// Get returns the value of key, "" when a does not have it.
func (a Attrs) Get(key string) string {
	v, _ := a.Lookup(key)
	return v
}

// Set gives key the value v, replacing the value it had.
func (a *Attrs) Set(key, v string) {
	i, ok := a.find(key)
	if ok {
		(*a)[i].Value = v
		return
	}
	*a = slices.Insert(*a, i, Attr{key, v})
}

// Add gives key the value v unless a has key already, and reports whether
// it did: one walk where Lookup and Set would take two.
func (a *Attrs) Add(key, v string) bool {
	i, ok := a.find(key)
	if !ok {
		*a = slices.Insert(*a, i, Attr{key, v})
	}
	return !ok
}

// With returns a with the entries of more whose keys it lacks: a's own
// values win, and of a key more repeats, its first entry's. It sorts once,
// so that adding many entries costs n log n where setting each would walk
// and shift a. a's memory is reused.
func (a Attrs) With(more []Attr) Attrs {
	a = append(a, more...)
	slices.SortStableFunc(a, byKey)
	out := a[:0]
	for i, e := range a {
		if i > 0 && e.Key == out[len(out)-1].Key {
			continue
		}
		out = append(out, e)
	}
	clear(a[len(out):]) // holds on to no dropped entry's strings
	return out
}

// Map returns the entries of a in a new map, nil when a is nil.
func (a Attrs) Map() map[string]string {
	if a == nil {
		return nil
	}
	m := make(map[string]string, len(a))
	for _, e := range a {
		m[e.Key] = e.Value
	}
	return m
}

// MarshalJSON writes a as a JSON object, as encoding/json writes a map.
func (a Attrs) MarshalJSON() ([]byte, error) { return json.Marshal(a.Map()) }

// UnmarshalJSON reads a JSON object of strings, as encoding/json reads a
// map (a repeated key's last value wins; null leaves a as it is).
func (a *Attrs) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m != nil {
		*a = AttrsOf(m)
	}
	return nil
}
