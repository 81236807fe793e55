package publish

import (
	"context"
	"reflect"
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
		Identifiers: map[string]string{"device_id": "d-1", "email": "jane@example.com"},
		Revenue:     &rev, Currency: "EUR", Properties: map[string]string{"reason": "size", "sku": "s-1"},
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
