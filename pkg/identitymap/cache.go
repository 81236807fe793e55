package identitymap

import (
	"encoding/hex"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/touchline-io/touchline/pkg/identifiers"
)

// DefaultCacheEntries is how many identifiers the in-memory cache holds
// unless Open is told otherwise. An entry takes a 32-byte slot of a hash
// table kept between 3/8 and 3/4 full (see table), 43 to 85 bytes, and
// holds no pointer: the default holds every identifier of a map of 4
// million in at most 163 MiB, and the tables of a map of 3 million take
// 128 MiB.
const DefaultCacheEntries = 4_000_000

// cacheShards spreads the cache over locks.
const cacheShards = 64

// cacheKey is the cache's key of an identifier: a 128-bit hash of its type
// and value under seeds drawn at random when the map opens. Two different
// identifiers get the same key with probability 2^-128, so even 10^13
// lookups against 10^7 cached identifiers meet a collision with
// probability below 10^-18: the cache is exact for all practical purposes
// while holding no identifier strings.
type cacheKey [2]uint64

// keyHasher computes cacheKeys.
type keyHasher struct {
	types, values [2]maphash.Seed
}

func newKeyHasher() keyHasher {
	return keyHasher{
		types:  [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		values: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
	}
}

// key returns the key of the identifier typ:value. Each half combines
// independent hashes of the type and of the value, so identifiers that
// differ in either differ in each half with probability 1 - 2^-64.
func (h keyHasher) key(typ, value string) cacheKey {
	return cacheKey{
		maphash.String(h.types[0], typ) ^ maphash.String(h.values[0], value),
		maphash.String(h.types[1], typ) ^ maphash.String(h.values[1], value),
	}
}

func (h keyHasher) identifierKey(id identifiers.Identifier) cacheKey {
	return h.key(id.Type, id.Value)
}

// personKind says how a cachedPerson holds its person.
type personKind uint8

const (
	personAbsent  personKind = iota // not cached: an empty slot of a table
	personUnknown                   // the identifier is not in the map
	personDigest                    // a person id of identity.SingletonID's form, held as its digest
	personOther                     // any other person id, held in the shard's others
)

// singletonDigest is the length of the digest in a person id of
// identity.SingletonID's form: "p_" and the digest in lower-case hex.
const (
	singletonPrefix = "p_"
	singletonDigest = 10
	singletonLen    = len(singletonPrefix) + 2*singletonDigest
)

// cachedPerson is a person as the cache holds it. The resolver names every
// person by identity.SingletonID, so the digest of such a name is all an
// entry needs: entries hold no pointers, which spares the garbage
// collector from scanning the cache, and no string per identifier.
type cachedPerson struct {
	digest [singletonDigest]byte
	kind   personKind
}

// compactPerson returns the cache form of person ("" is unknown). A person
// that is not of identity.SingletonID's form has kind personOther and is
// kept by the caller.
func compactPerson(person string) cachedPerson {
	if person == "" {
		return cachedPerson{kind: personUnknown}
	}
	if len(person) != singletonLen || person[:len(singletonPrefix)] != singletonPrefix {
		return cachedPerson{kind: personOther}
	}
	var c cachedPerson
	if _, err := hex.Decode(c.digest[:], []byte(person[len(singletonPrefix):])); err != nil {
		return cachedPerson{kind: personOther}
	}
	c.kind = personDigest
	// Upper-case hex decodes too; only the canonical spelling round-trips.
	var name [singletonLen]byte
	if string(c.appendName(name[:0])) != person {
		return cachedPerson{kind: personOther}
	}
	return c
}

// appendName appends the person id of a personDigest entry.
func (c cachedPerson) appendName(dst []byte) []byte {
	dst = append(dst, singletonPrefix...)
	return hex.AppendEncode(dst, c.digest[:])
}

// cache holds the persons of identifiers in memory, in front of pebble,
// which answers in microseconds where the cache answers in tens of
// nanoseconds. apply updates every entry it changes, so entries are never
// stale.
//
// A cache is complete while it holds every identifier of the database: a
// miss then means the identifier is unknown, and neither lookups nor apply
// read pebble. A map opened on an empty database starts complete, one
// opened on a database that fits is filled from it (see Map.warm). The
// first known identifier the cache has to drop for room makes it
// incomplete for good; from then on it also caches unknown identifiers
// (kind personUnknown), and misses are read from pebble.
//
// A full shard forgets an eighth of its entries, going round its table,
// so evicting costs a constant amount of work per insertion.
type cache struct {
	hash     keyHasher
	perShard int
	complete atomic.Bool
	shards   [cacheShards]cacheShard
}

// cacheShard is one shard of the cache. Writers hold mu; lookups read
// persons without taking it, as readers of a sequence lock: seq is odd
// while a writer changes persons, and a lookup that sees seq change (or
// odd) reads again under mu. A lookup thus does no atomic read-modify-write
// that would wait for its memory reads, and the cache misses of lookups
// that follow each other overlap.
type cacheShard struct {
	mu      sync.Mutex
	seq     atomic.Uint64
	persons table
	others  map[cacheKey]string // the persons of entries of kind personOther, under mu
	// epoch counts the writes of apply, so that a lookup that read pebble
	// before a write does not put the older value back.
	epoch atomic.Uint64
}

// lock starts a write.
func (s *cacheShard) lock() {
	s.mu.Lock()
	s.seq.Add(1)
}

// unlock ends a write.
func (s *cacheShard) unlock() {
	s.seq.Add(1)
	s.mu.Unlock()
}

func newCache(entries int) *cache {
	if entries <= 0 {
		return nil
	}
	c := &cache{hash: newKeyHasher(), perShard: max(entries/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].persons.init(c.perShard)
		c.shards[i].others = make(map[cacheKey]string)
	}
	return c
}

func (c *cache) shard(k cacheKey) *cacheShard {
	return &c.shards[k[0]%cacheShards]
}

// cacheAnswer is what the cache knows of an identifier.
type cacheAnswer struct {
	person cachedPerson
	other  string // the person, for kind personOther
	// found: person is the identifier's person (kind personUnknown: it is
	// not in the map); otherwise pebble must be asked.
	found bool
	epoch uint64 // the shard's epoch, for fill
}

// name returns the person of a found answer, "" when unknown. A name equal
// to one of earlier is returned as that string; any other allocates.
func (a cacheAnswer) name(earlier []string) string {
	switch a.person.kind {
	case personAbsent, personUnknown:
		return ""
	case personOther:
		return a.other
	}
	var buf [singletonLen]byte
	name := a.person.appendName(buf[:0])
	for _, e := range earlier {
		if e == string(name) {
			return e
		}
	}
	return string(name)
}

// prefetch starts fetching the cache line of k's first slot, where a
// lookup of k most likely ends, without waiting for it. It takes no lock:
// it reads only the table's slots pointer.
func (c *cache) prefetch(k cacheKey) {
	slots := *c.shard(k).persons.slots.Load()
	prefetch(unsafe.Pointer(&slots[home(k, len(slots))]))
}

// get returns what the cache knows of k: without locking when no write is
// under way and the person is in the table, else under the shard's lock.
func (c *cache) get(k cacheKey) cacheAnswer {
	s := c.shard(k)
	if seq := s.seq.Load(); seq&1 == 0 {
		a := c.answer(s, k)
		if a.person.kind != personOther && s.seq.Load() == seq {
			return a
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := c.answer(s, k)
	if a.person.kind == personOther {
		a.other = s.others[k]
	}
	return a
}

// answer reads what the cache knows of k in s, valid when no write runs
// meanwhile.
func (c *cache) answer(s *cacheShard, k cacheKey) cacheAnswer {
	p := s.persons.get(k)
	// complete is read within the same check of seq as the table: the
	// eviction of k, if any, made the cache incomplete before it ended.
	return cacheAnswer{person: p, found: p.kind != personAbsent || c.complete.Load(), epoch: s.epoch.Load()}
}

// fill caches what a lookup read from pebble, unless apply wrote to the
// shard since get returned epoch.
func (c *cache) fill(k cacheKey, person string, epoch uint64) {
	s := c.shard(k)
	s.lock()
	if s.epoch.Load() == epoch {
		c.putLocked(s, k, person)
	}
	s.unlock()
}

// set records a write of apply ("" for a deletion).
func (c *cache) set(k cacheKey, person string) {
	s := c.shard(k)
	s.lock()
	s.epoch.Add(1)
	c.putLocked(s, k, person)
	s.unlock()
}

func (c *cache) putLocked(s *cacheShard, k cacheKey, person string) {
	p := compactPerson(person)
	if p.kind == personUnknown && c.complete.Load() {
		// A complete cache answers misses as unknown.
		s.persons.remove(k)
		delete(s.others, k)
		return
	}
	if s.persons.full() && s.persons.get(k).kind == personAbsent {
		c.evictLocked(s)
	}
	s.persons.put(k, p)
	if p.kind == personOther {
		s.others[k] = person
	} else {
		delete(s.others, k)
	}
}

// evictLocked forgets an eighth of the shard's entries, the next ones of
// its table's eviction round.
func (c *cache) evictLocked(s *cacheShard) {
	s.persons.evict(max(c.perShard/8, 1), func(k cacheKey, p cachedPerson) {
		if p.kind != personUnknown {
			c.complete.Store(false)
		}
		delete(s.others, k)
	})
}

// len returns the entries cached.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += c.shards[i].persons.used
		c.shards[i].mu.Unlock()
	}
	return n
}
