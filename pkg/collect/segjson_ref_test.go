package collect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// This file keeps the collector's decoding of Segment messages as it was
// with encoding/json, the reference the scanner of segjson.go is held to.

// UnmarshalJSON takes a JSON string or number (null is empty).
func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("an id must be a string or a number, not %s", b)
	}
	*f = flexString(n.String())
	return nil
}

// UnmarshalJSON reads an object into the dict as encoding/json read it
// into the map[string]any the collector had: null empties it, an object
// adds to what it holds.
func (d *dict) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := refJSON(b, &m); err != nil {
		return err
	}
	if m == nil {
		*d = nil
		return nil
	}
	if *d == nil {
		*d = dict{}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		*d = append(*d, member{key: k, val: valueOf(m[k])})
	}
	return nil
}

// valueOf is v, as encoding/json decodes a value into an interface, as
// a jsonValue.
func valueOf(v any) jsonValue {
	switch v := v.(type) {
	case nil:
		return jsonValue{}
	case string:
		return jsonValue{kind: kindString, text: v}
	case json.Number:
		return jsonValue{kind: kindNumber, text: string(v)}
	case bool:
		return jsonValue{kind: kindBool, text: strconv.FormatBool(v)}
	}
	return jsonValue{kind: kindNested, nested: v}
}

// canonical is a copy of m whose dicts hold each key once, with its
// last value, in key order: two messages whose dicts read the same are
// deeply equal once canonical.
func canonical(m *Message) *Message {
	if m == nil {
		return nil
	}
	c := *m
	c.Properties, c.Traits = c.Properties.canonical(), c.Traits.canonical()
	if m.Context != nil {
		ctx := *m.Context
		ctx.Traits = ctx.Traits.canonical()
		c.Context = &ctx
	}
	return &c
}

// canonical is d with each key once, its last value, in key order.
func (d dict) canonical() dict {
	if d == nil {
		return nil
	}
	last := map[string]jsonValue{}
	for _, m := range d {
		last[m.key] = m.val
	}
	out := dict{}
	for _, k := range slices.Sorted(maps.Keys(last)) {
		out = append(out, member{key: k, val: last[k]})
	}
	return out
}

// refJSON decodes exactly one JSON value of data into v, numbers as
// json.Number.
func refJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// refRecord is a record as encoding/json decoded it: a message and its
// JSON, or the error that refused it.
type refRecord struct {
	msg *Message
	raw []byte
	err error
}

// refMessage decodes one message as the collector did.
func refMessage(raw []byte, call string) refRecord {
	m := &Message{}
	if err := refJSON(raw, m); err != nil {
		return refRecord{err: err}
	}
	if call != "" {
		m.Type = call
	}
	return refRecord{msg: m, raw: raw}
}

// refBatch decodes a batch as the collector did: in one pass when every
// message decodes and has a messageId, else message by message.
func refBatch(body []byte) ([]refRecord, batchHeader, error) {
	var once struct {
		batchHeader
		Batch []Message `json:"batch"`
	}
	if err := refJSON(body, &once); err == nil && !hasNoID(once.Batch) {
		recs := make([]refRecord, len(once.Batch))
		for i := range once.Batch {
			recs[i].msg = &once.Batch[i]
		}
		return recs, once.batchHeader, nil
	}
	var each struct {
		batchHeader
		Batch []json.RawMessage `json:"batch"`
	}
	if err := refJSON(body, &each); err != nil {
		return nil, batchHeader{}, err
	}
	recs := make([]refRecord, len(each.Batch))
	for i, raw := range each.Batch {
		recs[i] = refMessage(raw, "")
	}
	return recs, each.batchHeader, nil
}

func hasNoID(ms []Message) bool {
	for _, m := range ms {
		if m.MessageID == "" {
			return true
		}
	}
	return false
}

// sameRecords reports how got, the scanner's records, differ from want,
// encoding/json's: "" when each is refused by both or is the same message,
// with the same JSON when it has no messageId.
func sameRecords(got []record, want []refRecord) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d records, encoding/json %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		switch {
		case (g.decoded != nil) != (w.err != nil):
			return fmt.Sprintf("record %d: refused %v, encoding/json: %v", i, g.decoded, w.err)
		case w.err != nil:
		case !reflect.DeepEqual(canonical(g.msg), canonical(w.msg)):
			return fmt.Sprintf("record %d: %#v\nencoding/json: %#v", i, g.msg, w.msg)
		case w.msg.MessageID == "" && g.raw != string(w.raw):
			return fmt.Sprintf("record %d: JSON %q, encoding/json %q", i, g.raw, w.raw)
		}
	}
	return ""
}

// decodedAlike checks that body, sent to the endpoint of call ("batch" or
// a call type), is accepted or refused by the scanner as by encoding/json,
// with the same records, and returns the records encoding/json refused
// (-1 for the whole body).
func decodedAlike(t *testing.T, body []byte, call string) (refused int) {
	t.Helper()
	return decodedAlikeIn(t, body, call, new(scratch))
}

// decodedAlikeIn is decodedAlike reading a batch into w's room.
func decodedAlikeIn(t *testing.T, body []byte, call string, w *scratch) (refused int) {
	t.Helper()
	var (
		got            []record
		gotH, wantH    batchHeader
		want           []refRecord
		gotErr, refErr error
	)
	if call == "batch" {
		got, gotH, gotErr = w.decodeBatch(string(body))
		want, wantH, refErr = refBatch(body)
	} else {
		rec := messageRecord(string(body), call)
		got, gotErr = []record{rec}, rec.decoded
		w := refMessage(body, call)
		want, refErr = []refRecord{w}, w.err
		if rec.msg != nil {
			gotH.WriteKey = rec.msg.WriteKey
		}
		if w.msg != nil {
			wantH.WriteKey = w.msg.WriteKey
		}
	}
	if (gotErr != nil) != (refErr != nil) {
		t.Fatalf("%s %q:\nerror %v\nencoding/json: %v", call, body, gotErr, refErr)
	}
	if refErr != nil {
		return -1
	}
	if gotH != wantH {
		t.Fatalf("%s %q: header %+v, encoding/json %+v", call, body, gotH, wantH)
	}
	if diff := sameRecords(got, want); diff != "" {
		t.Fatalf("%s %q: %s", call, body, diff)
	}
	for _, w := range want {
		if w.err != nil {
			refused++
		}
	}
	return refused
}
