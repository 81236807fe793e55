package segments

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/segments/engine"
	"github.com/touchline-io/touchline/pkg/table"
)

// membersQuery lists a segment's current members; the segment (a validated
// name: letters, digits, _) and the LIMIT clause fill it in.
const membersQuery = `SELECT person_id, member_since FROM segment_members WHERE segment = '%s' ORDER BY member_since, person_id%s`

// Members returns the current members of segment (at most limit; 0: all)
// and since when. segment must be a name of the definitions.
func Members(ctx context.Context, conn driver.Conn, segment string, limit int) (*table.Result, error) {
	return table.Run(ctx, conn, MembersSQL(segment, limit))
}

// MembersSQL is the query of Members.
func MembersSQL(segment string, limit int) string {
	limitClause := ""
	if limit > 0 {
		limitClause = " LIMIT " + strconv.Itoa(limit)
	}
	return fmt.Sprintf(membersQuery, segment, limitClause)
}

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
