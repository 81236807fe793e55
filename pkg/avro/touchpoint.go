package avro

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// The fast path: a codec written by hand against the shipped Touchpoint
// schema (schemas/avro/touchpoint.v1.avsc), used when the writer's schema
// is exactly that one (schemaIdentity: equal Parsing Canonical Form and
// logical types). It reads and writes what goavro reads and writes, and
// refuses what goavro and checkBody refuse with the same error text, so
// that a record gets the same row or the same dead letter on either path.
// Any other schema takes the general path: goavro's native maps and
// touchpoint.TouchpointFromAvro.

// touchpointName is the full name of the shipped Touchpoint record, as
// goavro names it in its errors.
const touchpointName = "io.touchline.Touchpoint"

// shippedTouchpoint returns the identity of the shipped Touchpoint
// schema (schemaIdentity).
var shippedTouchpoint = sync.OnceValues(func() (string, error) {
	for _, s := range ShippedSchemas {
		if s.Kind == KindTouchpoint && s.Version == 1 {
			text, err := s.Text()
			if err != nil {
				return "", err
			}
			codec, err := goavro.NewCodec(text)
			if err != nil {
				return "", fmt.Errorf("compiling shipped schema %s: %w", s.File, err)
			}
			return schemaIdentity(codec, text)
		}
	}
	return "", fmt.Errorf("no shipped Touchpoint schema version 1")
})

// isShippedTouchpoint says whether codec, compiled from text, is the
// shipped Touchpoint schema, which the fast path reads and writes.
func isShippedTouchpoint(codec *goavro.Codec, text string) bool {
	want, err := shippedTouchpoint()
	if err != nil {
		return false
	}
	got, err := schemaIdentity(codec, text)
	return err == nil && got == want
}

// schemaIdentity is what two schemas must share to write the same bytes for
// the same values: the Parsing Canonical Form, and the logical types with
// their precision and scale in the order they appear, which the canonical
// form drops (a long that is timestamp-micros instead of timestamp-millis,
// a decimal of another scale, would otherwise pass for the shipped one).
func schemaIdentity(codec *goavro.Codec, text string) (string, error) {
	var raw any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return "", fmt.Errorf("parsing schema: %w", err)
	}
	var b strings.Builder
	b.WriteString(codec.CanonicalSchema())
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			if lt, ok := v["logicalType"]; ok {
				fmt.Fprintf(&b, "\n%v %v %v", lt, v["precision"], v["scale"])
			}
			for _, k := range [...]string{"type", "fields", "items", "values"} {
				walk(v[k])
			}
		}
	}
	walk(raw)
	return b.String(), nil
}

// DecodeTouchpoint decodes a wire-format message of the touchpoints topic
// into a Touchpoint. Errors wrap ErrNotWireFormat, ErrUnknownSchema or
// ErrCorrupt as Decode's do, are a *touchpoint.ValidationError as
// touchpoint.TouchpointFromAvro's are, or are registry failures worth
// retrying. A message written with the shipped Touchpoint schema is read
// by the fast path, any other through goavro; both give the same result
// and the same error text.
func (c *Codecs) DecodeTouchpoint(ctx context.Context, b []byte) (*touchpoint.Touchpoint, error) {
	id, body, err := SplitHeader(b)
	if err != nil {
		return nil, err
	}
	comp, err := c.compiled(ctx, id)
	if err != nil {
		return nil, err
	}
	if !comp.touchpoint {
		_, native, err := c.Decode(ctx, b)
		if err != nil {
			return nil, err
		}
		return touchpoint.TouchpointFromAvro(native)
	}
	t, err := decodeTouchpoint(body)
	if err != nil {
		return nil, schemaError(id, err)
	}
	return t, nil
}

// EncodeTouchpoint encodes t with schema id into a wire-format message, by
// the fast path when id is the shipped Touchpoint schema and through
// goavro otherwise.
func (c *Codecs) EncodeTouchpoint(ctx context.Context, id int, t *touchpoint.Touchpoint) ([]byte, error) {
	return c.AppendTouchpoint(ctx, make([]byte, 0, 512), id, t)
}

// AppendTouchpoint is EncodeTouchpoint appending the message to dst, so
// that the messages of a batch can share one buffer.
func (c *Codecs) AppendTouchpoint(ctx context.Context, dst []byte, id int, t *touchpoint.Touchpoint) ([]byte, error) {
	comp, err := c.compiled(ctx, id)
	if err != nil {
		return dst, err
	}
	if !comp.touchpoint {
		b, err := c.Encode(ctx, id, t.ToAvro())
		return append(dst, b...), err
	}
	return appendTouchpoint(AppendHeader(dst, id), t), nil
}

// corruptError is a body the writer's schema cannot decode, with the text
// the general path gives (after "corrupt avro body: schema N: ").
type corruptError struct{ msg string }

func (e *corruptError) Error() string { return e.msg }

// schemaError wraps an error of decodeTouchpoint as Decode wraps the
// general path's.
func schemaError(id int, err error) error {
	if ce, ok := err.(*corruptError); ok {
		return fmt.Errorf("%w: schema %d: %s", ErrCorrupt, id, ce.msg)
	}
	return err
}

// appendTouchpoint appends the Avro binary body of t, in the shipped
// Touchpoint schema, to dst. Empty optional strings are null, as in
// Touchpoint.ToAvro; map entries are written in one block.
func appendTouchpoint(dst []byte, t *touchpoint.Touchpoint) []byte {
	dst = appendString(dst, t.EventID)
	// as goavro writes a time.Time as timestamp-millis
	dst = appendLong(dst, t.EventTime.Unix()*1e3+int64(t.EventTime.Nanosecond()/1e6))
	dst = appendString(dst, t.EventType)
	for _, s := range [...]string{t.Channel, t.Campaign, t.UTMSource, t.UTMMedium, t.UTMCampaign,
		t.UTMContent, t.UTMTerm, t.Referrer, t.PageURL} {
		dst = appendOptString(dst, s)
	}
	dst = appendStringMap(dst, t.Identifiers)
	if t.Revenue == nil {
		dst = append(dst, 0)
	} else {
		dst = appendDecimal(append(dst, 2), int64(*t.Revenue))
	}
	dst = appendOptString(dst, t.Currency)
	dst = appendOptString(dst, t.OrderID)
	dst = appendStringMap(dst, t.Properties)
	if t.Context == nil {
		return append(dst, 0)
	}
	dst = append(dst, 2)
	dst = appendOptString(dst, t.Context.DeviceType)
	dst = appendOptString(dst, t.Context.OS)
	return appendOptString(dst, t.Context.Country)
}

// appendLong appends v as a zig-zag varint.
func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

func appendString(dst []byte, s string) []byte {
	return append(appendLong(dst, int64(len(s))), s...)
}

// appendOptString appends a ["null", "string"] union: null for "".
func appendOptString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, 0)
	}
	return appendString(append(dst, 2), s)
}

func appendStringMap(dst []byte, m touchpoint.Attrs) []byte {
	if len(m) > 0 {
		dst = appendLong(dst, int64(len(m)))
		for _, e := range m {
			dst = appendString(appendString(dst, e.Key), e.Value)
		}
	}
	return append(dst, 0)
}

// appendDecimal appends the bytes of a decimal whose unscaled value is v:
// its shortest big-endian two's complement, as goavro writes it.
func appendDecimal(dst []byte, v int64) []byte {
	n := 8
	for n > 1 {
		top := byte(v >> (8 * (n - 1)))
		next := byte(v >> (8 * (n - 2)))
		if top == 0 && next < 0x80 || top == 0xff && next >= 0x80 {
			n--
			continue
		}
		break
	}
	dst = appendLong(dst, int64(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// touchpointDecoder reads the body of a Touchpoint in the shipped schema.
// It reads with a walker, whose checks and error texts are those of
// checkBody, in the order checkBody meets them. It needs neither the
// walker's depth limit (the schema nests three levels) nor its budget of
// values taking no bytes: every null of this schema follows its union's
// index byte, so a body holds fewer nulls than bytes.
type touchpointDecoder struct {
	walker
	s string // the body as one string: every decoded string is a part of it
	// dup is goavro's error for the first duplicate map key; checkBody
	// errors anywhere in the body come first, as on the general path.
	dup string
	// out is the value the touchpoint is decoded into.
	out *decodedTouchpoint
}

// decodeTouchpoint decodes a body in the shipped Touchpoint schema. Errors
// are a *corruptError or a *touchpoint.ValidationError, with the texts of
// the general path.
func decodeTouchpoint(body []byte) (*touchpoint.Touchpoint, error) {
	d := touchpointDecoder{walker: walker{b: body}, s: string(body), out: &decodedTouchpoint{}}
	t, rev, err := d.record()
	if err != nil {
		return nil, &corruptError{err.Error()}
	}
	if d.pos != len(body) {
		return nil, &corruptError{fmt.Sprintf("%d trailing bytes", len(body)-d.pos)}
	}
	if d.dup != "" {
		return nil, &corruptError{d.dup}
	}
	// the checks of TouchpointFromAvro, in its order
	switch {
	case t.EventID == "":
		return nil, &touchpoint.ValidationError{Reason: touchpoint.ReasonMissingField, Field: "event_id", Msg: "is required"}
	case t.EventType == "":
		return nil, &touchpoint.ValidationError{Reason: touchpoint.ReasonMissingField, Field: "event_type", Msg: "is required"}
	}
	if rev != nil {
		m, err := decimalMoney(rev)
		if err != nil {
			return nil, &touchpoint.ValidationError{Reason: touchpoint.ReasonInvalidField, Field: "revenue", Msg: err.Error()}
		}
		d.out.revenue = m
		t.Revenue = &d.out.revenue
	}
	return t, nil
}

// decodedTouchpoint holds a decoded touchpoint with its context and
// revenue, which point into it: one allocation instead of three.
type decodedTouchpoint struct {
	t       touchpoint.Touchpoint
	context touchpoint.Context
	revenue touchpoint.Money
}

// record reads the fields in schema order; rev is the revenue's decimal
// bytes, nil when null.
func (d *touchpointDecoder) record() (t *touchpoint.Touchpoint, rev []byte, err error) {
	t = &d.out.t
	if t.EventID, err = d.str(); err != nil {
		return nil, nil, err
	}
	ms, err := d.long("long")
	if err != nil {
		return nil, nil, err
	}
	sec := ms / 1e3 // as goavro reads timestamp-millis
	t.EventTime = time.Unix(sec, (ms-sec*1e3)*1e6).UTC()
	if t.EventType, err = d.str(); err != nil {
		return nil, nil, err
	}
	for _, f := range [...]*string{&t.Channel, &t.Campaign, &t.UTMSource, &t.UTMMedium, &t.UTMCampaign,
		&t.UTMContent, &t.UTMTerm, &t.Referrer, &t.PageURL} {
		if *f, err = d.optString(); err != nil {
			return nil, nil, err
		}
	}
	if t.Identifiers, err = d.stringMap("identifiers"); err != nil {
		return nil, nil, err
	}
	if rev, err = d.optDecimal(); err != nil {
		return nil, nil, err
	}
	if t.Currency, err = d.optString(); err != nil {
		return nil, nil, err
	}
	if t.OrderID, err = d.optString(); err != nil {
		return nil, nil, err
	}
	if t.Properties, err = d.stringMap("properties"); err != nil {
		return nil, nil, err
	}
	present, err := d.union()
	if err != nil || !present {
		return t, rev, err
	}
	c := &d.out.context
	for _, f := range [...]*string{&c.DeviceType, &c.OS, &c.Country} {
		if *f, err = d.optString(); err != nil {
			return nil, nil, err
		}
	}
	t.Context = c
	return t, rev, nil
}

// str reads a string.
func (d *touchpointDecoder) str() (string, error) {
	n, err := d.length("string")
	if err != nil {
		return "", err
	}
	s := d.s[d.pos : d.pos+n]
	d.pos += n
	return s, nil
}

// union reads the index of a ["null", T] union: whether T follows.
func (d *touchpointDecoder) union() (bool, error) {
	i, err := d.index("union", 2)
	if err != nil {
		return false, err
	}
	return i == 1, nil
}

// optDecimal reads a ["null", decimal bytes] union: nil for null.
func (d *touchpointDecoder) optDecimal() ([]byte, error) {
	present, err := d.union()
	if err != nil || !present {
		return nil, err
	}
	n, err := d.length("bytes")
	if err != nil {
		return nil, err
	}
	d.pos += n
	return d.b[d.pos-n : d.pos : d.pos], nil
}

// optString reads a ["null", "string"] union: "" for null.
func (d *touchpointDecoder) optString() (string, error) {
	present, err := d.union()
	if err != nil || !present {
		return "", err
	}
	return d.str()
}

// mapHint bounds the room a map is made with: a block's count is only
// known to fit the remaining bytes, not to be followed by its entries. It
// is also the most entries looked through one by one for a repeated key;
// a larger map's keys are indexed.
const mapHint = 16

// stringMap reads a map of strings block by block, as walker.blocks walks
// it, into Attrs (in the order of their keys; a repeated key's last value
// wins, and the first repeated key is goavro's error). The map grows with
// the distinct entries read, never with a count the body claims.
func (d *touchpointDecoder) stringMap(field string) (touchpoint.Attrs, error) {
	const per = 2 // the fewest bytes an entry takes: two empty strings
	var (
		m touchpoint.Attrs
		// at indexes m by key once it has more than mapHint entries,
		// below which a repeated key is looked for by walking m.
		at map[string]int
	)
	for {
		n, err := d.long("map block count")
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if m == nil {
				return touchpoint.Attrs{}, nil
			}
			m.Sort() // repeats were folded; touchline's producers write keys in order
			return m, nil
		}
		start, end := d.pos, -1
		if n < 0 {
			if n == math.MinInt64 {
				return nil, d.errorf("map block count %d", n)
			}
			n = -n
			size, err := d.length("map block size")
			if err != nil {
				return nil, err
			}
			start, end = d.pos, d.pos+size
		}
		if n > int64(d.left()/per) {
			return nil, d.errorf("map claims %d items, %d bytes remain", n, d.left())
		}
		if m == nil {
			m = make(touchpoint.Attrs, 0, min(n, mapHint))
		}
		for i := int64(0); i < n; i++ {
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			v, err := d.str()
			if err != nil {
				return nil, err
			}
			if i := repeated(m, at, k); i >= 0 { // the last value wins, as in a map
				if d.dup == "" {
					d.dup = clip(fmt.Sprintf("cannot decode binary record %q field %q: cannot decode binary map: duplicate key: %q",
						touchpointName, field, k))
				}
				m[i].Value = v
				continue
			}
			m = append(m, touchpoint.Attr{Key: k, Value: v})
			switch {
			case at != nil:
				at[k] = len(m) - 1
			case len(m) > mapHint:
				at = make(map[string]int, 2*len(m))
				for j, e := range m {
					at[e.Key] = j
				}
			}
		}
		if end >= 0 && d.pos != end {
			return nil, d.errorf("map block says %d bytes, its items took %d", end-start, d.pos-start)
		}
	}
}

// repeated returns where key is in m, -1 when it is not there, looking
// it up in at when there is one.
func repeated(m touchpoint.Attrs, at map[string]int, key string) int {
	if at != nil {
		if i, ok := at[key]; ok {
			return i
		}
		return -1
	}
	for i := range m {
		if m[i].Key == key {
			return i
		}
	}
	return -1
}

// decimalMoney converts the bytes of a decimal of scale 6 (two's
// complement, big-endian) to Money, failing as touchpoint.MoneyFromRat
// does when it does not fit.
func decimalMoney(b []byte) (touchpoint.Money, error) {
	if len(b) <= 8 {
		var v int64
		if len(b) > 0 && b[0] >= 0x80 {
			v = -1
		}
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return touchpoint.Money(v), nil
	}
	n := new(big.Int).SetBytes(b)
	if b[0] >= 0x80 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return touchpoint.MoneyFromRat(new(big.Rat).SetFrac(n, big.NewInt(touchpoint.MicrosPerUnit)))
}
