// Package identitymap keeps a local, materialised copy of touchline's
// compacted identity map topic (pkg/identity) in a pebble database, so that
// services resolve identifiers to persons without a network round trip.
//
// A service opens the map, starts Follow in a goroutine, waits for CatchUp
// and then serves Lookup from the local copy while Follow keeps applying new
// records:
//
//	m, err := identitymap.Open(dir, identitymap.DefaultCacheEntries, log)
//	...
//	go m.Follow(ctx, kcfg, topic)
//	if err := m.CatchUp(ctx); err != nil { ... }
//	person, err := m.Lookup(id)
//
// The topic is the source of truth: the database only caches it, together
// with the offset of the next record of each partition, so a restart resumes
// where the previous run stopped.
package identitymap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
)

// The database's keys. Every key starts with a one-byte prefix:
//
//	'i' + identity.MapKey(id) ("type:value")  -> person
//	'o' + partition (4 bytes, big endian)     -> offset of the next record to apply (8 bytes, big endian)
//	'm' + name                                -> metadata: the topic followed, the identifier count
const (
	prefixIdentifier = 'i'
	prefixOffset     = 'o'
)

var (
	keyTopic = []byte("mtopic")
	keyCount = []byte("mcount")
)

// cacheSize is pebble's block cache. The map's values are short (a person
// id), so 64 MiB keeps the hot part of millions of identifiers in memory.
const cacheSize = 64 << 20

// ErrClosed reports a use of the map after Close.
var ErrClosed = errors.New("identity map is closed")

// ErrNotFollowing reports that CatchUp cannot make progress because Follow
// has returned.
var ErrNotFollowing = errors.New("identity map is not following its topic")

// Map is a local copy of the identity map topic in a pebble database.
//
// Lookup and Len are safe for concurrent use, also while Follow runs; at
// most one Follow runs at a time. Close the map after Follow has returned.
type Map struct {
	db    *pebble.DB
	log   *zap.Logger
	cache *cache    // nil when disabled
	keys  sync.Pool // *[]byte, Lookup's key buffers

	dbMu   sync.RWMutex // held shared while using db, exclusively to close it
	closed bool

	count atomic.Int64 // identifiers held, as of the last applied batch

	mu        sync.Mutex
	topic     string          // topic the database holds, "" before the first Follow
	next      map[int32]int64 // per partition, the offset of the next record to apply
	following bool            // a Follow call is running
	adm       *kadm.Client    // the running Follow's admin client, nil until connected
	stopErr   error           // why the last Follow returned, nil while none has
	changed   chan struct{}   // closed and replaced when the fields above change
}

// Open opens (or creates) the pebble database in dir and returns the map; it
// does not read Kafka yet. A nil log discards logs.
//
// cacheEntries bounds the in-memory cache of identifiers in front of the
// database (DefaultCacheEntries is a good start; 0 disables it). Lookups it
// answers cost tens of nanoseconds instead of microseconds.
func Open(dir string, cacheEntries int, log *zap.Logger) (*Map, error) {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("identitymap")
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:              cache,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{log.Named("pebble").Sugar()},
	}
	// Bloom filters make the lookup of an unknown identifier, the common
	// case for new visitors, skip the tables that cannot hold it. Level 0's
	// setting is inherited by the other levels.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("opening identity map database %s: %w", dir, err)
	}
	m := &Map{db: db, log: log, cache: newCache(cacheEntries), next: make(map[int32]int64), changed: make(chan struct{})}
	m.keys.New = func() any { b := make([]byte, 0, 128); return &b }
	if err := m.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("reading identity map database %s: %w", dir, err)
	}
	return m, nil
}

// load reads the topic, the count and the offsets stored in the database.
func (m *Map) load() error {
	topic, err := m.get(keyTopic)
	if err != nil {
		return err
	}
	m.topic = string(topic)
	count, err := m.get(keyCount)
	if err != nil {
		return err
	}
	if count != nil {
		if len(count) != 8 {
			return fmt.Errorf("identifier count: %d bytes, want 8", len(count))
		}
		m.count.Store(int64(binary.BigEndian.Uint64(count)))
	}
	it, err := m.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixOffset}, UpperBound: []byte{prefixOffset + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 5 || len(v) != 8 {
			_ = it.Close()
			return fmt.Errorf("malformed offset entry %q", k)
		}
		m.next[int32(binary.BigEndian.Uint32(k[1:]))] = int64(binary.BigEndian.Uint64(v))
	}
	return it.Close()
}

// get returns a copy of the value of key, nil when absent.
func (m *Map) get(key []byte) ([]byte, error) {
	v, closer, err := m.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// Lookup returns the person of an identifier, or "" when unknown. It is safe
// for concurrent use. The key is built in a pooled buffer: besides pebble's
// own small allocation per read, Lookup allocates only the returned string.
func (m *Map) Lookup(id identifiers.Identifier) (string, error) {
	bp := m.keys.Get().(*[]byte)
	key := appendIdentifierKey((*bp)[:0], id)
	var epoch uint64
	if m.cache != nil {
		var (
			person string
			ok     bool
		)
		if person, ok, epoch = m.cache.get(key); ok {
			*bp = key
			m.keys.Put(bp)
			return person, nil
		}
	}
	m.dbMu.RLock()
	if m.closed {
		m.dbMu.RUnlock()
		*bp = key
		m.keys.Put(bp)
		return "", ErrClosed
	}
	var person string
	v, closer, err := m.db.Get(key)
	if err == nil {
		person = string(v)
		err = closer.Close()
	}
	m.dbMu.RUnlock()
	if errors.Is(err, pebble.ErrNotFound) {
		err = nil
	}
	if err == nil && m.cache != nil {
		m.cache.fill(key, person, epoch)
	}
	*bp = key
	m.keys.Put(bp)
	if err != nil {
		return "", fmt.Errorf("identity map lookup of %s: %w", id.Type, err)
	}
	return person, nil
}

// appendIdentifierKey appends the database key of id: prefixIdentifier and
// identity.MapKey(id), built without allocating.
func appendIdentifierKey(dst []byte, id identifiers.Identifier) []byte {
	dst = append(dst, prefixIdentifier)
	dst = append(dst, id.Type...)
	dst = append(dst, ':')
	return append(dst, id.Value...)
}

func offsetKey(partition int32) []byte {
	k := make([]byte, 5)
	k[0] = prefixOffset
	binary.BigEndian.PutUint32(k[1:], uint32(partition))
	return k
}

func uint64Value(v int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v))
}

// Len returns how many identifiers the map holds. It is exact as of the last
// applied batch: the count is kept in the same pebble batches as the
// records.
func (m *Map) Len() int {
	return int(m.count.Load())
}

// Offsets returns, per partition of the topic, the offset of the next record
// the map will apply: the offsets stored in the database, as of the last
// applied batch. A partition the map has not read yet is absent.
func (m *Map) Offsets() map[int32]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	offsets := make(map[int32]int64, len(m.next))
	for p, o := range m.next {
		offsets[p] = o
	}
	return offsets
}

// Topic returns the topic the database was filled from, "" before the first
// Follow.
func (m *Map) Topic() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.topic
}

// Close closes the database. Lookups after Close return ErrClosed; call it
// after Follow has returned (a running Follow fails with ErrClosed).
func (m *Map) Close() error {
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if err := m.db.Close(); err != nil {
		return fmt.Errorf("closing identity map database: %w", err)
	}
	return nil
}

// apply applies the records of one poll in one pebble batch: an assignment
// sets the identifier's person, a tombstone deletes the identifier, a
// malformed record is logged and skipped, and a control record (transaction
// marker) only moves its partition's offset. The batch also stores the
// offset after the last record of each partition and the identifier count,
// so the database always holds records and offsets that match.
//
// The batch is committed with pebble.NoSync: the write-ahead log is written
// but not fsynced. A crash of the machine may lose the last batches, but
// never a batch's records without its offsets or the reverse, and Follow
// then reads the lost records again from the topic, which is the source of
// truth.
func (m *Map) apply(records []*kgo.Record) error {
	if len(records) == 0 {
		return nil
	}
	m.dbMu.RLock()
	defer m.dbMu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	b := m.db.NewBatch()
	defer b.Close()
	// current holds the person of each identifier this batch wrote ("" when
	// it deleted it), so that the count stays exact when a poll carries the
	// same key twice; other identifiers are read from the database.
	current := make(map[string]string)
	count := m.count.Load()
	next := make(map[int32]int64, 4)
	for _, r := range records {
		next[r.Partition] = r.Offset + 1
		if r.Attrs.IsControl() {
			continue
		}
		a, assigned, err := identity.DecodeAssignment(r.Key, r.Value)
		if err != nil {
			m.log.Warn("skipping malformed identity map record", zap.String("topic", r.Topic),
				zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
			continue
		}
		key := append([]byte{prefixIdentifier}, identity.MapKey(a.Identifier)...)
		old, seen := current[string(key)]
		if !seen {
			if old, err = m.person(key); err != nil {
				return err
			}
		}
		switch {
		case assigned && old != a.Person:
			err = b.Set(key, []byte(a.Person), nil)
			current[string(key)] = a.Person
			if old == "" {
				count++
			}
		case !assigned && old != "":
			err = b.Delete(key, nil)
			current[string(key)] = ""
			count--
		}
		if err != nil {
			return fmt.Errorf("writing identity map batch: %w", err)
		}
	}
	for p, o := range next {
		if err := b.Set(offsetKey(p), uint64Value(o), nil); err != nil {
			return fmt.Errorf("writing identity map batch: %w", err)
		}
	}
	if err := b.Set(keyCount, uint64Value(count), nil); err != nil {
		return fmt.Errorf("writing identity map batch: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("committing identity map batch: %w", err)
	}
	if m.cache != nil {
		for key, person := range current {
			m.cache.set([]byte(key), person)
		}
	}
	m.count.Store(count)
	m.mu.Lock()
	for p, o := range next {
		m.next[p] = o
	}
	m.notifyLocked()
	m.mu.Unlock()
	return nil
}

// person returns the value of key in the database, "" when absent.
func (m *Map) person(key []byte) (string, error) {
	v, closer, err := m.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading identity map database: %w", err)
	}
	p := string(v)
	if err := closer.Close(); err != nil {
		return "", fmt.Errorf("reading identity map database: %w", err)
	}
	return p, nil
}

// notifyLocked wakes CatchUp calls waiting for a change. m.mu is held.
func (m *Map) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// pebbleLogger sends pebble's messages to zap. Pebble's informational
// messages (WAL recovery, ...) are debug logs here.
type pebbleLogger struct{ s *zap.SugaredLogger }

func (l pebbleLogger) Infof(format string, args ...any)  { l.s.Debugf(format, args...) }
func (l pebbleLogger) Errorf(format string, args ...any) { l.s.Errorf(format, args...) }

// Fatalf is called by pebble on an unrecoverable invariant violation such
// as corruption; like pebble's default logger it exits the process.
func (l pebbleLogger) Fatalf(format string, args ...any) { l.s.Fatalf(format, args...) }
