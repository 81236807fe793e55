package segments

import (
	"encoding"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// PartitionOf returns the partition of person among n: where its inputs,
// its changelog records and its changes go. Every producer of the segment
// topics partitions with it (FNV-1a), so a person's records meet.
func PartitionOf(person string, n int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(person))
	return int32(h.Sum32() % uint32(n))
}

// EncodeInput returns the inputs topic record value of an input, in its
// binary encoding (engine.Input.MarshalBinary).
func EncodeInput(in engine.Input) ([]byte, error) { return in.MarshalBinary() }

// DecodeInput reads an inputs topic record value: the binary encoding, or
// the JSON that versions before it wrote.
func DecodeInput(b []byte) (engine.Input, error) {
	var in engine.Input
	if err := decodeBinaryOrJSON(b, &in); err != nil {
		return in, fmt.Errorf("decoding a segment input: %w", err)
	}
	return in, in.Validate()
}

// encodePending returns the changelog value of a pending input.
func encodePending(pe engine.Pending) ([]byte, error) { return pe.MarshalBinary() }

// decodePending reads the changelog value of a pending input, binary or
// JSON like DecodeInput.
func decodePending(b []byte) (engine.Pending, error) {
	var pe engine.Pending
	if err := decodeBinaryOrJSON(b, &pe); err != nil {
		return pe, fmt.Errorf("decoding a pending input: %w", err)
	}
	return pe, pe.Input.Validate()
}

// decodeBinaryOrJSON decodes b into v: as JSON when it starts with '{',
// which no binary encoding does, else with v's UnmarshalBinary.
func decodeBinaryOrJSON(b []byte, v encoding.BinaryUnmarshaler) error {
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, v)
	}
	return v.UnmarshalBinary(b)
}

// The changelog's keys: a person's state, an input waiting for the
// watermark, and a partition's meta state (and erased persons: forget.go).
const (
	personKeyPrefix  = "p/"
	pendingKeyPrefix = "q/"
	metaKey          = "m"
)

// personKey is the changelog key of a person.
func personKey(person string) string { return personKeyPrefix + person }

// pendingKey is the changelog key of the pending input of an arrival.
func pendingKey(arrival int64) string { return fmt.Sprintf("%s%020d", pendingKeyPrefix, arrival) }

// featureText renders the features of a change as text, for the changes
// topic and ClickHouse.
func featureText(features map[string]any) map[string]string {
	out := make(map[string]string, len(features))
	for k, v := range features {
		switch x := v.(type) {
		case time.Time:
			out[k] = x.UTC().Format(time.RFC3339Nano)
		case time.Duration:
			out[k] = x.String()
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// featureJSON renders the features of a change as a JSON object with sorted
// keys.
func featureJSON(features map[string]string) string {
	keys := make([]string, 0, len(features))
	for k := range features {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(features[k])
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	return b.String()
}

// changeAvro returns a change as a native SegmentChange record.
func changeAvro(c engine.Change, features map[string]string) map[string]any {
	m := make(map[string]any, len(features))
	for k, v := range features {
		m[k] = v
	}
	return map[string]any{"person": c.Person, "segment": c.Segment, "entered": c.Entered, "at": c.At, "features": m}
}
