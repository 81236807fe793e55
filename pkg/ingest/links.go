package ingest

import (
	"encoding/binary"
	"hash/maphash"
	"slices"

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
// remembers them. A set's signature hashes its identifiers' own hashes in
// ascending order, so that the order of the identifiers does not matter
// and a request of up to 8 identifiers is checked without allocating.
func (r *recentLinks) fresh(l *stitch.LinkRequest) bool {
	var room [8]uint64
	each := room[:0]
	var h maphash.Hash
	h.SetSeed(r.seed)
	for _, id := range l.Identifiers {
		h.Reset()
		h.WriteString(id.Type)
		h.WriteByte(0)
		h.WriteString(id.Value)
		each = append(each, h.Sum64())
	}
	slices.Sort(each)
	h.Reset()
	var b [8]byte
	for _, x := range each {
		binary.LittleEndian.PutUint64(b[:], x)
		_, _ = h.Write(b[:])
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
