package identitymap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/kafka"
)

const (
	// maxPollRecords bounds the records of one poll, and so of one pebble
	// batch.
	maxPollRecords = 5000
	// discoverEvery is how often Follow looks for partitions it does not
	// consume yet (new partitions, or a topic that did not exist).
	discoverEvery = 10 * time.Second
	// rediscoverAfterError is the same after a failed or incomplete look.
	rediscoverAfterError = time.Second
)

// Follow consumes topic (all partitions, no consumer group, from the offsets
// stored in pebble so a restart resumes where it stopped, else from the
// start) and applies every record: assignment -> set, tombstone -> delete.
// It returns when ctx ends. Offsets are stored in the same pebble batch as
// the records they cover.
//
// Follow returns nil when ctx ends, and an error when it cannot start (an
// invalid kcfg, another Follow running, a database filled from another
// topic) or cannot write to the database. Kafka errors are logged and
// retried; a topic that does not exist yet is waited for, and partitions
// added to the topic later are picked up within discoverEvery. Transaction
// markers are skipped and aborted transactional records are not applied.
//
// A map that stays stopped for longer than the topic's delete.retention.ms
// may miss tombstones that compaction removed meanwhile: remove its
// directory to rebuild it from the topic.
func (m *Map) Follow(ctx context.Context, kcfg kafka.Config, topic string) (err error) {
	start, err := m.beginFollow(topic)
	if err != nil {
		return err
	}
	defer func() { m.endFollow(err) }()
	cl, err := kafka.NewClient(kcfg, m.log,
		kgo.KeepControlRecords(), // transaction markers move the offsets CatchUp waits for
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // after data loss, read everything again
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	m.mu.Lock()
	m.adm = adm
	m.notifyLocked()
	m.mu.Unlock()
	m.log.Info("following identity map topic", zap.String("topic", topic),
		zap.Int("stored_partitions", len(start)), zap.Int("identifiers", m.Len()))

	consuming := make(map[int32]bool)
	var discoverAt time.Time
	for ctx.Err() == nil {
		if !time.Now().Before(discoverAt) {
			wait := discoverEvery
			err := m.consumeNewPartitions(ctx, cl, adm, topic, start, consuming)
			if err != nil {
				wait = rediscoverAfterError
			}
			m.mu.Lock()
			m.discoverErr = err
			m.mu.Unlock()
			discoverAt = time.Now().Add(wait)
		}
		pollCtx, cancel := context.WithDeadline(ctx, discoverAt)
		fetches := cl.PollRecords(pollCtx, maxPollRecords)
		cancel()
		if fetches.IsClientClosed() {
			return errors.New("following identity map topic: kafka client closed")
		}
		var failed error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				m.log.Warn("identity map fetch failed", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
				failed = cmp.Or(failed, fmt.Errorf("fetching partition %d of %s: %w", p, t, err))
			}
		})
		m.setFetchErr(failed)
		if err := m.apply(fetches.Records()); err != nil {
			return err
		}
	}
	return nil
}

// beginFollow marks the map as following topic and returns the stored
// offsets to start from. The first Follow of a database records its topic.
func (m *Map) beginFollow(topic string) (map[int32]int64, error) {
	if topic == "" {
		return nil, errors.New("identity map topic is empty")
	}
	m.dbMu.RLock()
	defer m.dbMu.RUnlock()
	if m.closed.Load() {
		return nil, ErrClosed
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.following {
		return nil, errors.New("identity map is already following its topic")
	}
	switch m.topic {
	case topic:
	case "":
		if err := m.db.Set(keyTopic, []byte(topic), pebble.Sync); err != nil {
			return nil, fmt.Errorf("writing identity map database: %w", err)
		}
		m.topic = topic
	default:
		return nil, fmt.Errorf("identity map database holds topic %q, not %q: use another directory", m.topic, topic)
	}
	start := make(map[int32]int64, len(m.next))
	for p, o := range m.next {
		start[p] = o
	}
	m.following, m.stopErr = true, nil
	m.notifyLocked()
	return start, nil
}

// endFollow records that Follow returned with err.
func (m *Map) endFollow(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.following, m.adm = false, nil
	m.fetchErr, m.discoverErr = nil, nil
	m.stopErr = ErrNotFollowing
	if err != nil {
		m.stopErr = fmt.Errorf("%w: %w", ErrNotFollowing, err)
	}
	m.notifyLocked()
}

// setFetchErr records the error of the last poll, nil when it had none.
func (m *Map) setFetchErr(err error) {
	m.mu.Lock()
	m.fetchErr = err
	m.mu.Unlock()
}

// FetchErr returns why the map, while it follows its topic, could not read
// it at the last attempt (a partition the broker refuses or cannot list,
// say), or nil: the copy then lags the topic without stopping, so a
// service's readiness reports it.
func (m *Map) FetchErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.discoverErr, m.fetchErr)
}

// consumeNewPartitions starts consuming the partitions of topic that are not
// in consuming yet, from their stored offset or else from the start. It
// returns why the topic or one of its partitions could not be listed, or
// nil.
func (m *Map) consumeNewPartitions(ctx context.Context, cl *kgo.Client, adm *kadm.Client, topic string, start map[int32]int64, consuming map[int32]bool) error {
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("listing identity map partitions", zap.String("topic", topic), zap.Error(err))
		}
		return fmt.Errorf("listing the partitions of %s: %w", topic, err)
	}
	var incomplete error
	add := make(map[int32]kgo.Offset)
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			incomplete = cmp.Or(incomplete, fmt.Errorf("partition %d of %s unavailable: %w", o.Partition, topic, o.Err))
			if ctx.Err() == nil {
				m.log.Warn("identity map topic partition unavailable", zap.String("topic", topic),
					zap.Int32("partition", o.Partition), zap.Error(o.Err))
			}
			return
		}
		if consuming[o.Partition] {
			return
		}
		consuming[o.Partition] = true
		if next, ok := start[o.Partition]; ok {
			add[o.Partition] = kgo.NewOffset().At(next)
		} else {
			add[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(add) > 0 {
		m.log.Info("consuming identity map partitions", zap.String("topic", topic), zap.Int("partitions", len(add)))
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: add})
	}
	if incomplete == nil && len(consuming) == 0 {
		return fmt.Errorf("%s has no partitions", topic)
	}
	return incomplete
}

// CatchUp blocks until the map has applied every record that was in the
// topic when CatchUp was called (high watermarks read with kadm at that
// moment), or ctx ends. Use it on start before serving lookups.
//
// CatchUp works while Follow runs in another goroutine, and may be called
// before Follow has started: it waits for Follow to connect. It returns an
// error wrapping ErrNotFollowing when Follow returns (or has returned) before
// the map caught up, and an error when the topic does not exist. An empty
// topic, or one whose partitions hold no records any more, is caught up
// immediately. Records in a transaction still open are waited for.
func (m *Map) CatchUp(ctx context.Context) error {
	adm, topic, err := m.waitConnected(ctx)
	if err != nil {
		return err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("listing end offsets of identity map topic %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("listing start offsets of identity map topic %s: %w", topic, err)
	}
	want := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Offset >= o.Offset {
			return // nothing to read
		}
		want[o.Partition] = o.Offset
	})
	for {
		m.mu.Lock()
		done := true
		for p, end := range want {
			if m.next[p] < end {
				done = false
				break
			}
		}
		changed, following, stopErr := m.changed, m.following, m.stopErr
		m.mu.Unlock()
		switch {
		case done:
			return nil
		case !following:
			return stopErr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("catching up with identity map topic %s: %w", topic, ctx.Err())
		case <-changed:
		}
	}
}

// waitConnected waits until Follow has a Kafka client and returns its admin
// client and topic.
func (m *Map) waitConnected(ctx context.Context) (*kadm.Client, string, error) {
	for {
		m.mu.Lock()
		adm, topic, following, stopErr, changed := m.adm, m.topic, m.following, m.stopErr, m.changed
		m.mu.Unlock()
		switch {
		case adm != nil:
			return adm, topic, nil
		case !following && stopErr != nil:
			return nil, "", stopErr
		}
		select {
		case <-ctx.Done():
			return nil, "", fmt.Errorf("waiting for the identity map to follow its topic: %w", ctx.Err())
		case <-changed:
		}
	}
}
