package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// ReadCommitted reads topic as committed (read_committed) from its start to
// the end offsets it has when called, and calls each with every data record
// in order. With partitions, it reads only those; otherwise all.
func ReadCommitted(ctx context.Context, cfg Config, log *zap.Logger, topic string, partitions []int32, each func(*kgo.Record) error) error {
	var from map[int32]int64
	if len(partitions) > 0 {
		from = make(map[int32]int64, len(partitions))
		for _, p := range partitions {
			from[p] = 0
		}
	}
	return ReadCommittedFrom(ctx, cfg, log, topic, from, each)
}

// ReadCommittedFrom is ReadCommitted from given offsets: it reads the
// partitions of from, each from its offset, or, with a nil from, every
// partition from its start.
func ReadCommittedFrom(ctx context.Context, cfg Config, log *zap.Logger, topic string, from map[int32]int64, each func(*kgo.Record) error) error {
	consume := kgo.ConsumeTopics(topic)
	if from != nil {
		offsets := map[int32]kgo.Offset{}
		for p, o := range from {
			offsets[p] = kgo.NewOffset().At(o)
		}
		consume = kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	}
	cl, err := NewClient(cfg, log, consume,
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are the last offsets of a transactional
		// topic; seeing them tells when the end is reached.
		kgo.KeepControlRecords())
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("reading the end offsets of %s: %w", topic, err)
	}
	pending := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		start, wanted := from[o.Partition]
		if o.Offset > start && (from == nil || wanted) {
			pending[o.Partition] = o.Offset
		}
	})
	for len(pending) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fetches.Err(); err != nil {
			return fmt.Errorf("reading %s: %w", topic, err)
		}
		var failed error
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := pending[r.Partition]; ok && r.Offset >= end-1 {
				delete(pending, r.Partition)
			}
			if failed == nil && !r.Attrs.IsControl() {
				failed = each(r)
			}
		})
		if failed != nil {
			return failed
		}
	}
	return nil
}

// PollSession polls sess until ctx ends, each poll waiting at most every for
// up to maxRecords records, and hands every poll to step; it returns step's
// first error. Fetch errors are logged (polls that merely time out are
// not).
func PollSession(ctx context.Context, sess *kgo.GroupTransactSession, maxRecords int, every time.Duration, log *zap.Logger,
	step func(context.Context, kgo.Fetches) error) error {
	for ctx.Err() == nil {
		pollCtx, cancel := context.WithTimeout(ctx, every)
		fetches := sess.PollRecords(pollCtx, maxRecords)
		cancel()
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("fetch failed", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			}
		})
		if err := step(ctx, fetches); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}
