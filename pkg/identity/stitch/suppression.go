package stitch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/touchline-io/touchline/pkg/identifiers"
)

// The suppressions topic (compacted) lists the identifiers that `touchline
// forget` erased, so that no service stores them again, even when it
// consumes old records again. It is keyed by SuppressionKey: a hash, so the
// list names no identifier in clear, not even a customer id. Its value is
// {"request": <forget request id>, "at": <unix ms>}; a tombstone lifts the
// suppression (`touchline forget --undo`).

// SuppressionKey is the suppressions topic key of an identifier: the hex
// SHA-256 of its map key ("type:value", the value normalised and hashed as
// ingest stores it).
func SuppressionKey(id identifiers.Identifier) string {
	sum := sha256.Sum256(MapKey(id))
	return hex.EncodeToString(sum[:])
}

// Suppression is why an identifier is suppressed: the forget request that
// erased it, and when.
type Suppression struct {
	Request string
	At      time.Time
}

type suppressionValue struct {
	Request string `json:"request"`
	At      int64  `json:"at"`
}

// EncodeSuppression returns the suppressions topic value of s.
func EncodeSuppression(s Suppression) []byte {
	v, _ := json.Marshal(suppressionValue{Request: s.Request, At: s.At.UnixMilli()})
	return v
}

// DecodeSuppression reads a suppressions topic value.
func DecodeSuppression(value []byte) (Suppression, error) {
	var v suppressionValue
	if err := json.Unmarshal(value, &v); err != nil || v.Request == "" {
		return Suppression{}, fmt.Errorf("suppression %q: want {\"request\": ..., \"at\": ...}", value)
	}
	return Suppression{Request: v.Request, At: time.UnixMilli(v.At).UTC()}, nil
}
