package ingest

import (
	"hash/maphash"
	"sort"

	"github.com/touchline-io/touchline/pkg/identity/stitch"
)

// recentLinksPerGeneration bounds the memory of recentLinks: two generations
// of this many 8-byte signatures.
const recentLinksPerGeneration = 200_000

// recentLinks remembers the identifier sets of recent link requests, so that
// the many events of one person with the same identifiers send one request
// rather than one each. It forgets in generations: when the current one is
// full it becomes the previous one. Forgetting only costs a repeated
// request, which the resolver applies to no effect. Service guards it.
type recentLinks struct {
	seed              maphash.Seed
	current, previous map[uint64]struct{}
}

func newRecentLinks() *recentLinks {
	return &recentLinks{seed: maphash.MakeSeed(), current: map[uint64]struct{}{}}
}

// fresh reports whether no recent request had l's identifiers, and
// remembers them.
func (r *recentLinks) fresh(l *stitch.LinkRequest) bool {
	keys := make([]string, len(l.Identifiers))
	for i, id := range l.Identifiers {
		keys[i] = string(stitch.MapKey(id))
	}
	sort.Strings(keys)
	var h maphash.Hash
	h.SetSeed(r.seed)
	for _, k := range keys {
		h.WriteString(k)
		h.WriteByte(0)
	}
	sig := h.Sum64()
	if _, ok := r.current[sig]; ok {
		return false
	}
	if _, ok := r.previous[sig]; ok {
		r.current[sig] = struct{}{}
		return false
	}
	if len(r.current) >= recentLinksPerGeneration {
		r.previous, r.current = r.current, map[uint64]struct{}{}
	}
	r.current[sig] = struct{}{}
	return true
}
