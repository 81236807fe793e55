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
//	err = m.Persons(eventIDs, persons) // an event's identifiers at once
//
// The topic is the source of truth: the database only caches it, together
// with the offset of the next record of each partition, so a restart resumes
// where the previous run stopped.
package identitymap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/pebblelog"
)

// The database's keys. Every key starts with a one-byte prefix:
//
//	'i' + stitch.MapKey(id) ("type:value")  -> person
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
	keys  sync.Pool // *[]byte, key buffers of reads from the database

	dbMu   sync.RWMutex // held shared while using db, exclusively to close it
	closed atomic.Bool  // set under dbMu

	count atomic.Int64 // identifiers held, as of the last applied batch

	mu          sync.Mutex
	topic       string          // topic the database holds, "" before the first Follow
	next        map[int32]int64 // per partition, the offset of the next record to apply
	following   bool            // a Follow call is running
	adm         *kadm.Client    // the running Follow's admin client, nil until connected
	stopErr     error           // why the last Follow returned, nil while none has
	fetchErr    error           // the running Follow's last poll error, nil after a clean poll
	discoverErr error           // why it could not last list the topic's partitions, or nil
	changed     chan struct{}   // closed and replaced when the fields above change
}

// Open opens (or creates) the pebble database in dir and returns the map; it
// does not read Kafka yet. A nil log discards logs.
//
// cacheEntries bounds the in-memory cache of identifiers in front of the
// database (DefaultCacheEntries is a good start; 0 disables it). Lookups it
// answers cost tens of nanoseconds instead of microseconds. When the
// database holds no more identifiers than the cache, Open fills the cache
// from it (a few seconds for millions of identifiers), so that every
// lookup is answered from memory.
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
		Logger:             pebblelog.New(log.Named("pebble")),
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
	if err := m.warm(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("reading identity map database %s into the cache: %w", dir, err)
	}
	return m, nil
}

// warm makes the cache complete when the database's identifiers fit in
// it: an empty database needs nothing, otherwise every identifier is read
// into the cache. A cache that has to evict while warming is left
// incomplete, and correct.
func (m *Map) warm() error {
	if m.cache == nil || m.Len() > m.cache.perShard*cacheShards {
		return nil
	}
	m.cache.complete.Store(true)
	if m.Len() == 0 {
		return nil
	}
	it, err := m.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixIdentifier}, UpperBound: []byte{prefixIdentifier + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		typ, value, ok := strings.Cut(string(it.Key()[1:]), ":")
		if !ok {
			_ = it.Close()
			return fmt.Errorf("malformed identifier entry %q", it.Key())
		}
		m.cache.set(m.cache.hash.key(typ, value), string(it.Value()))
	}
	return it.Close()
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
// for concurrent use. An answer from the cache allocates only the returned
// string.
func (m *Map) Lookup(id identifiers.Identifier) (string, error) {
	return m.lookup(id, m.cacheKey(id), nil)
}

// prefetchIdentifiers bounds the identifiers of one Persons call whose
// cache slots are fetched ahead.
const prefetchIdentifiers = 8

// Persons looks up the identifiers of one event in one call: it sets
// persons[i] to the person of ids[i], "" when unknown, and returns the
// first error. persons must be at least as long as ids. It is safe for
// concurrent use; identifiers of the same person share one string.
func (m *Map) Persons(ids []identifiers.Identifier, persons []string) error {
	persons = persons[:len(ids)]
	// Hash the identifiers and start fetching their cache slots before
	// reading any, so that the memory reads of all overlap instead of
	// waiting for each other.
	var keys [prefetchIdentifiers]cacheKey
	ahead := keys[:min(len(ids), len(keys))]
	for i := range ahead {
		ahead[i] = m.cacheKey(ids[i])
	}
	if m.cache != nil {
		for _, k := range ahead {
			m.cache.prefetch(k)
		}
	}
	for i, id := range ids {
		var k cacheKey
		if i < len(ahead) {
			k = ahead[i]
		} else {
			k = m.cacheKey(id)
		}
		p, err := m.lookup(id, k, persons[:i])
		if err != nil {
			return err
		}
		persons[i] = p
	}
	return nil
}

// cacheKey returns the cache key of id, zero without a cache.
func (m *Map) cacheKey(id identifiers.Identifier) cacheKey {
	if m.cache == nil {
		return cacheKey{}
	}
	return m.cache.hash.identifierKey(id)
}

// lookup returns the person of id, whose cache key is k: from the cache
// when it knows, else from the database, filling the cache. With a cache,
// a person equal to one of earlier is returned as that string rather than a
// new one, whichever of the two answered.
func (m *Map) lookup(id identifiers.Identifier, k cacheKey, earlier []string) (string, error) {
	if m.closed.Load() {
		return "", ErrClosed
	}
	if m.cache == nil {
		return m.read(id)
	}
	a := m.cache.get(k)
	if a.found {
		return a.name(earlier), nil
	}
	person, err := m.read(id)
	if err != nil {
		return "", err
	}
	m.cache.fill(k, person, a.epoch)
	for _, e := range earlier {
		if e == person {
			return e, nil
		}
	}
	return person, nil
}

// read returns the person of id stored in the database, "" when absent.
// The key is built in a pooled buffer.
func (m *Map) read(id identifiers.Identifier) (string, error) {
	bp := m.keys.Get().(*[]byte)
	key := appendIdentifierKey((*bp)[:0], id)
	m.dbMu.RLock()
	person, err := "", ErrClosed
	if !m.closed.Load() {
		person, err = m.person(key)
	}
	m.dbMu.RUnlock()
	*bp = key
	m.keys.Put(bp)
	if err != nil {
		return "", fmt.Errorf("identity map lookup of %s: %w", id.Type, err)
	}
	return person, nil
}

// appendIdentifierKey appends the database key of id: prefixIdentifier and
// stitch.MapKey(id), built without allocating.
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
	if m.closed.Load() {
		return nil
	}
	m.closed.Store(true)
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
	if m.closed.Load() {
		return ErrClosed
	}
	b := m.db.NewBatch()
	defer b.Close()
	// current holds the person of each identifier this batch wrote ("" when
	// it deleted it), so that the count stays exact when a poll carries the
	// same key twice; other identifiers are asked of the cache, and of the
	// database when the cache does not know them.
	current := make(map[string]write)
	count := m.count.Load()
	next := make(map[int32]int64, 4)
	for _, r := range records {
		next[r.Partition] = r.Offset + 1
		if r.Attrs.IsControl() {
			continue
		}
		a, assigned, err := stitch.DecodeAssignment(r.Key, r.Value)
		if err != nil {
			m.log.Warn("skipping malformed identity map record", zap.String("topic", r.Topic),
				zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset), zap.Error(err))
			continue
		}
		key := appendIdentifierKey(nil, a.Identifier)
		w, seen := current[string(key)]
		if !seen {
			if w, err = m.stored(a.Identifier, key); err != nil {
				return err
			}
		}
		old := w.person
		switch {
		case assigned && old != a.Person:
			err = b.Set(key, []byte(a.Person), nil)
			w.person = a.Person
			current[string(key)] = w
			if old == "" {
				count++
			}
		case !assigned && old != "":
			err = b.Delete(key, nil)
			w.person = ""
			current[string(key)] = w
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
		for _, w := range current {
			m.cache.set(w.key, w.person)
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

// write is the person of an identifier as a batch of apply reads and
// writes it, with the identifier's cache key.
type write struct {
	key    cacheKey
	person string
}

// stored returns the person of id (whose database key is key) before the
// batch being applied: the cache's answer when it knows, else the
// database's.
func (m *Map) stored(id identifiers.Identifier, key []byte) (write, error) {
	if m.cache == nil {
		person, err := m.person(key)
		return write{person: person}, err
	}
	w := write{key: m.cache.hash.identifierKey(id)}
	if a := m.cache.get(w.key); a.found {
		w.person = a.name(nil)
		return w, nil
	}
	var err error
	w.person, err = m.person(key)
	return w, err
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
