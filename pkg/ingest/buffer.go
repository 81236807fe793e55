package ingest

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// buffer holds what was consumed since the last flush: the rows for each
// table, the dead letters, and the offsets to commit once all of it is
// durable. It is not safe for concurrent use; Service guards it.
type buffer struct {
	touchpoints []clickhouse.TouchpointRow
	spend       []clickhouse.SpendRow
	spendFrom   []int32
	rates       []clickhouse.ExchangeRateRow
	ratesFrom   []int32
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
func (b *buffer) drop(topics kafka.Topics, parts map[string][]int32) {
	gone := map[partitionRef]bool{}
	for topic, ps := range parts {
		for _, p := range ps {
			gone[partitionRef{topic, p}] = true
			delete(b.offsets[topic], p)
		}
	}
	tp := b.touchpoints[:0]
	for _, r := range b.touchpoints {
		if !gone[partitionRef{topics.Touchpoints, r.SourcePartition}] {
			tp = append(tp, r)
		}
	}
	b.touchpoints = tp
	b.spend, b.spendFrom = keepOwned(b.spend, b.spendFrom, topics.Spend, gone)
	b.rates, b.ratesFrom = keepOwned(b.rates, b.ratesFrom, topics.Rates(), gone)
	dl, dlFrom := b.dead[:0], b.deadFrom[:0]
	for i, r := range b.dead {
		if !gone[b.deadFrom[i]] {
			dl, dlFrom = append(dl, r), append(dlFrom, b.deadFrom[i])
		}
	}
	b.dead, b.deadFrom = dl, dlFrom
	b.records = len(b.touchpoints) + len(b.spend) + len(b.rates) + len(b.dead)
	if b.records == 0 {
		b.offsets = nil
	}
}

// keepOwned returns the rows of topic, and the partitions they came from,
// whose partitions are not gone.
func keepOwned[T any](rows []T, from []int32, topic string, gone map[partitionRef]bool) ([]T, []int32) {
	kept, keptFrom := rows[:0], from[:0]
	for i, r := range rows {
		if !gone[partitionRef{topic, from[i]}] {
			kept, keptFrom = append(kept, r), append(keptFrom, from[i])
		}
	}
	return kept, keptFrom
}
