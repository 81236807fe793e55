package identitymap

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// tableMaxLoad bounds the share of a table's slots in use, as a fraction
// tableMaxLoadNum/tableMaxLoadDen: at 3/4, a lookup of a present key reads
// 2.5 slots on average, one of an absent key 8.5, mostly in the same cache
// line or the next.
const (
	tableMaxLoadNum = 3
	tableMaxLoadDen = 4
	tableMinSlots   = 64
)

// cacheSlot is one slot of a table; a zero person kind (personAbsent) marks
// an empty slot. It takes 32 bytes, so a slot never straddles cache lines.
// Its words are atomic because lookups read them without a lock (see
// cache.get).
type cacheSlot struct {
	key    [2]atomic.Uint64
	person [2]atomic.Uint64 // packPerson's words
}

func (s *cacheSlot) loadKey() cacheKey {
	return cacheKey{s.key[0].Load(), s.key[1].Load()}
}

func (s *cacheSlot) loadPerson() cachedPerson {
	return unpackPerson([2]uint64{s.person[0].Load(), s.person[1].Load()})
}

func (s *cacheSlot) store(k cacheKey, p cachedPerson) {
	w := packPerson(p)
	s.key[0].Store(k[0])
	s.key[1].Store(k[1])
	s.person[0].Store(w[0])
	s.person[1].Store(w[1])
}

// packPerson packs p into two words: the digest's first eight bytes, then
// its last two and the kind.
func packPerson(p cachedPerson) [2]uint64 {
	return [2]uint64{binary.LittleEndian.Uint64(p.digest[:8]),
		uint64(binary.LittleEndian.Uint16(p.digest[8:])) | uint64(p.kind)<<16}
}

func unpackPerson(w [2]uint64) cachedPerson {
	var p cachedPerson
	binary.LittleEndian.PutUint64(p.digest[:8], w[0])
	binary.LittleEndian.PutUint16(p.digest[8:], uint16(w[1]))
	p.kind = personKind(w[1] >> 16)
	return p
}

// table is an open-addressing hash table with linear probing, from cache
// keys to persons. A lookup reads consecutive slots of one array, mostly a
// single cache line, where a Go map would read its directory, a table
// header, a control word and a slot. Keys are already uniform hashes, so a
// key's first slot is taken from its bits directly. Deletion shifts the
// following entries back (no tombstones), so a table never degrades.
//
// One writer at a time may change the table; get may run concurrently
// with it, and then returns an answer the caller must discard (see
// cache.get).
type table struct {
	slots    atomic.Pointer[[]cacheSlot] // replaced when the table grows
	used     int
	capacity int // the entries the table may hold
	hand     int // where evict continues
}

// init makes the table empty, to hold up to capacity entries, growing its
// slots as it fills.
func (t *table) init(capacity int) {
	slots := make([]cacheSlot, min(tableMinSlots, maxSlots(capacity)))
	t.slots.Store(&slots)
	t.used, t.capacity, t.hand = 0, capacity, 0
}

// maxSlots returns the slots of a table of capacity entries at its fullest:
// at most tableMaxLoad of them in use, and always one empty, where every
// probe ends.
func maxSlots(capacity int) int {
	return capacity*tableMaxLoadDen/tableMaxLoadNum + 1
}

// home returns the first slot a key may be in, of n.
func home(k cacheKey, n int) int {
	hi, _ := bits.Mul64(k[1], uint64(n))
	return int(hi)
}

func next(i, n int) int {
	if i++; i == n {
		return 0
	}
	return i
}

// get returns the person of k; kind personAbsent when k is not in the
// table. During a write it may return anything, but it returns.
func (t *table) get(k cacheKey) cachedPerson {
	slots := *t.slots.Load()
	i := home(k, len(slots))
	for range slots {
		s := &slots[i]
		p := s.loadPerson()
		if p.kind == personAbsent || s.loadKey() == k {
			return p
		}
		i = next(i, len(slots))
	}
	return cachedPerson{}
}

// find returns the slot of k in slots, or the empty slot where k would go
// and false. Only the writer calls it.
func find(slots []cacheSlot, k cacheKey) (int, bool) {
	for i := home(k, len(slots)); ; i = next(i, len(slots)) {
		switch s := &slots[i]; {
		case s.loadPerson().kind == personAbsent:
			return i, false
		case s.loadKey() == k:
			return i, true
		}
	}
}

// full reports whether the table holds as many entries as it may.
func (t *table) full() bool {
	return t.used >= t.capacity
}

// put sets the person of k (of a kind other than personAbsent). Unless k
// is in the table already, the table must not be full.
func (t *table) put(k cacheKey, p cachedPerson) {
	slots := *t.slots.Load()
	i, found := find(slots, k)
	if !found {
		if (t.used+1)*tableMaxLoadDen > len(slots)*tableMaxLoadNum && len(slots) < maxSlots(t.capacity) {
			slots = t.grow(slots)
			i, _ = find(slots, k)
		}
		t.used++
	}
	slots[i].store(k, p)
}

// grow replaces old by twice the slots, up to maxSlots, holding the same
// entries, and returns them.
func (t *table) grow(old []cacheSlot) []cacheSlot {
	slots := make([]cacheSlot, min(2*len(old), maxSlots(t.capacity)))
	for j := range old {
		if p := old[j].loadPerson(); p.kind != personAbsent {
			k := old[j].loadKey()
			i, _ := find(slots, k)
			slots[i].store(k, p)
		}
	}
	t.slots.Store(&slots)
	t.hand = 0
	return slots
}

// remove deletes k, and reports whether it was there.
func (t *table) remove(k cacheKey) bool {
	slots := *t.slots.Load()
	i, found := find(slots, k)
	if found {
		t.removeAt(slots, i)
	}
	return found
}

// removeAt empties slot i, which holds an entry, and moves back the
// entries after it that would otherwise no longer be found (Knuth's
// algorithm R for linear probing).
func (t *table) removeAt(slots []cacheSlot, i int) {
	t.used--
	for j := next(i, len(slots)); slots[j].loadPerson().kind != personAbsent; j = next(j, len(slots)) {
		// The entry at j stays unless its home lies cyclically outside
		// (i, j], that is, unless emptying i would cut it off from it.
		k := slots[j].loadKey()
		if h := home(k, len(slots)); i <= j && (h <= i || h > j) || i > j && h <= i && h > j {
			slots[i].store(k, slots[j].loadPerson())
			i = j
		}
	}
	slots[i].store(cacheKey{}, cachedPerson{})
}

// evict removes up to n entries, continuing where the previous call
// stopped, and calls dropped with each. Its work is proportional to n and
// to the empty slots it passes, so evicting stays linear overall.
func (t *table) evict(n int, dropped func(cacheKey, cachedPerson)) {
	slots := *t.slots.Load()
	for n > 0 && t.used > 0 {
		if t.hand >= len(slots) {
			t.hand = 0
		}
		p := slots[t.hand].loadPerson()
		if p.kind == personAbsent {
			t.hand++
			continue
		}
		// removeAt may move a later entry into this slot: look again.
		k := slots[t.hand].loadKey()
		t.removeAt(slots, t.hand)
		dropped(k, p)
		n--
	}
}
