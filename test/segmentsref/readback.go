package segmentsref

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// ReadPublished reads the touchpoints topic as committed, from its start
// to the end it has when called, and calls each with every touchpoint and
// the partition it was published on, in offset order on each partition.
func ReadPublished(ctx context.Context, cfg kafka.Config, each func(source int, t *touchpoint.Touchpoint) error) error {
	return readDecoded(ctx, cfg, cfg.Topics.Touchpoints, func(r *kgo.Record, rec map[string]any) error {
		t, err := touchpoint.TouchpointFromAvro(rec)
		if err != nil {
			return err
		}
		return each(int(r.Partition), t)
	})
}

// ReadChanges reads every committed change on the segment changes topic,
// and calls each with it, the partition it is on and its key.
func ReadChanges(ctx context.Context, cfg kafka.Config, each func(partition int32, key string, c Change) error) error {
	return readDecoded(ctx, cfg, cfg.Topics.SegmentChanges, func(r *kgo.Record, rec map[string]any) error {
		c := Change{Person: rec["person"].(string), Segment: rec["segment"].(string), Entered: rec["entered"].(bool), At: rec["at"].(time.Time)}
		return each(r.Partition, string(r.Key), c)
	})
}

// readDecoded reads topic as committed, from its start to the end it has
// when called, and calls each with every record and its Avro value decoded
// (by the schema registry of cfg, or the shipped schemas' ids without
// one).
func readDecoded(ctx context.Context, cfg kafka.Config, topic string, each func(r *kgo.Record, rec map[string]any) error) error {
	reg, err := kafka.NewRegistry(cfg)
	if err != nil {
		return fmt.Errorf("connecting to the schema registry: %w", err)
	}
	codecs := avro.NewCodecs(reg)
	return kafka.ReadCommitted(ctx, cfg, nil, topic, nil, func(r *kgo.Record) error {
		_, rec, err := codecs.Decode(ctx, r.Value)
		if err == nil {
			err = each(r, rec)
		}
		if err != nil {
			return fmt.Errorf("%s partition %d offset %d: %w", topic, r.Partition, r.Offset, err)
		}
		return nil
	})
}

// CustomerPersons returns a function giving the person id the router gives
// the events of a customer id nobody linked (the singleton id of the
// normalised identifier), by the identity rules of the pipelines directory
// and the identifiers' pepper.
func CustomerPersons(pipelines, pepper string) (func(customer string) (string, error), error) {
	rules, err := stitch.LoadRules(filepath.Join(pipelines, stitch.RulesFile))
	if err != nil {
		return nil, err
	}
	norm, err := rules.Normalizer(pepper)
	if err != nil {
		return nil, fmt.Errorf("building the identifier normaliser: %w", err)
	}
	customerID := identifiers.NormalizeType("customer_id")
	return func(customer string) (string, error) {
		id, err := norm.Identifier(customerID, customer)
		if err != nil {
			return "", fmt.Errorf("normalising customer id %q: %w", customer, err)
		}
		return stitch.SingletonID(id), nil
	}, nil
}

// Diff lists the changes only one side has (times compared to the
// millisecond), "-" for those missing from got and "+" for those only got
// has, in time order, at most limit of them
// (0: all) and then how many more; "" when both are the same multiset. It
// sorts copies, so that it serves millions of changes.
func Diff(got, want []Change, limit int) string {
	got, want = slices.Clone(got), slices.Clone(want)
	order := func(a, b Change) int {
		if c := cmp.Compare(a.At.UnixMilli(), b.At.UnixMilli()); c != 0 { // to the millisecond, as Canonical
			return c
		}
		if c := cmp.Compare(a.Person, b.Person); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Segment, b.Segment); c != 0 {
			return c
		}
		return cmp.Compare(boolInt(a.Entered), boolInt(b.Entered))
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	var lines []string
	more := 0
	add := func(sign string, c Change) {
		if limit > 0 && len(lines) >= limit {
			more++
			return
		}
		lines = append(lines, sign+" "+Canonical([]Change{c}))
	}
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case j == len(want) || i < len(got) && order(got[i], want[j]) < 0:
			add("+", got[i])
			i++
		case i == len(got) || order(got[i], want[j]) > 0:
			add("-", want[j])
			j++
		default:
			i++
			j++
		}
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(lines, "\n")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WritePipelines writes into dir a pipelines directory with the channel and
// identity rules shipped in the repository at repoRoot and definitions as
// its segments.yaml.
func WritePipelines(dir, repoRoot, definitions string) error {
	for _, f := range []string{"channels.yaml", "identity.yaml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "pipelines", f))
		if err != nil {
			return fmt.Errorf("reading the shipped %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return fmt.Errorf("writing the pipelines directory: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "segments.yaml"), []byte(definitions), 0o644); err != nil {
		return fmt.Errorf("writing the pipelines directory: %w", err)
	}
	return nil
}

// ReadStoredChanges reads the segment changes table tableName of conn's
// database (segment_changes, or segment_changes_local on a cluster's
// server), FINAL.
func ReadStoredChanges(ctx context.Context, conn driver.Conn, tableName string) ([]Change, error) {
	rows, err := conn.Query(ctx, "SELECT person_id, segment, entered, changed_at, changed_millis FROM "+tableName+" FINAL")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tableName, err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var entered uint8
		var millis uint16
		if err := rows.Scan(&c.Person, &c.Segment, &entered, &c.At, &millis); err != nil {
			return nil, fmt.Errorf("reading %s: %w", tableName, err)
		}
		c.Entered, c.At = entered == 1, c.At.Add(time.Duration(millis)*time.Millisecond)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", tableName, err)
	}
	return out, nil
}
