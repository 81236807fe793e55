package identitymap

import (
	"math/rand/v2"
	"testing"
)

// TestTableMatchesAMap runs random puts, removals and evictions on small
// tables, whose keys cluster and wrap around, against a Go map.
func TestTableMatchesAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, capacity := range []int{1, 5, 48, 700} {
		var tb table
		tb.init(capacity)
		want := make(map[cacheKey]cachedPerson)
		keys := make([]cacheKey, 3*capacity)
		for i := range keys {
			keys[i] = cacheKey{rng.Uint64(), rng.Uint64()}
		}
		for step := range 20_000 {
			k := keys[rng.IntN(len(keys))]
			switch op := rng.IntN(10); {
			case op < 6:
				p := cachedPerson{digest: [singletonDigest]byte{byte(step), 9: byte(step >> 8)}, kind: personKind(1 + step%3)}
				if tb.full() && tb.get(k).kind == personAbsent {
					n := 1 + rng.IntN(capacity)
					tb.evict(n, func(k cacheKey, p cachedPerson) {
						if want[k] != p {
							t.Fatalf("capacity %d: evicted %v with %v, want %v", capacity, k, p, want[k])
						}
						delete(want, k)
						n--
					})
					if n != 0 {
						t.Fatalf("capacity %d: evict dropped %d too few", capacity, n)
					}
				}
				tb.put(k, p)
				want[k] = p
			case op < 9:
				if _, ok := want[k]; tb.remove(k) != ok {
					t.Fatalf("capacity %d: remove of %v: %v, want %v", capacity, k, !ok, ok)
				}
				delete(want, k)
			default:
				for _, k := range keys {
					if got := tb.get(k); got != want[k] {
						t.Fatalf("capacity %d, step %d: get(%v) = %v, want %v", capacity, step, k, got, want[k])
					}
				}
			}
			if slots := len(*tb.slots.Load()); tb.used != len(want) || tb.used > capacity || slots > maxSlots(capacity) {
				t.Fatalf("capacity %d: %d used of %d slots, want %d used, at most %d in %d slots",
					capacity, tb.used, slots, len(want), capacity, maxSlots(capacity))
			}
		}
	}
}
