package segments

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// PersonState is what the segments service holds of a person.
type PersonState struct {
	Person string `json:"person"`
	// Known is false when the service holds no state of the person.
	Known    bool              `json:"known"`
	AsOf     time.Time         `json:"as_of"`
	Segments []string          `json:"segments"`
	Features map[string]string `json:"features"`
}

// DescribePerson reads person's state from its partition of the committed
// changelog and computes its features as of the partition's watermark.
func DescribePerson(ctx context.Context, kcfg kafka.Config, partitions int32, defs *engine.Definitions, person string) (*PersonState, error) {
	p, want := PartitionOf(person, partitions), personKey(person)
	var meta, state []byte // the latest values: nil after a tombstone
	if err := kafka.ReadCommitted(ctx, kcfg, nil, kcfg.Topics.SegmentChangelog, []int32{p}, func(r *kgo.Record) error {
		switch string(r.Key) {
		case metaKey:
			meta = r.Value
		case want:
			state = r.Value
		}
		return nil
	}); err != nil {
		return nil, err
	}
	proc, err := NewProcessor(defs, p, partitions)
	if err != nil {
		return nil, err
	}
	if meta != nil {
		if err := proc.RestoreMeta(meta); err != nil {
			return nil, err
		}
	}
	if state != nil {
		var ps engine.Person
		if err := ps.UnmarshalBinary(state); err != nil {
			return nil, fmt.Errorf("reading the state of %s: %w", person, err)
		}
		proc.RestorePerson(&ps)
	}
	out := &PersonState{Person: person, AsOf: proc.Watermark()}
	values, members, err := proc.Describe(person, proc.Watermark())
	if err != nil || values == nil {
		return out, err
	}
	out.Known, out.Segments, out.Features = true, members, featureText(values)
	return out, nil
}
