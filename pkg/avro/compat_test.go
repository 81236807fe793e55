package avro

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

type recordSchema struct {
	Name   string        `json:"name"`
	Fields []fieldSchema `json:"fields"`
}

type fieldSchema struct {
	Name    string          `json:"name"`
	Type    json.RawMessage `json:"type"`
	Default json.RawMessage `json:"default"`
}

// checkBackwardCompatible reports whether a reader using schema newer can
// read data written with schema older, under the rules touchline follows for
// evolving its records: fields may be added only with a default, fields may
// be removed only if they had a default, and a kept field keeps its type.
func checkBackwardCompatible(older, newer string) error {
	var o, n recordSchema
	if err := json.Unmarshal([]byte(older), &o); err != nil {
		return fmt.Errorf("older schema: %w", err)
	}
	if err := json.Unmarshal([]byte(newer), &n); err != nil {
		return fmt.Errorf("newer schema: %w", err)
	}
	if o.Name != n.Name {
		return fmt.Errorf("record name changed from %s to %s", o.Name, n.Name)
	}
	old := map[string]fieldSchema{}
	for _, f := range o.Fields {
		old[f.Name] = f
	}
	for _, f := range n.Fields {
		prev, kept := old[f.Name]
		delete(old, f.Name)
		if !kept {
			if f.Default == nil {
				return fmt.Errorf("field %s is added without a default", f.Name)
			}
			continue
		}
		var a, b any
		_ = json.Unmarshal(prev.Type, &a)
		_ = json.Unmarshal(f.Type, &b)
		if !reflect.DeepEqual(a, b) {
			return fmt.Errorf("field %s changes type from %s to %s", f.Name, prev.Type, f.Type)
		}
	}
	for name, f := range old {
		if f.Default == nil {
			return fmt.Errorf("field %s is removed but had no default", name)
		}
	}
	return nil
}

// staticRegistry returns the static registry with extra schemas by id in
// addition to the shipped ones: the versions a test writes with.
func staticRegistry(tb testing.TB, extra map[int]string) *StaticRegistry {
	tb.Helper()
	r, err := NewStaticRegistry()
	if err != nil {
		tb.Fatal(err)
	}
	for id, text := range extra {
		if _, dup := r.byID[id]; dup {
			tb.Fatalf("schema id %d is already taken by a shipped schema", id)
		}
		r.byID[id] = text
	}
	return r
}
