package activate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/touchline-io/touchline/pkg/avro"
)

// Change is one entry or exit of the changes topic (Avro SegmentChange).
type Change struct {
	Person   string
	Segment  string
	Entered  bool
	At       time.Time
	Features map[string]string
}

// DecodeChange reads a changes topic record value with codecs.
func DecodeChange(ctx context.Context, codecs *avro.Codecs, value []byte) (Change, error) {
	_, rec, err := codecs.Decode(ctx, value)
	if err != nil {
		return Change{}, fmt.Errorf("decoding a segment change: %w", err)
	}
	c := Change{Features: map[string]string{}}
	var ok [4]bool
	c.Person, ok[0] = rec["person"].(string)
	c.Segment, ok[1] = rec["segment"].(string)
	c.Entered, ok[2] = rec["entered"].(bool)
	c.At, ok[3] = rec["at"].(time.Time)
	if ok != [4]bool{true, true, true, true} || c.Person == "" || c.Segment == "" {
		return Change{}, fmt.Errorf("decoding a segment change: not a SegmentChange record")
	}
	c.At = c.At.UTC()
	if fs, isMap := rec["features"].(map[string]any); isMap {
		for k, v := range fs {
			if s, isString := v.(string); isString {
				c.Features[k] = s
			}
		}
	}
	return c, nil
}

// IdempotencyKey is the key of the delivery of c to destination: the same
// for every delivery of the same change, across restarts and replays, and
// different for every other change or destination. It is the hex SHA-256
// of destination, segment, person, entered and the time to the millisecond.
func IdempotencyKey(destination string, c Change) string {
	sum := sha256.Sum256([]byte(destination + "\x00" + c.Segment + "\x00" + c.Person + "\x00" +
		strconv.FormatBool(c.Entered) + "\x00" + strconv.FormatInt(c.At.UnixMilli(), 10)))
	return hex.EncodeToString(sum[:])
}

// BatchKey is the idempotency key of a POST of several changes, whose keys
// are keys in the order of the body: the hex SHA-256 of the keys, each
// followed by a newline. The same changes in the same order have the same
// key.
func BatchKey(keys []string) string {
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Payload is the JSON body of a webhook delivery.
type Payload struct {
	IdempotencyKey string            `json:"idempotency_key"`
	Destination    string            `json:"destination"`
	Segment        string            `json:"segment"`
	Person         string            `json:"person"`
	Change         string            `json:"change"` // entered or left
	At             time.Time         `json:"at"`
	Features       map[string]string `json:"features"`
	Identifiers    map[string]string `json:"identifiers"`
}

// payload builds the body of c's delivery to d, with the person's exported
// identifiers.
func payload(d Destination, c Change, ids map[string]string) Payload {
	p := Payload{IdempotencyKey: IdempotencyKey(d.Name, c), Destination: d.Name, Segment: c.Segment, Person: c.Person,
		Change: "left", At: c.At, Features: map[string]string{}, Identifiers: ids}
	if c.Entered {
		p.Change = "entered"
	}
	for _, f := range d.Features {
		if f == "*" {
			for k, v := range c.Features {
				p.Features[k] = v
			}
			continue
		}
		if v, ok := c.Features[f]; ok {
			p.Features[f] = v
		}
	}
	return p
}

// Exporter turns a person's stored identifiers into what a destination
// receives: hex SHA-256 of the normalised value under "<type>_sha256", or the
// stored value under "<type>" for the destination's clear-text types.
// Identifiers ingest hashed are stored as that SHA-256 already (without a
// pepper), so they go out as stored.
type Exporter struct {
	hashed map[string]bool
}

// NewExporter returns the exporter for identifier types hashed at ingest.
func NewExporter(hashed []string) Exporter { return Exporter{hashed: set(hashed)} }

// Export returns the identifiers of ids (type -> stored values) that d
// sends, by output field; a type with several values keeps the smallest
// output, so that the result does not depend on the order of ids.
func (e Exporter) Export(d Destination, ids map[string][]string) map[string]string {
	out := map[string]string{}
	clear := set(d.ClearText)
	for _, typ := range d.Identifiers {
		values := append([]string(nil), ids[typ]...)
		if len(values) == 0 {
			continue
		}
		for i, v := range values {
			if !clear[typ] && !e.hashed[typ] {
				sum := sha256.Sum256([]byte(v))
				values[i] = hex.EncodeToString(sum[:])
			}
		}
		sort.Strings(values)
		out[field(typ, clear[typ])] = values[0]
	}
	return out
}

// Fields returns the output fields of the identifiers d sends, sorted.
func (e Exporter) Fields(d Destination) []string {
	clear := set(d.ClearText)
	out := make([]string, 0, len(d.Identifiers))
	for _, typ := range d.Identifiers {
		out = append(out, field(typ, clear[typ]))
	}
	sort.Strings(out)
	return out
}

// field is the output field of an identifier type: the type in clear text,
// else the type and "_sha256".
func field(typ string, clearText bool) string {
	if clearText {
		return typ
	}
	return typ + "_sha256"
}
