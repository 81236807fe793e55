package identity

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// Suppressions is the list of suppressed identifiers (erased by `touchline
// forget`) as the suppressions topic holds it: the resolver refuses to map
// them, ingest and the segments router drop the events that carry one. It
// is safe for concurrent use; a nil list suppresses nothing.
type Suppressions struct {
	mu   sync.RWMutex
	keys map[string]stitch.Suppression // by stitch.SuppressionKey
	// failingSince is when the follower's fetches began to fail (zero:
	// its last poll had no error), and failed the last error.
	failingSince time.Time
	failed       error
}

// stallAfter is how long the follower of the suppressions topic may fail
// to fetch before Err reports it.
const stallAfter = 10 * time.Second

// followPoll bounds one poll of the follower, so that a quiet topic still
// shows that fetching works.
const followPoll = 2 * time.Second

// Err reports a follower that has failed to read the suppressions topic
// for longer than stallAfter: erasures made meanwhile may not be honoured
// yet, so a service that consults the list is not ready.
func (s *Suppressions) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.errAt(time.Now())
}

func (s *Suppressions) errAt(now time.Time) error {
	if s.failingSince.IsZero() || now.Sub(s.failingSince) < stallAfter {
		return nil
	}
	return fmt.Errorf("reading the suppressed identifiers has failed since %s: %w", s.failingSince.UTC().Format(time.RFC3339), s.failed)
}

// noteFetch records the outcome of one poll of the follower: err is its
// first fetch error, nil for a clean poll.
func (s *Suppressions) noteFetch(err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.failingSince, s.failed = time.Time{}, nil
	case s.failingSince.IsZero():
		s.failingSince, s.failed = now, err
	default:
		s.failed = err
	}
}

// NewSuppressions returns an empty list.
func NewSuppressions() *Suppressions {
	return &Suppressions{keys: map[string]stitch.Suppression{}}
}

// Apply applies one record of the suppressions topic: a value suppresses
// key, a tombstone (nil value) lifts its suppression.
func (s *Suppressions) Apply(key string, value []byte) error {
	if value == nil {
		s.mu.Lock()
		delete(s.keys, key)
		s.mu.Unlock()
		return nil
	}
	sup, err := stitch.DecodeSuppression(value)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.keys[key] = sup
	s.mu.Unlock()
	return nil
}

// Suppressed reports whether any of ids is suppressed.
func (s *Suppressions) Suppressed(ids []identifiers.Identifier) bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.keys) == 0 {
		return false
	}
	for _, id := range ids {
		if _, ok := s.keys[stitch.SuppressionKey(id)]; ok {
			return true
		}
	}
	return false
}

// Len returns how many identifiers are suppressed.
func (s *Suppressions) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.keys)
}

// requestsOf returns the forget requests that suppressed any of keys.
func (s *Suppressions) requestsOf(keys []string) map[string]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]bool{}
	for _, k := range keys {
		if sup, ok := s.keys[k]; ok {
			out[sup.Request] = true
		}
	}
	return out
}

// keysOf returns, sorted, the keys that any of requests suppressed.
func (s *Suppressions) keysOf(requests map[string]bool) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for k, sup := range s.keys {
		if requests[sup.Request] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// ReadSuppressions reads the committed suppressions topic of kcfg from its
// start to its end into a new list. Invalid records are logged and skipped.
func ReadSuppressions(ctx context.Context, kcfg kafka.Config, log *zap.Logger) (*Suppressions, error) {
	s := NewSuppressions()
	err := kafka.ReadCommitted(ctx, kcfg, log, kcfg.Topics.Suppressions(), nil, func(r *kgo.Record) error {
		s.applyRecord(r, log)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the suppressed identifiers: %w", err)
	}
	return s, nil
}

// applyRecord applies r, logging and skipping it when it is invalid.
func (s *Suppressions) applyRecord(r *kgo.Record, log *zap.Logger) {
	if err := s.Apply(string(r.Key), r.Value); err != nil {
		log.Warn("skipping an invalid suppression record", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
	}
}

// FollowSuppressions reads the committed suppressions topic of kcfg up to
// the end it has when called, returns the list, and keeps it up to date in
// the background (within a fetch, well under a second) until ctx ends or
// the returned function is called; Err reports a follower that keeps
// failing. It fails when the topic does not exist.
func FollowSuppressions(ctx context.Context, kcfg kafka.Config, log *zap.Logger) (*Suppressions, func(), error) {
	topic := kcfg.Topics.Suppressions()
	cl, err := kafka.NewClient(kcfg, log, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, nil, err
	}
	pending, err := unreadOffsets(ctx, kadm.NewClient(cl), topic)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	s := NewSuppressions()
	poll := func(ctx context.Context) error {
		pollCtx, cancel := context.WithTimeout(ctx, followPoll)
		fetches := cl.PollRecords(pollCtx, 10_000)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return ctx.Err()
		}
		var failed error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) {
				return // a quiet topic
			}
			log.Warn("suppressions fetch failed", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			if failed == nil {
				failed = err
			}
		})
		s.noteFetch(failed, time.Now())
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := pending[r.Partition]; ok && r.Offset >= end-1 {
				delete(pending, r.Partition)
			}
			if !r.Attrs.IsControl() {
				s.applyRecord(r, log)
			}
		})
		return failed
	}
	for len(pending) > 0 {
		_ = poll(ctx) // fetch errors are logged, and retried by the client
		if ctx.Err() != nil {
			cl.Close()
			return nil, nil, fmt.Errorf("reading the suppressed identifiers from %s: %w", topic, ctx.Err())
		}
	}
	log.Info("suppressed identifiers loaded", zap.String("topic", topic), zap.Int("identifiers", s.Len()))
	followCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for followCtx.Err() == nil {
			_ = poll(followCtx) // logged; the client retries
		}
	}()
	return s, func() { cancel(); <-done; cl.Close() }, nil
}

// unreadOffsets returns the end offset of every partition of topic that
// holds records.
func unreadOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing the start offsets of %s: %w", topic, err)
	}
	pending := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); !ok || s.Offset < o.Offset {
			pending[o.Partition] = o.Offset
		}
	})
	return pending, nil
}
