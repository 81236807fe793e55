package ingest

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// buffer holds what was consumed since the last flush: the rows for each
// table, the dead letters, and the offsets to commit once all of it is
// durable. It is not safe for concurrent use; Service guards it.
type buffer struct {
	touchpoints []clickhouse.TouchpointRow
	spend       []clickhouse.SpendRow
	spendFrom   []int32
	dead        []*kgo.Record
	deadFrom    []partitionRef
	// links are identity link requests; those of dropped partitions are
	// kept, since the resolver applies a request twice to no effect.
	links   []*kgo.Record
	offsets map[string]map[int32]kgo.EpochOffset
	records int
	oldest  time.Time
}

type partitionRef struct {
	topic     string
	partition int32
}

// consumed records that r was consumed, so its offset is committed at the
// next flush.
func (b *buffer) consumed(r *kgo.Record, now time.Time) {
	if b.offsets == nil {
		b.offsets = map[string]map[int32]kgo.EpochOffset{}
	}
	parts := b.offsets[r.Topic]
	if parts == nil {
		parts = map[int32]kgo.EpochOffset{}
		b.offsets[r.Topic] = parts
	}
	parts[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	if b.records == 0 {
		b.oldest = now
	}
	b.records++
}

// drop forgets everything consumed from the given partitions, which this
// instance no longer owns: their next owner consumes them again from the last
// committed offset.
func (b *buffer) drop(touchpointsTopic, spendTopic string, parts map[string][]int32) {
	gone := map[partitionRef]bool{}
	for topic, ps := range parts {
		for _, p := range ps {
			gone[partitionRef{topic, p}] = true
			delete(b.offsets[topic], p)
		}
	}
	tp := b.touchpoints[:0]
	for _, r := range b.touchpoints {
		if !gone[partitionRef{touchpointsTopic, r.SourcePartition}] {
			tp = append(tp, r)
		}
	}
	b.touchpoints = tp
	sp, spFrom := b.spend[:0], b.spendFrom[:0]
	for i, r := range b.spend {
		if !gone[partitionRef{spendTopic, b.spendFrom[i]}] {
			sp, spFrom = append(sp, r), append(spFrom, b.spendFrom[i])
		}
	}
	b.spend, b.spendFrom = sp, spFrom
	dl, dlFrom := b.dead[:0], b.deadFrom[:0]
	for i, r := range b.dead {
		if !gone[b.deadFrom[i]] {
			dl, dlFrom = append(dl, r), append(dlFrom, b.deadFrom[i])
		}
	}
	b.dead, b.deadFrom = dl, dlFrom
	b.records = len(b.touchpoints) + len(b.spend) + len(b.dead)
	if b.records == 0 {
		b.offsets = nil
	}
}
