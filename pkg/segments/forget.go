package segments

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// ForgetHeader marks a record of the inputs topic as the erasure of the
// person its key names (`touchline forget`); such a record has no value.
const ForgetHeader = "touchline.forget"

// forgottenKeyPrefix is the changelog key of an erased person
// (x/<person>): the stage drops every later input of the person, even one
// consumed again after an offset reset.
const forgottenKeyPrefix = "x/"

// Forget erases persons from the segments service of cfg: a forget record
// per person on the inputs topic, in the person's partition, and it waits
// until the stage's group has processed them. It does not wait when the
// inputs topic does not exist or the group has never committed (no
// segments service runs; one that starts reads the records first).
func Forget(ctx context.Context, kcfg kafka.Config, cfg Config, persons []string) error {
	cl, err := kafka.NewClient(kcfg, nil, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	topic := kcfg.Topics.SegmentInputs
	exists, err := kafka.TopicExists(ctx, cl, topic)
	if err != nil || !exists {
		return err
	}
	records := make([]*kgo.Record, len(persons))
	for i, person := range persons {
		records[i] = &kgo.Record{Topic: topic, Partition: PartitionOf(person, cfg.Partitions), Key: []byte(person),
			Headers: []kgo.RecordHeader{{Key: ForgetHeader, Value: []byte("1")}}}
	}
	if err := kafka.ProduceAndWait(ctx, cl, cfg.Group, true, records...); err != nil {
		return fmt.Errorf("erasing persons from the segments service: %w", err)
	}
	return nil
}

// isForget reports whether r is a forget record.
func isForget(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == ForgetHeader {
			return true
		}
	}
	return false
}

// forget erases person from partition p's processor and from this batch's
// changes, and records it as forgotten in the changelog (addState). A
// person erased before is left as it is: the forget record is being
// consumed again, and writes nothing.
func (s *Service) forget(b *batch, proc *engine.Processor, p int32, person string) error {
	s.m.inputs.WithLabelValues("forget").Inc()
	if s.isForgotten(p, person) {
		return nil
	}
	if err := proc.Forget(person); err != nil {
		return err
	}
	s.mu.Lock()
	if s.forgotten[p] == nil {
		s.forgotten[p] = map[string]bool{}
	}
	s.forgotten[p][person] = true
	s.mu.Unlock()
	b.forgotten[p] = append(b.forgotten[p], person)
	records := b.records[:0]
	for _, r := range b.records {
		if r.Topic != s.kcfg.Topics.SegmentChanges || string(r.Key) != person {
			records = append(records, r)
		}
	}
	rows := b.rows[:0]
	for _, row := range b.rows {
		if row.PersonID != person {
			rows = append(rows, row)
		}
	}
	b.changes -= len(b.rows) - len(rows)
	b.records, b.rows = records, rows
	return nil
}

// isForgotten reports whether person was erased from partition p.
func (s *Service) isForgotten(p int32, person string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forgotten[p][person]
}

// Suppressed returns the router's count of touchpoints dropped because
// they carry an erased identifier (touchline_segments_routed_total with
// kind suppressed), for enrich.Processor.WithSuppressions.
func (m *Metrics) Suppressed() prometheus.Counter { return m.routed.WithLabelValues("suppressed") }
