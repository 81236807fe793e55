// Package avro encodes and decodes touchline's Avro records in the Confluent
// wire format (magic byte 0, a 4-byte big-endian schema id, the Avro binary
// body), resolving schema ids through a Schema Registry when one is configured
// and through the schemas shipped in schemas/avro otherwise.
package avro

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors a caller tells apart; every decoding error wraps one of them.
var (
	// ErrNotWireFormat reports bytes that do not start with the magic byte 0
	// and a schema id.
	ErrNotWireFormat = errors.New("not in the Confluent wire format")
	// ErrUnknownSchema reports a schema id that no registry knows.
	ErrUnknownSchema = errors.New("unknown schema id")
	// ErrCorrupt reports an Avro body that the writer's schema cannot decode.
	ErrCorrupt = errors.New("corrupt avro body")
)

const headerLen = 5

// AppendHeader appends the wire-format header for schema id to dst.
func AppendHeader(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, 0), uint32(id))
}

// SplitHeader returns the schema id and the Avro body of a wire-format message.
func SplitHeader(b []byte) (id int, body []byte, err error) {
	if len(b) < headerLen || b[0] != 0 {
		return 0, nil, fmt.Errorf("%w: %d bytes starting %s", ErrNotWireFormat, len(b), preview(b))
	}
	return int(binary.BigEndian.Uint32(b[1:headerLen])), b[headerLen:], nil
}

func preview(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return fmt.Sprintf("%x", b)
}
