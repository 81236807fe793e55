package segments

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/pebblelog"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// localState is an instance's copy, in pebble, of the changelog partitions
// it has owned: every key the changelog holds, under the same name, plus a
// timer index and a checkpoint per partition. Only committed changelog
// records are written to it, each batch with the changelog offset it has
// reached (the checkpoint), so that a restarted instance reads only the
// changelog records written after it.
//
// Keys are the partition (4 bytes, big-endian) followed by a changelog key
// (p/<person>, q/<arrival>, m, x/<erased person>), t/<person> (the person's next timer, Unix
// nanoseconds, 8 bytes big-endian) or c (the checkpoint).
type localState struct {
	db *pebble.DB
}

// The keys the local state has besides the changelog's.
const (
	timerKeyPrefix = "t/"
	checkpointKey  = "c"
)

// localWrite is one changelog record to apply to the local state: a nil
// value deletes the key. Timer is a person's next timer.
type localWrite struct {
	key   string
	value []byte
	timer time.Time
}

// openLocalState opens (or creates) the local state in dir, with a block
// cache of cacheBytes.
func openLocalState(dir string, cacheBytes int64, log *zap.Logger) (*localState, error) {
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	// Small memtables flush and compact often, in small steps, rather than
	// in bursts that take the stage's CPU for a second at a time (see
	// docs/segments.md).
	opts := &pebble.Options{Cache: cache, FormatMajorVersion: pebble.FormatNewest,
		MemTableSize: 16 << 20, Logger: pebblelog.New(log.Named("pebble"))}
	// Bloom filters, as the identity map has, let reading a person skip
	// the tables that cannot hold it. Level 0's setting is inherited by the
	// other levels.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("opening the segments state %s: %w", dir, err)
	}
	return &localState{db: db}, nil
}

// Close closes the database.
func (l *localState) Close() error { return l.db.Close() }

// key returns the local key of partition p's key k.
func localKey(p int32, k string) []byte {
	b := make([]byte, 4, 4+len(k))
	binary.BigEndian.PutUint32(b, uint32(p))
	return append(b, k...)
}

// prefixBounds returns the bounds of partition p's keys starting with
// prefix.
func prefixBounds(p int32, prefix string) (lower, upper []byte) {
	lower = localKey(p, prefix)
	upper = append([]byte(nil), lower...)
	for i := len(upper) - 1; i >= 0; i-- { // the first key after every key with the prefix
		if upper[i] < 0xff {
			upper[i]++
			return lower, upper[:i+1]
		}
	}
	return lower, nil
}

// apply writes changelog records of partition p and its checkpoint, next
// (the changelog offset to read from after them), in one batch. The batch
// is not fsynced: a machine crash may lose the last batches, never a
// batch's records without its checkpoint, and the changelog has them.
func (l *localState) apply(p int32, writes []localWrite, next int64, now time.Time) error {
	b := l.db.NewBatch()
	defer b.Close()
	for _, w := range writes {
		if err := setOrDelete(b, localKey(p, w.key), w.value); err != nil {
			return err
		}
		if id, ok := strings.CutPrefix(w.key, personKeyPrefix); ok {
			var due []byte
			if w.value != nil && !w.timer.IsZero() {
				due = binary.BigEndian.AppendUint64(nil, uint64(w.timer.UnixNano()))
			}
			if err := setOrDelete(b, localKey(p, timerKeyPrefix+id), due); err != nil {
				return err
			}
		}
	}
	cp := binary.BigEndian.AppendUint64(nil, uint64(next))
	cp = binary.BigEndian.AppendUint64(cp, uint64(now.UnixNano()))
	if err := b.Set(localKey(p, checkpointKey), cp, nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("writing the segments state of partition %d: %w", p, err)
	}
	return nil
}

func setOrDelete(b *pebble.Batch, key, value []byte) error {
	if value == nil {
		return b.Delete(key, nil)
	}
	return b.Set(key, value, nil)
}

// checkpoint returns partition p's checkpoint: the changelog offset to read
// from, and when it was written; ok is false when the partition has none.
func (l *localState) checkpoint(p int32) (next int64, at time.Time, ok bool, err error) {
	v, closer, err := l.db.Get(localKey(p, checkpointKey))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("reading the segments state checkpoint of partition %d: %w", p, err)
	}
	defer closer.Close()
	if len(v) != 16 {
		return 0, time.Time{}, false, fmt.Errorf("segments state checkpoint of partition %d: %d bytes, want 16", p, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))), true, nil
}

// wipe deletes every key of partition p.
func (l *localState) wipe(p int32) error {
	lower, upper := prefixBounds(p, "")
	if err := l.db.DeleteRange(lower, upper, pebble.NoSync); err != nil {
		return fmt.Errorf("clearing the segments state of partition %d: %w", p, err)
	}
	return nil
}

// load restores partition p's meta state, pending inputs and timers into
// proc, whose persons stay in the local state (store).
func (l *localState) load(p int32, proc *engine.Processor) error {
	v, closer, err := l.db.Get(localKey(p, metaKey))
	switch {
	case err == nil:
		err = proc.RestoreMeta(v)
		closer.Close()
		if err != nil {
			return err
		}
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("reading the segments state of partition %d: %w", p, err)
	}
	if err := l.scan(p, pendingKeyPrefix, func(_ string, v []byte) error {
		pe, err := decodePending(v)
		if err != nil {
			return fmt.Errorf("reading a pending input of partition %d: %w", p, err)
		}
		proc.RestorePending(pe)
		return nil
	}); err != nil {
		return err
	}
	return l.scan(p, timerKeyPrefix, func(person string, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("timer of person %s in partition %d: %d bytes, want 8", person, p, len(v))
		}
		proc.RestoreTimer(person, time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC())
		return nil
	})
}

// scan calls each with the rest of the key (after prefix) and the value of
// every key of partition p starting with prefix.
func (l *localState) scan(p int32, prefix string, each func(rest string, value []byte) error) error {
	lower, upper := prefixBounds(p, prefix)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := each(string(it.Key()[len(lower):]), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("reading the segments state of partition %d: %w", p, err)
	}
	return nil
}

// partitionStore serves the persons of partition p from the local state.
type partitionStore struct {
	l *localState
	p int32
}

// Person implements engine.Store.
func (s partitionStore) Person(id string) (*engine.Person, error) {
	v, closer, err := s.l.db.Get(localKey(s.p, personKeyPrefix+id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	var person engine.Person
	if err := person.UnmarshalBinary(v); err != nil {
		return nil, fmt.Errorf("decoding the state of person %s: %w", id, err)
	}
	return &person, nil
}
