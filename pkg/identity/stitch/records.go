package stitch

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/identifiers"
)

// The identity topics carry JSON values: they are internal to touchline, and
// JSON keeps them readable with any Kafka tool.
//
// The map topic (compacted) is keyed by "type:value" of an identifier; its
// value is {"person": "p_...", "first_seen": <unix ms>}, and a record
// without a value (a tombstone) removes the identifier. The links topic
// carries LinkRequest values (or a forget request) keyed by request id.

// MapKey is the map topic key of an identifier: "type:value".
func MapKey(id identifiers.Identifier) []byte {
	return []byte(id.Type + ":" + id.Value)
}

// ParseMapKey reads a map topic key back into an identifier.
func ParseMapKey(key []byte) (identifiers.Identifier, error) {
	typ, value, ok := strings.Cut(string(key), ":")
	if !ok || typ == "" || value == "" {
		return identifiers.Identifier{}, fmt.Errorf("identity map key %q: want type:value", key)
	}
	return identifiers.Identifier{Type: typ, Value: value}, nil
}

type mapValue struct {
	Person    string `json:"person"`
	FirstSeen int64  `json:"first_seen"`
}

// EncodeAssignment returns the map topic record of an assignment.
func EncodeAssignment(a Assignment) (key, value []byte) {
	value, _ = json.Marshal(mapValue{Person: a.Person, FirstSeen: a.FirstSeen.UnixMilli()})
	return MapKey(a.Identifier), value
}

// DecodeAssignment reads a map topic record. A tombstone (nil value) gives
// ok false: the identifier was removed.
func DecodeAssignment(key, value []byte) (a Assignment, ok bool, err error) {
	if a.Identifier, err = ParseMapKey(key); err != nil {
		return a, false, err
	}
	if value == nil {
		return a, false, nil
	}
	var v mapValue
	if err := json.Unmarshal(value, &v); err != nil || v.Person == "" {
		return a, false, fmt.Errorf("identity map value for %s: want {\"person\": ..., \"first_seen\": ...}", key)
	}
	a.Person, a.FirstSeen = v.Person, time.UnixMilli(v.FirstSeen).UTC()
	return a, true, nil
}

type linkValue struct {
	ID          string          `json:"id"`
	At          int64           `json:"at"`
	Identifiers []identifierKey `json:"identifiers"`
	Forget      bool            `json:"forget,omitempty"`
	Lift        bool            `json:"lift,omitempty"`
}

type identifierKey struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// EncodeLinkRequest returns the links topic record of a request: keyed by
// its id, the value {"id", "at" (unix ms), "identifiers": [{"type",
// "value"}]}, "forget": true for a forget request, and "lift": true for a
// request to lift a suppression. Blocked identifiers are left out.
func EncodeLinkRequest(req LinkRequest) (key, value []byte) {
	v := linkValue{ID: req.ID, At: req.At.UnixMilli(), Forget: req.Forget, Lift: req.Lift}
	for _, id := range req.Identifiers {
		if !id.Blocked {
			v.Identifiers = append(v.Identifiers, identifierKey{Type: id.Type, Value: id.Value})
		}
	}
	value, _ = json.Marshal(v)
	return []byte(req.ID), value
}

// MaxLinkIdentifiers is the most identifiers a link request may carry. The
// resolver versions a request's rows of each table by the request's offset
// times MaxLinkIdentifiers+1 plus the row's index, which stops at
// MaxLinkIdentifiers (a merge can give more rows than that). The rows of the
// request's own new identifiers come first and must stay below that stop,
// so that a new identifier's later row, when its person is merged, outranks
// its first.
const MaxLinkIdentifiers = 1<<16 - 1

// DecodeLinkRequest reads a links topic value.
func DecodeLinkRequest(value []byte) (LinkRequest, error) {
	var v linkValue
	if err := json.Unmarshal(value, &v); err != nil {
		return LinkRequest{}, fmt.Errorf("link request: %w", err)
	}
	if len(v.Identifiers) == 0 {
		return LinkRequest{}, fmt.Errorf("link request %q has no identifiers", v.ID)
	}
	if len(v.Identifiers) > MaxLinkIdentifiers {
		return LinkRequest{}, fmt.Errorf("link request %q has %d identifiers, more than %d", v.ID, len(v.Identifiers), MaxLinkIdentifiers)
	}
	req := LinkRequest{ID: v.ID, At: time.UnixMilli(v.At).UTC(), Forget: v.Forget, Lift: v.Lift && v.Forget}
	for _, id := range v.Identifiers {
		if id.Type == "" || id.Value == "" {
			return LinkRequest{}, fmt.Errorf("link request %q: identifier with empty type or value", v.ID)
		}
		req.Identifiers = append(req.Identifiers, identifiers.Identifier{Type: id.Type, Value: id.Value})
	}
	return req, nil
}
