package identitymap

import "math/bits"

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
type cacheSlot struct {
	key    cacheKey
	person cachedPerson
}

// table is an open-addressing hash table with linear probing, from cache
// keys to persons. A lookup reads consecutive slots of one array, mostly a
// single cache line, where a Go map would read its directory, a table
// header, a control word and a slot. Keys are already uniform hashes, so a
// key's first slot is taken from its bits directly. Deletion shifts the
// following entries back (no tombstones), so a table never degrades. It is
// not safe for concurrent use.
type table struct {
	slots    []cacheSlot
	used     int
	capacity int // the entries the table may hold
	hand     int // where evict continues
}

// newTable returns a table that holds up to capacity entries, growing its
// slots as it fills.
func newTable(capacity int) table {
	return table{slots: make([]cacheSlot, min(tableMinSlots, maxSlots(capacity))), capacity: capacity}
}

// maxSlots returns the slots of a table of capacity entries at its fullest:
// at most tableMaxLoad of them in use, and always one empty, where every
// probe ends.
func maxSlots(capacity int) int {
	return capacity*tableMaxLoadDen/tableMaxLoadNum + 1
}

// home returns the first slot a key may be in.
func (t *table) home(k cacheKey) int {
	hi, _ := bits.Mul64(k[1], uint64(len(t.slots)))
	return int(hi)
}

func (t *table) next(i int) int {
	if i++; i == len(t.slots) {
		return 0
	}
	return i
}

// find returns the slot of k, or the empty slot where k would go and false.
func (t *table) find(k cacheKey) (int, bool) {
	for i := t.home(k); ; i = t.next(i) {
		switch s := &t.slots[i]; {
		case s.person.kind == personAbsent:
			return i, false
		case s.key == k:
			return i, true
		}
	}
}

// get returns the person of k; kind personAbsent when k is not in the
// table.
func (t *table) get(k cacheKey) cachedPerson {
	i, _ := t.find(k)
	return t.slots[i].person
}

// full reports whether the table holds as many entries as it may.
func (t *table) full() bool {
	return t.used >= t.capacity
}

// put sets the person of k (of a kind other than personAbsent). Unless k
// is in the table already, the table must not be full.
func (t *table) put(k cacheKey, p cachedPerson) {
	i, found := t.find(k)
	if !found {
		if (t.used+1)*tableMaxLoadDen > len(t.slots)*tableMaxLoadNum && len(t.slots) < maxSlots(t.capacity) {
			t.grow()
			i, _ = t.find(k)
		}
		t.used++
	}
	t.slots[i] = cacheSlot{key: k, person: p}
}

// grow doubles the slots, up to maxSlots, and places the entries again.
func (t *table) grow() {
	old := t.slots
	t.slots = make([]cacheSlot, min(2*len(old), maxSlots(t.capacity)))
	t.hand = 0
	for _, s := range old {
		if s.person.kind != personAbsent {
			i, _ := t.find(s.key)
			t.slots[i] = s
		}
	}
}

// remove deletes k, and reports whether it was there.
func (t *table) remove(k cacheKey) bool {
	i, found := t.find(k)
	if found {
		t.removeAt(i)
	}
	return found
}

// removeAt empties slot i, which holds an entry, and moves back the
// entries after it that would otherwise no longer be found (Knuth's
// algorithm R for linear probing).
func (t *table) removeAt(i int) {
	t.used--
	for j := t.next(i); t.slots[j].person.kind != personAbsent; j = t.next(j) {
		// The entry at j stays unless its home lies cyclically outside
		// (i, j], that is, unless emptying i would cut it off from it.
		h := t.home(t.slots[j].key)
		if i <= j && (h <= i || h > j) || i > j && h <= i && h > j {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = cacheSlot{}
}

// evict removes up to n entries, continuing where the previous call
// stopped, and calls dropped with each. Its work is proportional to n and
// to the empty slots it passes, so evicting stays linear overall.
func (t *table) evict(n int, dropped func(cacheSlot)) {
	for n > 0 && t.used > 0 {
		if t.hand >= len(t.slots) {
			t.hand = 0
		}
		s := t.slots[t.hand]
		if s.person.kind == personAbsent {
			t.hand++
			continue
		}
		// removeAt may move a later entry into this slot: look again.
		t.removeAt(t.hand)
		dropped(s)
		n--
	}
}
