package identitymap

import (
	"hash/maphash"
	"sync"
)

// DefaultCacheEntries is how many identifiers the in-memory cache holds
// unless Open is told otherwise: about 250 MiB for typical identifiers.
const DefaultCacheEntries = 2_000_000

// cacheShards spreads the cache over locks.
const cacheShards = 64

// cache holds the persons of recently looked-up or applied identifiers in
// memory, in front of pebble, which answers in microseconds where the cache
// answers in tens of nanoseconds. An entry of "" caches an unknown
// identifier. apply updates every entry it changes, so entries are never
// stale; a full shard forgets an arbitrary eighth of its entries.
type cache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]string
	// epoch counts the writes of apply, so that a lookup that read pebble
	// before a write does not put the older value back.
	epoch uint64
}

func newCache(entries int) *cache {
	if entries <= 0 {
		return nil
	}
	c := &cache{seed: maphash.MakeSeed(), perShard: max(entries/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]string)
	}
	return c
}

func (c *cache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// get returns the cached person of key, whether it was cached, and the
// shard's epoch to pass to fill.
func (c *cache) get(key []byte) (person string, ok bool, epoch uint64) {
	s := c.shard(key)
	s.mu.RLock()
	person, ok = s.m[string(key)]
	epoch = s.epoch
	s.mu.RUnlock()
	return person, ok, epoch
}

// fill caches what a lookup read from pebble, unless apply wrote to the
// shard since get returned epoch.
func (c *cache) fill(key []byte, person string, epoch uint64) {
	s := c.shard(key)
	s.mu.Lock()
	if s.epoch == epoch {
		c.putLocked(s, string(key), person)
	}
	s.mu.Unlock()
}

// set records a write of apply.
func (c *cache) set(key []byte, person string) {
	s := c.shard(key)
	s.mu.Lock()
	s.epoch++
	c.putLocked(s, string(key), person)
	s.mu.Unlock()
}

func (c *cache) putLocked(s *cacheShard, key, person string) {
	if _, ok := s.m[key]; !ok && len(s.m) >= c.perShard {
		drop := max(c.perShard/8, 1)
		for k := range s.m {
			delete(s.m, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	s.m[key] = person
}

// len returns the entries cached.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
