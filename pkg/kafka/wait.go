package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceAndWait produces records synchronously with cl, then waits until
// group has committed past every one of them (the group's consumers have
// processed them), or ctx ends. With ifActive, it does not wait when group
// has committed nothing on the records' topics: no consumer runs yet, and
// one that starts reads them first.
func ProduceAndWait(ctx context.Context, cl *kgo.Client, group string, ifActive bool, records ...*kgo.Record) error {
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("producing to %s: %w", records[0].Topic, err)
	}
	adm := kadm.NewClient(cl)
	for {
		offsets, err := adm.FetchOffsets(ctx, group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			offsets, err = nil, nil
		}
		if err == nil {
			done, active := true, false
			for _, r := range records {
				o, ok := offsets.Lookup(r.Topic, r.Partition)
				done = done && ok && o.At > r.Offset
				active = active || len(offsets[r.Topic]) > 0
			}
			if done || (ifActive && !active) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for consumer group %s to process what was produced to %s: %w", group, records[0].Topic, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TopicExists reports whether topic exists.
func TopicExists(ctx context.Context, cl *kgo.Client, topic string) (bool, error) {
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("looking for topic %s: %w", topic, err)
	}
	return topics.Has(topic) && topics[topic].Err == nil, nil
}
