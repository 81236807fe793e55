package activate

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/kafka"
)

// kafkaSessionTimeout is the group session timeout of the kafka
// destinations' consumer: a service restarted after a crash waits up to this
// long before it is given the changes topic again. Its transactions time
// out after six of them.
const kafkaSessionTimeout = 10 * time.Second

// KafkaGroup is the consumer group, and the transactional id, of the kafka
// destinations of a file whose group is group: a group of their own, so
// that a webhook being retried never holds them back.
func KafkaGroup(group string) string { return group + ".kafka" }

// forward feeds the kafka destinations until ctx ends: each poll of the
// changes topic becomes, in one Kafka transaction, the records of every
// kafka destination and the group's offsets past the poll. A crash, a
// rebalance or a fenced instance aborts the transaction, and the poll is
// consumed again: a read_committed reader of a destination's topic sees
// each change once.
func (s *Service) forward(ctx context.Context) error {
	group := KafkaGroup(s.file.Group)
	// Every instance shares the transactional id: a restarted service
	// fences the transaction its predecessor left open.
	sess, err := kafka.NewGroupTransactSession(s.kcfg, s.log, kafka.Session{Group: group, Topic: s.kcfg.Topics.SegmentChanges,
		TransactionalID: group, Timeout: kafkaSessionTimeout})
	if err != nil {
		return err
	}
	defer sess.Close()
	return kafka.PollSession(ctx, sess, pollRecords, time.Second, s.log, func(ctx context.Context, fetches kgo.Fetches) error {
		return s.forwardPoll(ctx, sess, fetches)
	})
}

// forwardPoll produces the records of one poll and commits them with its
// offsets. It returns an error when ClickHouse keeps failing or the
// transaction cannot end; an aborted transaction is logged and the poll is
// consumed again.
func (s *Service) forwardPoll(ctx context.Context, sess *kgo.GroupTransactSession, fetches kgo.Fetches) error {
	if fetches.NumRecords() == 0 {
		return nil
	}
	changes := s.decode(ctx, fetches)
	records, counts, err := s.kafkaRecords(ctx, changes)
	if err != nil {
		return err
	}
	aborted, err := kafka.TransactBatch(ctx, sess, records, nil)
	if err != nil {
		return fmt.Errorf("kafka destinations: %w", err)
	}
	if aborted != nil {
		s.health.Fail("kafka destinations", aborted)
		s.log.Warn("kafka destinations: consuming the changes again", zap.Error(aborted), zap.Int("changes", len(changes)))
		return nil
	}
	s.health.Pass("kafka destinations")
	for at, n := range counts {
		s.m.deliveries.WithLabelValues(at[0], at[1]).Add(float64(n))
	}
	if len(changes) > 0 {
		last := changes[len(changes)-1]
		for _, d := range s.file.Destinations {
			if d.Kind == Kafka && d.Receives(last.Segment) {
				s.m.lag.WithLabelValues(d.Name).Set(time.Since(last.At).Seconds())
			}
		}
	}
	return nil
}

// kafkaRecords returns the records of changes for the kafka destinations,
// and how many changes of each destination are delivered and erased (by
// destination and result, counted once the transaction commits). A change goes to every kafka
// destination that receives its segment, as the JSON of a webhook
// delivery, keyed by person (her changes keep their order) and with its
// idempotency key in the idempotency_key header; an erased person's
// change goes nowhere.
func (s *Service) kafkaRecords(ctx context.Context, changes []Change) ([]*kgo.Record, map[[2]string]int, error) {
	var records []*kgo.Record
	counts := map[[2]string]int{}
	if len(changes) == 0 {
		return nil, counts, nil
	}
	erased, ids, err := s.persons(ctx, changes)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range s.file.Destinations {
		if d.Kind != Kafka {
			continue
		}
		for _, c := range changes {
			if !d.Receives(c.Segment) {
				continue
			}
			if erased[c.Person] {
				counts[[2]string{d.Name, resultErased}]++
				continue
			}
			p := payload(d, c, s.exporter.Export(d, ids[c.Person]))
			value, err := json.Marshal(p)
			if err != nil {
				return nil, nil, fmt.Errorf("encoding a change for %s: %w", d.Name, err)
			}
			records = append(records, &kgo.Record{Topic: d.Topic, Key: []byte(c.Person), Value: value,
				Headers: []kgo.RecordHeader{{Key: "idempotency_key", Value: []byte(p.IdempotencyKey)}}})
			counts[[2]string{d.Name, resultDelivered}]++
		}
	}
	return records, counts, nil
}
