package publish

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// TestTouchpointRecordReadsBackThroughGoavro: the value the publisher
// produces (written by avro's fast path) is the Confluent wire format of
// the shipped schema's id, which goavro reads back to the same touchpoint,
// under the key TouchpointKey gives.
func TestTouchpointRecordReadsBackThroughGoavro(t *testing.T) {
	reg, err := avro.NewStaticRegistry()
	if err != nil {
		t.Fatal(err)
	}
	codecs := avro.NewCodecs(reg)
	topics := kafka.DefaultConfig().Topics
	p := &Publisher{codecs: codecs, topics: topics, tpID: avro.Latest(avro.KindTouchpoint).ID}
	rev := touchpoint.Money(-1_250_000)
	tp := &touchpoint.Touchpoint{
		EventID: "e-9", EventTime: time.Date(2026, 11, 30, 9, 0, 0, 7_000_000, time.UTC), EventType: "refund",
		Channel: "email", PageURL: "https://shop.example/r?x=1",
		Identifiers: touchpoint.AttrsOf(map[string]string{"device_id": "d-1", "email": "jane@example.com"}),
		Revenue:     &rev, Currency: "EUR", Properties: touchpoint.AttrsOf(map[string]string{"reason": "size", "sku": "s-1"}),
		Context: &touchpoint.Context{OS: "iOS"},
	}
	r, err := p.touchpointRecord(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	if r.Topic != topics.Touchpoints || string(r.Key) != "device_id:d-1" {
		t.Fatalf("record for topic %s, key %s", r.Topic, r.Key)
	}
	id, native, err := codecs.Decode(context.Background(), r.Value)
	if err != nil || id != p.tpID {
		t.Fatalf("schema %d: %v", id, err)
	}
	back, err := touchpoint.TouchpointFromAvro(native)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, tp) {
		t.Fatalf("read back:\n got %+v\nwant %+v", back, tp)
	}
}

// TestTouchpointRecordsShareTheirAllocations: the records of a batch
// carry each touchpoint's own key (TouchpointKey, the hash form
// included) and value (EncodeTouchpoint's bytes), none running into the
// next, one timestamp (the time they were made), and a batch of 100 takes
// a few allocations in all, not several per record.
func TestTouchpointRecordsShareTheirAllocations(t *testing.T) {
	reg, err := avro.NewStaticRegistry()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := New(ctx, nil, reg, kafka.DefaultConfig().Topics)
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]*touchpoint.Touchpoint, 100)
	for i := range ts {
		ids := map[string]string{"customer_id": fmt.Sprint("c-", i)}
		if i%10 == 0 {
			ids = map[string]string{"email": fmt.Sprint(i, "@example.com")}
		}
		ts[i] = &touchpoint.Touchpoint{EventID: fmt.Sprint("e-", i), EventType: "page_view",
			EventTime: time.Date(2026, 11, 30, 9, 0, i, 0, time.UTC), Identifiers: touchpoint.AttrsOf(ids),
			Properties: touchpoint.AttrsOf(map[string]string{"user_agent": strings.Repeat("u", 300+i)})}
	}
	before := time.Now()
	recs, err := p.TouchpointRecords(ctx, ts)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	for i, r := range recs {
		if !r.Timestamp.Equal(recs[0].Timestamp) || r.Timestamp.Before(before) || r.Timestamp.After(after) {
			t.Fatalf("record %d: timestamp %v, want the first record's %v, between %v and %v", i, r.Timestamp, recs[0].Timestamp, before, after)
		}
		want, err := p.codecs.EncodeTouchpoint(ctx, p.tpID, ts[i])
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != TouchpointKey(ts[i]) || !bytes.Equal(r.Value, want) || r.Topic != p.topics.Touchpoints {
			t.Fatalf("record %d: topic %s, key %q (want %q), value %x (want %x)", i, r.Topic, r.Key, TouchpointKey(ts[i]), r.Value, want)
		}
		if cap(r.Key) != len(r.Key) || cap(r.Value) != len(r.Value) {
			t.Fatalf("record %d: key or value can grow into the next", i)
		}
	}
	// Encoded again into the memory of earlier batches, larger and
	// smaller, the records are the same: nothing of an earlier batch
	// shows through.
	room := new(recordRoom)
	for _, n := range []int{100, 3, 100, 1} {
		batch := ts[len(ts)-n:]
		again, err := p.touchpointRecords(ctx, batch, room)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range again {
			if want := recs[len(ts)-n+i]; string(r.Key) != string(want.Key) || !bytes.Equal(r.Value, want.Value) || cap(r.Value) != len(r.Value) {
				t.Fatalf("batch of %d in a used room, record %d: key %q value %x, want %q %x", n, i, r.Key, r.Value, want.Key, want.Value)
			}
		}
	}
	if allocs := testing.AllocsPerRun(20, func() {
		if _, err := p.TouchpointRecords(ctx, ts); err != nil {
			t.Fatal(err)
		}
	}); allocs > 20 { // 3, and sha256's for the ten hashed keys
		t.Errorf("100 records took %v allocations, want at most 20", allocs)
	}
}
