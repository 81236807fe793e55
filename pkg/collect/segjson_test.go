package collect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSegmentDecoderReadsAsEncodingJSON: hand-computed messages for what
// encoding/json does besides the obvious: keys matched without regard to
// case, the last of a repeated key winning into what the first left, null
// leaving a string and emptying an id, escapes and surrogate pairs, invalid
// UTF-8 and lone surrogates replaced, numbers as written.
func TestSegmentDecoderReadsAsEncodingJSON(t *testing.T) {
	m, err := decodeMessage(`{"TYPE":"track","type":"page","Event":"E","event":null,"userId":"u","userId":null,
		"anonymousId":-1.50e+2,"messageId":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x\udc00",
		"name":"caf` + "\xff\xfe" + `","context":{"ip":"1.2.3.4","page":{"url":"u1"}},"CONTEXT":{"userAgent":"ua","page":{"referrer":"r"},"library":{"x":[1,{"y":null}]}},
		"properties":{"a":1,"b":[true,false,null,"s",{}]},"properties":{"a":"2"},"traits":{"x":1},"traits":null,"meſſageId":"x"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{Type: "page", Event: "E", AnonymousID: "-1.50e+2", MessageID: "x", Name: "caf\ufffd\ufffd",
		Context:    &messageContext{IP: "1.2.3.4", UserAgent: "ua", Page: &page{URL: "u1", Referrer: "r"}},
		Properties: dict{{"a", jsonValue{kind: kindString, text: "2"}}, {"b", jsonValue{kind: kindNested, nested: []any{true, false, nil, "s", map[string]any{}}}}}}
	if !reflect.DeepEqual(canonical(m), want) {
		t.Errorf("got  %#v\nwant %#v", m, want)
	}
	m, err = decodeMessage(`{"messageId":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x\udc00\ud83d\u0041"}`)
	if want := "a\"\\/\b\f\n\r\té😀\ufffdx\ufffd\ufffdA"; err != nil || m.MessageID != want {
		t.Errorf("escapes: %q (%v), want %q", m.MessageID, err, want)
	}
	m, err = decodeMessage(` null `)
	if err != nil || !reflect.DeepEqual(m, &Message{}) {
		t.Errorf("null: %+v, %v", m, err)
	}
}

// TestSegmentDecoderErrors: what a bad body is told, the offset of a
// syntax error included.
func TestSegmentDecoderErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"type":"track",`:                 "unexpected end of JSON input (at byte 16)",
		`{"type":"track"} {}`:              "data after the JSON value (at byte 17)",
		"{}\x00":                           "data after the JSON value (at byte 2)",
		`{"type":"track" "event":"x"}`:     `invalid character '"' after object key:value pair (at byte 16)`,
		`{"type":"tr` + "\x01" + `ack"}`:   `invalid character '\x01' in string literal (at byte 11)`,
		`{"type":"\q"}`:                    `invalid character 'q' in string escape code (at byte 10)`,
		`{"type":"\u12x4"}`:                `invalid character 'x' in \u hexadecimal character escape (at byte 13)`,
		`{"revenue":01}`:                   `invalid character '1' after object key:value pair (at byte 12)`,
		`{"a":-}`:                          `invalid character '}' in numeric literal (at byte 6)`,
		`{"a":1.}`:                         `invalid character '}' after decimal point in numeric literal (at byte 7)`,
		`{"a":nul}`:                        `invalid character '}' in literal null (expecting 'l') (at byte 8)`,
		`{"type":7}`:                       "type: cannot take a number, want a string",
		`{"context":{"page":{"url":[1]}}}`: "context.page.url: cannot take an array, want a string",
		`{"properties":"x"}`:               "properties: cannot take a string, want an object",
		`[]`:                               "message: cannot take an array, want an object",
		strings.Repeat("[", maxDepth+1):    fmt.Sprintf("exceeded max depth (at byte %d)", maxDepth),
	} {
		_, err := decodeMessage(body)
		if err == nil || err.Error() != want {
			t.Errorf("%.40s: %v, want %q", body, err, want)
		}
	}
	deep := `{"properties":{"p":` + strings.Repeat("[", maxDepth-2) + strings.Repeat("]", maxDepth-2) + `}}`
	if _, err := decodeMessage(deep); err != nil {
		t.Errorf("nesting of %d: %v", maxDepth, err)
	}
}

// TestSegmentDecoderBatch: the records of batches, hand-computed: a
// message without messageId keeps its own JSON, a message of the wrong
// shape is refused alone, a body that is not a batch is refused whole;
// a repeated batch key is read into the messages the first one left,
// as encoding/json reuses its slice.
func TestSegmentDecoderBatch(t *testing.T) {
	recs, h, err := decodeBatch(`{"sentAt":"s","batch":[{"messageId":"m1","type":"track"}, {"type":"page"} ,5,null],"writeKey":"k"}`)
	if err != nil || h != (batchHeader{SentAt: "s", WriteKey: "k"}) || len(recs) != 4 {
		t.Fatalf("%+v %+v %v", recs, h, err)
	}
	if recs[0].msg.MessageID != "m1" || recs[1].raw != `{"type":"page"}` || recs[1].msg.Type != "page" ||
		recs[2].decoded == nil || recs[2].decoded.Error() != "message: invalid JSON: message: cannot take a number, want an object" ||
		recs[3].raw != "null" || !reflect.DeepEqual(recs[3].msg, &Message{}) {
		t.Errorf("records %+v", recs)
	}
	recs, _, err = decodeBatch(`{"batch":[{"messageId":"a","event":"A"},{"messageId":"b"}],"batch":[{"type":"page"}]}`)
	if err != nil || len(recs) != 1 || !reflect.DeepEqual(recs[0].msg, &Message{MessageID: "a", Event: "A", Type: "page"}) {
		t.Errorf("a repeated batch: %+v %v", recs, err)
	}
	for body, want := range map[string]string{
		`{"batch":{}}`:         "batch: cannot take an object, want an array",
		`{"sentAt":1}`:         "sentAt: cannot take a number, want a string",
		`[{"type":"track"}]`:   "body: cannot take an array, want an object",
		`{"batch":[{"a":]}`:    "invalid character ']' looking for beginning of value (at byte 15)",
		`{"batch":[]} x`:       "data after the JSON value (at byte 13)",
		`{"batch":[{},{}]`:     "unexpected end of JSON input (at byte 16)",
		`{"batch":[{"a":1}}]}`: "invalid character '}' after array element (at byte 17)",
	} {
		if _, _, err := decodeBatch(body); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// segmentBodies are the bodies the package's tests send (the benchmark's
// batches, messages of the server and converter tests) and those in
// testdata/sdk: what Segment's Python, Node and browser SDKs sent for
// test/clients' scenario, recorded as its wire tests receive them.
func segmentBodies(t testing.TB) map[string]string {
	bodies := map[string]string{"bench-1": benchBatch(1), "bench-100": benchBatch(100),
		"track":  track("m-1", `,"userId":42,"properties":{"revenue":"1.5","currency":"eur"}`),
		"bad id": track("m-3", `,"userId":{"id":1}`),
		"alias":  `{"type":"alias","previousId":"a-0","userId":"u-1","messageId":"m-9"}`,
		"identify": `{"type":"identify","userId":"u","traits":{"email":"Jane@Example.com","phone":"+44 20 7946 0958"},
			"context":{"traits":{"email":"x@example.com"},"device":{"type":"mobile"},"os":{"name":"iOS"},"location":{"country":"GB"}}}`,
		"no ids": `{"batch":[{"type":"page","anonymousId":"a-2"},{"type":"track","event":"X"},{"type":"nope","userId":"u"}]}`,
	}
	files, err := filepath.Glob(filepath.Join("testdata", "sdk", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the SDKs' bodies in testdata/sdk: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bodies[filepath.Base(f)] = string(b)
	}
	return bodies
}

// TestSegmentDecoderOnTheSDKsBodies: the bodies Segment's Python, Node and
// browser SDKs sent (testdata/sdk) and those of the package's tests decode
// as encoding/json decodes them, as a batch and as a call.
func TestSegmentDecoderOnTheSDKsBodies(t *testing.T) {
	for name, body := range segmentBodies(t) {
		t.Run(name, func(t *testing.T) {
			decodedAlike(t, []byte(body), "batch")
			decodedAlike(t, []byte(body), "track")
		})
	}
}

// randomJSON writes random JSON of the kinds a Segment message holds:
// the keys touchline reads (some in other cases, some repeated), others,
// values of every type with escapes, surrogates and invalid UTF-8.
type randomJSON struct {
	r *rand.Rand
	b strings.Builder
}

var randomKeys = append(append(append(append([]string{}, messageKeys...), contextKeys...), campaignKeys...),
	"url", "referrer", "country", "type", "name", "email", "phone", "revenue", "MESSAGEID", "Context", "batch", "integrations", "ſentAt", "x")

func (g *randomJSON) str() {
	parts := []string{"a", "é", `\"`, `\\`, `\/`, `\n`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\udc00x`, "\xff", "😀", " ", "1", "\u2028"}
	g.b.WriteByte('"')
	for range g.r.IntN(6) {
		g.b.WriteString(parts[g.r.IntN(len(parts))])
	}
	g.b.WriteByte('"')
}

func (g *randomJSON) value(depth int) {
	switch k := g.r.IntN(10); {
	case k < 3:
		g.str()
	case k == 3:
		g.b.WriteString([]string{"0", "-1", "19.99", "1e3", "-0.5E-2", "12345678901234567890"}[g.r.IntN(6)])
	case k == 4:
		g.b.WriteString([]string{"true", "false", "null"}[g.r.IntN(3)])
	case k < 8 && depth < 4:
		g.object(depth + 1)
	case depth < 4:
		g.b.WriteByte('[')
		for i := range g.r.IntN(4) {
			if i > 0 {
				g.b.WriteByte(',')
			}
			g.value(depth + 1)
		}
		g.b.WriteByte(']')
	default:
		g.str()
	}
}

func (g *randomJSON) object(depth int) {
	g.b.WriteString("{ ")
	for i := range g.r.IntN(8) {
		if i > 0 {
			g.b.WriteString(",\n")
		}
		if g.r.IntN(4) == 0 {
			g.str()
		} else {
			key := randomKeys[g.r.IntN(len(randomKeys))]
			if g.r.IntN(5) == 0 {
				key = strings.ToUpper(key)
			}
			json.NewEncoder(&g.b).Encode(key) //nolint:errcheck // a string always encodes
		}
		g.b.WriteString(": ")
		g.value(depth)
	}
	g.b.WriteString("}")
}

// batch writes a batch body of up to n random messages; with repeated
// set, it may have a second batch array, which encoding/json reads into
// the first one's messages.
func (g *randomJSON) batch(n int, repeated bool) {
	g.b.WriteString(`{"batch":[`)
	for j := range g.r.IntN(n + 1) {
		if j > 0 {
			g.b.WriteByte(',')
		}
		g.object(0)
	}
	g.b.WriteString(`],"sentAt":"2026-11-30T10:00:00Z"`)
	if repeated && g.r.IntN(3) == 0 {
		g.b.WriteString(`,"batch":[`)
		for j := range g.r.IntN(3) {
			if j > 0 {
				g.b.WriteByte(',')
			}
			g.object(0)
		}
		g.b.WriteString(`]`)
	}
	g.b.WriteString(`}`)
}

// TestSegmentDecoderOnRandomMessages: random messages and batches of them
// (the property: the scanner decodes as encoding/json does, accepting and
// refusing alike); one in ten made invalid by a cut.
func TestSegmentDecoderOnRandomMessages(t *testing.T) {
	g := &randomJSON{r: rand.New(rand.NewPCG(16, 2026))}
	var whole, alone, good int // bodies refused, messages refused alone, messages accepted
	for i := range 3000 {
		g.b.Reset()
		if i%2 == 0 {
			g.object(0)
		} else {
			g.batch(4, false)
		}
		body := g.b.String()
		if i%10 == 9 {
			body = body[:g.r.IntN(len(body))]
		}
		for _, call := range []string{"batch", "page"} {
			switch n := decodedAlike(t, []byte(body), call); {
			case n < 0:
				whole++
			case n > 0:
				alone += n
			default:
				good++
			}
		}
	}
	if whole < 500 || alone < 500 || good < 500 {
		t.Errorf("%d bodies refused, %d messages refused alone, %d bodies all good: the messages are not random enough", whole, alone, good)
	}
}

// TestSegmentDecoderReusesItsRoomCleanly: batches read one after another
// into the same room (as a request's scratch is reused) decode as
// encoding/json decodes each alone, whatever the batch before left there:
// more messages, more members, messages of a second batch array.
func TestSegmentDecoderReusesItsRoomCleanly(t *testing.T) {
	g := &randomJSON{r: rand.New(rand.NewPCG(17, 2026))}
	w := new(scratch)
	var good int
	for range 3000 {
		g.b.Reset()
		g.batch(8, true)
		if decodedAlikeIn(t, []byte(g.b.String()), "batch", w) == 0 {
			good++
		}
	}
	if good < 500 || cap(w.msgs) < 8 || cap(w.read) == 0 {
		t.Errorf("%d bodies all good, room for %d messages and %d members: the batches are not random enough", good, cap(w.msgs), cap(w.read))
	}
}

// TestSlabKeepsBoundedRoom: a slab hands out zero values again after a
// reset, in the room it kept, and keeps at most maxKeptSlabChunks chunks
// of a batch that took more.
func TestSlabKeepsBoundedRoom(t *testing.T) {
	var s slab[campaign]
	first := s.take()
	first.Source = "left"
	for range (maxKeptSlabChunks+3)*slabChunk - 1 {
		s.take().Name = "left"
	}
	if len(s.chunks) != maxKeptSlabChunks+3 {
		t.Fatalf("%d chunks after %d values, want %d", len(s.chunks), s.used, maxKeptSlabChunks+3)
	}
	s.reset()
	if len(s.chunks) != maxKeptSlabChunks {
		t.Errorf("%d chunks kept, want %d", len(s.chunks), maxKeptSlabChunks)
	}
	again := s.take()
	if again != first || *again != (campaign{}) {
		t.Errorf("after a reset took %p holding %+v, want the first value's room (%p), zero", again, *again, first)
	}
	for range maxKeptSlabChunks*slabChunk + 1 {
		if v := s.take(); *v != (campaign{}) {
			t.Fatalf("took %+v after a reset, want zero", *v)
		}
	}
}

// FuzzSegmentDecode: the scanner never panics, and accepts and refuses
// what encoding/json accepts and refuses, with the same records.
func FuzzSegmentDecode(f *testing.F) {
	for _, body := range segmentBodies(f) {
		f.Add([]byte(body))
	}
	f.Add([]byte(`{"batch":[{"messageId":"a","event":"A"},{"messageId":"b"}],"batch":[{"type":"page"}],"BATCH":null}`))
	f.Add([]byte(`{"context":{"campaign":{"NAME":"\ud800\udc00"},"page":null},"Context":{"campaign":{"source":"s"}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		decodedAlike(t, body, "batch")
		decodedAlike(t, body, "identify")
	})
}

// TestSegmentDecoderEdges: bodies at encoding/json's edges, each decoded
// as it decoded them, and accepted or refused as computed by hand.
func TestSegmentDecoderEdges(t *testing.T) {
	nested := func(depth int) string { // a message whose properties nest depth levels in all
		return `{"batch":[{"messageId":"m","properties":{"p":` + strings.Repeat("[", depth-4) + strings.Repeat("]", depth-4) + `}}]}`
	}
	for _, c := range []struct {
		name, body string
		refused    int // -1: the whole body
	}{
		{"nesting of 10,000", nested(maxDepth), 0},
		{"nesting of 10,001", nested(maxDepth + 1), -1},
		{"an escaped key", `{"batch":[{"messageId":"m","\u0074ype":"track","t\u0059PE":"page"}]}`, 0},
		{"a key folded by Unicode", `{"batch":[{"meſſageId":"m","ſentAt":"s"}],"ſentAt":"t"}`, 0},
		{"a repeated batch, the first longer", `{"batch":[{"messageId":"a","event":"A"},{"messageId":"b"}],"batch":[{"messageId":"c"}],"batch":[{},{}]}`, 0},
		{"a repeated batch, a message of the wrong shape", `{"batch":[{"messageId":"a","event":"A"},5],"batch":[{"type":"page"}]}`, 0},
		{"a bad message after a good one", `{"batch":[{"messageId":"a"},{"userId":true}]}`, 1},
		{"an empty body", ``, -1},
		{"white space only", " \t\r\n", -1},
		{"a BOM", "\xef\xbb\xbf{}", -1},
		{"a lone low surrogate and a high one at the end", `{"batch":[{"messageId":"\udc00\ud800"}]}`, 0},
	} {
		if got := decodedAlike(t, []byte(c.body), "batch"); got != c.refused {
			t.Errorf("%s: %d refused, want %d", c.name, got, c.refused)
		}
	}
}

// TestSpecialFindsEveryByteThatMatters: in eight bytes of plain text, a
// quote, a backslash, a control character or a byte beyond ASCII is seen
// at every place; in random words, none is ever missed.
func TestSpecialFindsEveryByteThatMatters(t *testing.T) {
	matters := func(c byte) bool { return c == '"' || c == '\\' || c < ' ' || c >= 0x80 }
	word := func(b [8]byte) uint64 {
		var w uint64
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(b[i])
		}
		return w
	}
	for c := range 256 {
		for at := range 8 {
			b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			b[at] = byte(c)
			if got := special(word(b)); got != matters(byte(c)) {
				t.Errorf("byte %#x at %d: %v", c, at, got)
			}
		}
	}
	r := rand.New(rand.NewPCG(8, 8))
	for range 100000 {
		var b [8]byte
		seen := false
		for i := range b {
			b[i] = byte(r.IntN(256))
			seen = seen || matters(b[i])
		}
		if seen && !special(word(b)) {
			t.Fatalf("%q: missed", b[:])
		}
	}
}

// TestContextObjectsShareAllocations: the context objects of a batch's
// messages (context, campaign, page, ...) are handed out from chunks, so
// a batch of 100 messages with a campaign and a page takes a few
// allocations for them rather than 300; each message still has its own.
func TestContextObjectsShareAllocations(t *testing.T) {
	body := benchBatch(100)
	recs, _, err := decodeBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].msg.Context == recs[1].msg.Context || recs[0].msg.Context.Page == recs[1].msg.Context.Page ||
		recs[0].msg.Context.Page.URL == recs[1].msg.Context.Page.URL {
		t.Fatal("two messages share a context")
	}
	// 567 when written: the messages, their properties and their values.
	if allocs := testing.AllocsPerRun(20, func() { _, _, _ = decodeBatch(body) }); allocs > 600 {
		t.Errorf("decoding a batch of 100 took %v allocations, want at most 600 (855 with one per context object)", allocs)
	}
}
