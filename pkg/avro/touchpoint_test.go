package avro

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// generalTouchpoint decodes b as ingest did before the fast path: goavro's
// native map, then TouchpointFromAvro.
func generalTouchpoint(c *Codecs, b []byte) (*touchpoint.Touchpoint, error) {
	_, native, err := c.Decode(context.Background(), b)
	if err != nil {
		return nil, err
	}
	return touchpoint.TouchpointFromAvro(native)
}

// randomText returns a string of up to n bytes: empty, ASCII, multi-byte
// UTF-8 or (rarely) bytes that are not UTF-8.
func randomText(r *rand.Rand, n int) string {
	switch r.IntN(8) {
	case 0:
		return ""
	case 1:
		b := make([]byte, r.IntN(n+1))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	case 2:
		var sb strings.Builder
		for range r.IntN(n/3 + 1) {
			sb.WriteRune([]rune("éßü€日本😀")[r.IntN(7)])
		}
		return sb.String()
	}
	b := make([]byte, 1+r.IntN(n))
	for i := range b {
		b[i] = byte('!' + r.IntN(94))
	}
	return string(b)
}

func randomMap(r *rand.Rand, most int) map[string]string {
	m := map[string]string{}
	for range r.IntN(most + 1) {
		m[randomText(r, 20)] = randomText(r, 40)
	}
	return m
}

// randomTouchpoint returns a touchpoint with every field drawn at random,
// valid or not: anything the schema can carry. Times have whole
// milliseconds, the schema's precision; maps are never nil, as decoding
// gives them.
func randomTouchpoint(r *rand.Rand) *touchpoint.Touchpoint {
	t := &touchpoint.Touchpoint{
		EventID:     randomText(r, 40),
		EventTime:   time.UnixMilli(r.Int64N(1<<45) - 1<<44).UTC(),
		EventType:   randomText(r, 20),
		Identifiers: touchpoint.AttrsOf(randomMap(r, 4)),
		Properties:  touchpoint.AttrsOf(randomMap(r, 6)),
	}
	for _, f := range []*string{&t.Channel, &t.Campaign, &t.UTMSource, &t.UTMMedium, &t.UTMCampaign,
		&t.UTMContent, &t.UTMTerm, &t.Referrer, &t.PageURL, &t.Currency, &t.OrderID} {
		*f = randomText(r, 60)
	}
	if r.IntN(3) == 0 {
		var m touchpoint.Money
		switch r.IntN(4) {
		case 0:
			m = touchpoint.Money(r.Int64())
		case 1:
			m = touchpoint.Money(-r.Int64())
		case 2:
			m = touchpoint.Money([]int64{0, -1, 127, 128, -128, -129, 255, 256, math.MaxInt64, math.MinInt64}[r.IntN(10)])
		default:
			m = touchpoint.Money(r.Int64N(1_000_000_000))
		}
		t.Revenue = &m
	}
	if r.IntN(2) == 0 {
		t.Context = &touchpoint.Context{DeviceType: randomText(r, 10), OS: randomText(r, 10), Country: randomText(r, 3)}
	}
	return t
}

// bothWays checks tp through both codecs: goavro reads the fast encoding
// back as want, the fast decoder reads goavro's encoding back as want, and
// the two encodings are equal byte for byte when no map of tp has more than
// one entry (whose order could differ). It says whether the bytes were
// compared.
func bothWays(t *testing.T, c *Codecs, name string, tp, want *touchpoint.Touchpoint) bool {
	t.Helper()
	ctx, id := context.Background(), Latest(KindTouchpoint).ID
	fast, err := c.EncodeTouchpoint(ctx, id, tp)
	if err != nil {
		t.Fatal(err)
	}
	back, err := generalTouchpoint(c, fast)
	if err != nil {
		t.Fatalf("%s: goavro cannot read the fast encoding: %v", name, err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("%s: fast encode, goavro decode:\n got %+v\nwant %+v", name, back, want)
	}
	general, err := c.Encode(ctx, id, tp.ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	back, err = c.DecodeTouchpoint(ctx, general)
	if err != nil {
		t.Fatalf("%s: the fast path cannot read goavro's encoding: %v", name, err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("%s: goavro encode, fast decode:\n got %+v\nwant %+v", name, back, want)
	}
	if len(tp.Identifiers) > 1 || len(tp.Properties) > 1 {
		return false
	}
	if !bytes.Equal(fast, general) {
		t.Fatalf("%s: fast encoding\n% x\ngoavro's\n% x", name, fast, general)
	}
	return true
}

// TestTouchpointFastPathRoundTrip checks the fast codec against goavro on
// random touchpoints, both ways (bothWays).
func TestTouchpointFastPathRoundTrip(t *testing.T) {
	c := shippedCodecs(t)
	r := rand.New(rand.NewPCG(1, 19))
	sameBytes := 0
	for i := range 5000 {
		tp := randomTouchpoint(r)
		if tp.EventID == "" || tp.EventType == "" {
			tp.EventID, tp.EventType = "e", "t" // required by TouchpointFromAvro
		}
		if bothWays(t, c, fmt.Sprintf("#%d", i), tp, tp) {
			sameBytes++
		}
	}
	if sameBytes < 100 {
		t.Fatalf("only %d touchpoints compared byte for byte", sameBytes)
	}
}

// TestTouchpointFastPathEachOptionalField sets each optional part of a
// touchpoint alone on a bare one and clears it alone on a full one, and
// checks each through both codecs (bothWays), byte for byte; then times
// the schema cannot hold exactly (below a millisecond, before 1970), which
// both write as the millisecond at or before them.
func TestTouchpointFastPathEachOptionalField(t *testing.T) {
	c := shippedCodecs(t)
	str := func(f func(*touchpoint.Touchpoint) *string, v string) func(*touchpoint.Touchpoint, bool) {
		return func(tp *touchpoint.Touchpoint, on bool) {
			*f(tp) = ""
			if on {
				*f(tp) = v
			}
		}
	}
	// a field of the context makes the context present
	ctxStr := func(f func(*touchpoint.Context) *string, v string) func(*touchpoint.Touchpoint, bool) {
		return str(func(tp *touchpoint.Touchpoint) *string {
			if tp.Context == nil {
				tp.Context = &touchpoint.Context{}
			}
			return f(tp.Context)
		}, v)
	}
	oneEntry := func(f func(*touchpoint.Touchpoint) *touchpoint.Attrs, k, v string) func(*touchpoint.Touchpoint, bool) {
		return func(tp *touchpoint.Touchpoint, on bool) {
			*f(tp) = touchpoint.Attrs{}
			if on {
				*f(tp) = touchpoint.Attrs{{Key: k, Value: v}}
			}
		}
	}
	fields := []struct {
		name string
		set  func(tp *touchpoint.Touchpoint, on bool)
	}{
		{"channel", str(func(tp *touchpoint.Touchpoint) *string { return &tp.Channel }, "email")},
		{"campaign", str(func(tp *touchpoint.Touchpoint) *string { return &tp.Campaign }, "spring")},
		{"utm_source", str(func(tp *touchpoint.Touchpoint) *string { return &tp.UTMSource }, "google")},
		{"utm_medium", str(func(tp *touchpoint.Touchpoint) *string { return &tp.UTMMedium }, "cpc")},
		{"utm_campaign", str(func(tp *touchpoint.Touchpoint) *string { return &tp.UTMCampaign }, "brand")},
		{"utm_content", str(func(tp *touchpoint.Touchpoint) *string { return &tp.UTMContent }, "banner-1")},
		{"utm_term", str(func(tp *touchpoint.Touchpoint) *string { return &tp.UTMTerm }, "running shoes")},
		{"referrer", str(func(tp *touchpoint.Touchpoint) *string { return &tp.Referrer }, "https://www.google.com/")},
		{"page_url", str(func(tp *touchpoint.Touchpoint) *string { return &tp.PageURL }, "https://shop.example/?gclid=x")},
		{"currency", str(func(tp *touchpoint.Touchpoint) *string { return &tp.Currency }, "EUR")},
		{"order_id", str(func(tp *touchpoint.Touchpoint) *string { return &tp.OrderID }, "o-17")},
		{"identifiers", oneEntry(func(tp *touchpoint.Touchpoint) *touchpoint.Attrs { return &tp.Identifiers }, "email", "jane@example.com")},
		{"properties", oneEntry(func(tp *touchpoint.Touchpoint) *touchpoint.Attrs { return &tp.Properties }, "sku", "x-1")},
		{"revenue", func(tp *touchpoint.Touchpoint, on bool) {
			tp.Revenue = nil
			if on {
				m := touchpoint.Money(-12_345_678)
				tp.Revenue = &m
			}
		}},
		{"context.device_type", ctxStr(func(c *touchpoint.Context) *string { return &c.DeviceType }, "mobile")},
		{"context.os", ctxStr(func(c *touchpoint.Context) *string { return &c.OS }, "iOS")},
		{"context.country", ctxStr(func(c *touchpoint.Context) *string { return &c.Country }, "DE")},
		// after its fields: set alone, the context is present with every field null
		{"context", func(tp *touchpoint.Touchpoint, on bool) {
			if !on {
				tp.Context = nil
			} else if tp.Context == nil {
				tp.Context = &touchpoint.Context{}
			}
		}},
	}
	// base is a touchpoint with every optional field set, or none
	base := func(on bool) *touchpoint.Touchpoint {
		tp := &touchpoint.Touchpoint{EventID: "e-1", EventTime: time.UnixMilli(1_764_000_000_123).UTC(), EventType: "click"}
		for _, f := range fields {
			f.set(tp, on)
		}
		return tp
	}
	for _, f := range fields {
		for _, on := range []bool{true, false} {
			tp := base(!on)
			f.set(tp, on)
			bothWays(t, c, fmt.Sprintf("%s %v, every other optional field %v", f.name, on, !on), tp, tp)
		}
	}
	for _, at := range []time.Time{
		time.Unix(1_764_000_000, 123_456_789), // microseconds from the collector
		time.Unix(-1, 999_999_999),            // just before 1970
		time.Unix(-1_000_000, 1),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
	} {
		tp, want := base(true), base(true)
		tp.EventTime, want.EventTime = at, at.Truncate(time.Millisecond).UTC()
		bothWays(t, c, "event_time "+at.Format(time.RFC3339Nano), tp, want)
	}
}

// TestTouchpointFastPathOnlyForTheShippedSchema checks which writer schemas
// the fast path takes: the shipped one, also reformatted with other docs
// and defaults; not one whose logical types differ (the canonical form
// alone cannot tell) nor a later version, which goavro reads.
func TestTouchpointFastPathOnlyForTheShippedSchema(t *testing.T) {
	shipped, err := Latest(KindTouchpoint).Text()
	if err != nil {
		t.Fatal(err)
	}
	v2, err := os.ReadFile("testdata/touchpoint.v2.avsc")
	if err != nil {
		t.Fatal(err)
	}
	reformatted := strings.ReplaceAll(strings.ReplaceAll(shipped, "\n", " "),
		`"doc": "One interaction of a person with a channel. Version 1."`, `"doc": "other words"`)
	micros := strings.Replace(shipped, "timestamp-millis", "timestamp-micros", 1)
	scale := strings.Replace(shipped, `"scale": 6`, `"scale": 2`, 1)
	c := NewCodecs(staticRegistry(t, map[int]string{101: shipped, 102: reformatted, 103: micros, 104: scale, 105: string(v2)}))
	ctx := context.Background()
	for id, want := range map[int]bool{101: true, 102: true, 103: false, 104: false, 105: false} {
		comp, err := c.compiled(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if comp.touchpoint != want {
			t.Errorf("schema %d: fast path %v, want %v", id, comp.touchpoint, want)
		}
	}
	// a micros writer's time is read as micros, through goavro
	tp := sample()
	b, err := c.EncodeTouchpoint(ctx, 103, tp)
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.DecodeTouchpoint(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.EventTime.Equal(tp.EventTime) {
		t.Fatalf("timestamp-micros writer: got %s, want %s", back.EventTime, tp.EventTime)
	}
	// a v2 record, with its extra field, is read by goavro as before
	native := sample().ToAvro()
	native["consent"] = map[string]any{"string": "granted"}
	if b, err = c.Encode(ctx, 105, native); err != nil {
		t.Fatal(err)
	}
	if back, err = c.DecodeTouchpoint(ctx, b); err != nil || !reflect.DeepEqual(back, sample()) {
		t.Fatalf("v2 record: %+v, %v", back, err)
	}
}

// body builds an Avro body from parts: a byte, a []byte, a string (its
// length and bytes) or an int (a zig-zag long).
func body(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case []byte:
			b = append(b, p...)
		case string:
			b = appendString(b, p)
		case int:
			b = appendLong(b, int64(p))
		case int64:
			b = appendLong(b, p)
		}
	}
	return b
}

// head is a valid start of a body: event_id, event_time, event_type and
// the nine optional strings, all null.
func head() []byte {
	return body("e-1", 1_700_000_000_000, "click", make([]byte, 9))
}

// tail is a valid end after the identifiers: revenue, currency, order_id,
// properties and context, all null or empty.
var tail = []byte{0, 0, 0, 0, 0}

// TestTouchpointFastPathHostile feeds bodies whose lengths, counts or
// indexes lie, and duplicate keys: the fast path refuses each with the
// general path's error, word for word, and allocates in proportion to the
// body, not to what it claims.
func TestTouchpointFastPathHostile(t *testing.T) {
	c, id := shippedCodecs(t), Latest(KindTouchpoint).ID
	valid, err := c.EncodeTouchpoint(context.Background(), id, sample())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"string longer than the body":   body(100, "e"),
		"negative string length":        body(-5, "xxxxx"),
		"string length past int64":      body([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),
		"varint of eleven bytes":        body(head()[:4], bytes.Repeat([]byte{0x80}, 10), byte(1)),
		"union index 2":                 body(body("e-1", 1, "click"), byte(4)),
		"negative union index":          body(body("e-1", 1, "click"), byte(1)),
		"map claiming 2^31 entries":     body(head(), 1<<31, "a", "b", 0, tail),
		"map claiming 2^62 entries":     body(head(), int64(1)<<62, tail),
		"negative block, lying size":    body(head(), -1, 100, "a", "b", 0, tail),
		"negative block, short size":    body(head(), -1, 1, "a", "b", 0, tail),
		"negative block, negative size": body(head(), -1, -3, "a", "b", 0, tail),
		"smallest long as block count":  body(head(), int64(math.MinInt64), tail),
		"map key longer than the body":  body(head(), 1, 50, "x"),
		"duplicate identifier":          body(head(), 2, "a", "1", "a", "2", 0, tail),
		"duplicate in a later block":    body(head(), 1, "a", "1", -1, 4, "a", "2", 0, tail),
		"duplicate then trailing bytes": body(head(), 2, "a", "1", "a", "2", 0, tail, byte(7)),
		"decimal longer than the body":  body(head(), 0, byte(2), 40, "x"),
		"revenue past int64":            body(head(), 0, byte(2), string([]byte{0x7f, 1, 2, 3, 4, 5, 6, 7, 8}), 0, 0, 0, 0),
		"missing event_id":              body("", 1, "click", make([]byte, 9), 0, tail),
		"missing event_type":            body("e", 1, "", make([]byte, 9), 0, tail),
		"context union index 5":         body(head(), 0, 0, 0, 0, 0, byte(10)),
		"trailing bytes":                append(append([]byte{}, valid[5:]...), 1, 2),
	}
	// Duplicates among more entries than are looked through one by one
	// (mapHint), in one block and across two: the index finds them.
	many := []any{head(), 2 * mapHint}
	for i := range 2 * mapHint {
		many = append(many, fmt.Sprint("k", i%(2*mapHint-1)), "v") // the last repeats k0
	}
	cases["duplicate among many"] = body(append(many, 0, tail)...)
	split := []any{head(), mapHint + 2}
	for i := range mapHint + 2 {
		split = append(split, fmt.Sprint("k", i), "v")
	}
	cases["duplicate among many, in a later block"] = body(append(split, 1, "k3", "w", 0, tail)...)
	for n := range len(valid) - 5 {
		cases[fmt.Sprintf("cut to %d bytes", n)] = valid[5 : 5+n]
	}
	for name, b := range cases {
		msg := append(AppendHeader(nil, id), b...)
		want, wantErr := generalTouchpoint(c, msg)
		got, gotErr := c.DecodeTouchpoint(context.Background(), msg)
		if gotErr == nil || wantErr == nil {
			t.Errorf("%s: fast path %v, general path %v: both must refuse", name, gotErr, wantErr)
			continue
		}
		if gotErr.Error() != wantErr.Error() || got != nil || want != nil {
			t.Errorf("%s:\nfast path    %v\ngeneral path %v", name, gotErr, wantErr)
		}
		if errors.Is(gotErr, ErrCorrupt) != errors.Is(wantErr, ErrCorrupt) {
			t.Errorf("%s: fast path corrupt %v, general path %v", name, errors.Is(gotErr, ErrCorrupt), errors.Is(wantErr, ErrCorrupt))
		}
		var gotVE, wantVE *touchpoint.ValidationError
		if errors.As(gotErr, &gotVE) != errors.As(wantErr, &wantVE) || gotVE != nil && *gotVE != *wantVE {
			t.Errorf("%s: fast path %#v, general path %#v", name, gotVE, wantVE)
		}
	}
	// A block whose count fits the body but whose entries are not there
	// makes no room for them: the decoder allocates about one copy of the body.
	short := append(AppendHeader(nil, id), body(head(), 50_000, "a", "b", make([]byte, 100_000))...)
	if n := allocated(func() { _, _ = c.DecodeTouchpoint(context.Background(), short) }); n > 2*uint64(len(short)) {
		t.Fatalf("a %d-byte body claiming 50,000 entries allocated %d bytes", len(short), n)
	}
	// A map claiming 2^31 entries allocates nothing in proportion to the claim.
	huge := append(AppendHeader(nil, id), body(head(), 1<<31, "a", "b", 0, tail)...)
	if per := allocated(func() {
		for range 100 {
			if _, err := c.DecodeTouchpoint(context.Background(), huge); !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
		}
	}) / 100; per > 2048 {
		t.Fatalf("a %d-byte body claiming 2^31 entries allocated %d bytes", len(huge), per)
	}
}

// FuzzDecodeTouchpoint checks that the fast decoder never panics and
// agrees with the general path on every body: the same touchpoint, or the
// same error text.
func FuzzDecodeTouchpoint(f *testing.F) {
	c, id := shippedCodecs(f), Latest(KindTouchpoint).ID
	r := rand.New(rand.NewPCG(7, 7))
	for range 20 {
		b, err := c.EncodeTouchpoint(context.Background(), id, randomTouchpoint(r))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[5:])
	}
	f.Add(body(head(), 2, "a", "1", "a", "2", 0, tail))
	f.Add(body(head(), -1, 4, "a", "1", 0, tail))
	f.Add(body(head(), 1<<31, "a", "b", 0, tail))
	f.Add(body(head(), 0, byte(2), string([]byte{0x7f, 1, 2, 3, 4, 5, 6, 7, 8}), 0, 0, 0, 0))
	f.Add(body("e\xff", 1, "cl\xc3", make([]byte, 9), 1, "\xed\xa0\x80", "v", 0, tail)) // not UTF-8
	f.Add(body(head(), 0, 0, 0, 0, 0, byte(10)))                                        // context index 5
	f.Add(body(head(), 0, tail, byte(7)))                                               // a trailing byte
	f.Fuzz(func(t *testing.T, b []byte) {
		msg := append(AppendHeader(nil, id), b...)
		want, wantErr := generalTouchpoint(c, msg)
		got, gotErr := c.DecodeTouchpoint(context.Background(), msg)
		switch {
		case (gotErr == nil) != (wantErr == nil):
			t.Fatalf("fast path %v, general path %v", gotErr, wantErr)
		case gotErr != nil && gotErr.Error() != wantErr.Error():
			t.Fatalf("fast path %q\ngeneral path %q", gotErr, wantErr)
		case !reflect.DeepEqual(got, want):
			t.Fatalf("fast path %+v\ngeneral path %+v", got, want)
		}
	})
}
