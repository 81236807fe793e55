package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// checkOffsetCommit fails while the offsets of written records have stayed
// uncommitted for longer than stall_timeout.
const checkOffsetCommit = "offset_commit"

// owedOffsets are the offsets of records ClickHouse holds whose commit
// failed. A later commit carries them along, and the flusher commits them
// on their own every flush_interval while nothing else is consumed: without
// that, a group member whose commit failed during a broker outage, and that
// keeps its partitions through the rejoin, would leave its committed offsets
// behind until new records arrive. Offsets of revoked or lost partitions are
// forgotten, so that a commit never moves back the offsets of their next
// owner.
type owedOffsets struct {
	// mu is held for a whole commit, so that partitions are not forgotten
	// while their offsets are on the wire and then kept as owed again.
	mu      sync.Mutex
	offsets map[string]map[int32]kgo.EpochOffset
	since   time.Time // when the commit of the owed offsets first failed
}

// mergeLocked adds offsets, which are those of records written after the
// owed ones, replacing the owed offset of each partition they name.
func (o *owedOffsets) mergeLocked(offsets map[string]map[int32]kgo.EpochOffset) {
	for topic, partitions := range offsets {
		if o.offsets == nil {
			o.offsets = map[string]map[int32]kgo.EpochOffset{}
		}
		if o.offsets[topic] == nil {
			o.offsets[topic] = map[int32]kgo.EpochOffset{}
		}
		for p, off := range partitions {
			o.offsets[topic][p] = off
		}
	}
}

// commit commits offsets together with any owed by an earlier failed
// commit. A failed commit keeps them all owed and is logged once; after
// stall_timeout of failures, readiness fails until a commit succeeds or the
// partitions are revoked or lost.
func (s *Service) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) {
	o := &s.owed
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mergeLocked(offsets)
	if len(o.offsets) == 0 {
		return
	}
	if err := s.commitOffsets(ctx, o.offsets); err != nil {
		s.m.commitErrors.Inc()
		if o.since.IsZero() {
			o.since = time.Now()
			s.log.Warn("offset commit failed; retrying every flush_interval", zap.Error(err))
		}
		if stalled := time.Since(o.since); stalled >= s.cfg.StallTimeout {
			s.health.Fail(checkOffsetCommit, fmt.Errorf("offsets of written records uncommitted for %s: %w", stalled.Round(time.Second), err))
		}
		return
	}
	if !o.since.IsZero() {
		s.log.Info("offset commit succeeded again", zap.Duration("after", time.Since(o.since)))
	}
	o.offsets, o.since = nil, time.Time{}
	s.health.Pass(checkOffsetCommit)
	s.m.commits.Inc()
}

// forgetOwed forgets the owed offsets of partitions, which are revoked or
// lost.
func (s *Service) forgetOwed(partitions map[string][]int32) {
	o := &s.owed
	o.mu.Lock()
	defer o.mu.Unlock()
	for topic, ps := range partitions {
		for _, p := range ps {
			delete(o.offsets[topic], p)
		}
		if len(o.offsets[topic]) == 0 {
			delete(o.offsets, topic)
		}
	}
	if len(o.offsets) == 0 {
		o.offsets, o.since = nil, time.Time{}
		s.health.Pass(checkOffsetCommit)
	}
}

// commitOffsets commits offsets and returns the first error, of the request
// or of a partition.
func (s *Service) commitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var commitErr error
	s.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 && commitErr == nil {
					commitErr = fmt.Errorf("topic %s partition %d: error code %d", t.Topic, p.Partition, p.ErrorCode)
				}
			}
		}
	})
	return commitErr
}
