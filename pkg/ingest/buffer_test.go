package ingest

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/kafka"
)

func TestBufferDropKeepsOwnedPartitions(t *testing.T) {
	var b buffer
	now := time.Now()
	add := func(topic string, p int32, off int64) *kgo.Record {
		r := &kgo.Record{Topic: topic, Partition: p, Offset: off}
		b.consumed(r, now)
		return r
	}
	for p := int32(0); p < 3; p++ {
		add("tp", p, 10)
		b.touchpoints = append(b.touchpoints, clickhouse.TouchpointRow{SourcePartition: p})
		add("sp", p, 20)
		b.spend = append(b.spend, clickhouse.SpendRow{})
		b.spendFrom = append(b.spendFrom, p)
		add("xr", p, 30)
		b.rates = append(b.rates, clickhouse.ExchangeRateRow{})
		b.ratesFrom = append(b.ratesFrom, p)
		r := add("tp", p, 11)
		b.dead = append(b.dead, r)
		b.deadFrom = append(b.deadFrom, partitionRef{"tp", p})
	}
	b.drop(kafka.Topics{Touchpoints: "tp", Spend: "sp", ExchangeRates: "xr"}, map[string][]int32{"tp": {1}, "sp": {0, 2}, "xr": {1}})
	if len(b.touchpoints) != 2 || b.touchpoints[0].SourcePartition != 0 || b.touchpoints[1].SourcePartition != 2 {
		t.Fatalf("touchpoints left: %+v", b.touchpoints)
	}
	if len(b.spend) != 1 || b.spendFrom[0] != 1 {
		t.Fatalf("spend left from %v", b.spendFrom)
	}
	if len(b.rates) != 2 || b.ratesFrom[0] != 0 || b.ratesFrom[1] != 2 {
		t.Fatalf("exchange rates left from %v", b.ratesFrom)
	}
	if len(b.dead) != 2 || b.deadFrom[0].partition != 0 || b.deadFrom[1].partition != 2 {
		t.Fatalf("dead letters left from %v", b.deadFrom)
	}
	if b.records != 7 {
		t.Fatalf("records = %d, want 7", b.records)
	}
	if _, ok := b.offsets["tp"][1]; ok {
		t.Fatal("offset of a dropped partition kept")
	}
	if got := b.offsets["tp"][0].Offset; got != 12 {
		t.Fatalf("commit offset of tp/0 = %d, want 12 (last consumed + 1)", got)
	}
	if got := b.offsets["sp"][1].Offset; got != 21 {
		t.Fatalf("commit offset of sp/1 = %d, want 21", got)
	}
}

// TestRecycledRowsAreReusedEmpty: the rows of a written buffer go to the
// next buffer emptied and zeroed (holding on to no strings), and a second
// recycle while one is kept does not block.
func TestRecycledRowsAreReusedEmpty(t *testing.T) {
	s := &Service{spare: make(chan []clickhouse.TouchpointRow, 1)}
	if b := s.newBuffer(); b.touchpoints != nil {
		t.Fatalf("a first buffer has %d rows of room", cap(b.touchpoints))
	}
	rows := make([]clickhouse.TouchpointRow, 3, 10)
	rows[1] = clickhouse.TouchpointRow{EventID: "e", PropertyKeys: []string{"k"}}
	s.recycle(rows)
	s.recycle(make([]clickhouse.TouchpointRow, 5)) // kept only when there is room
	b := s.newBuffer()
	if len(b.touchpoints) != 0 || cap(b.touchpoints) != 10 {
		t.Fatalf("next buffer's rows: len %d cap %d, want 0 and 10", len(b.touchpoints), cap(b.touchpoints))
	}
	if got := b.touchpoints[:3][1]; got.EventID != "" || got.PropertyKeys != nil {
		t.Fatalf("a recycled row still holds %+v", got)
	}
	if b := s.newBuffer(); b.touchpoints != nil {
		t.Fatal("the same rows were handed out twice")
	}
}
