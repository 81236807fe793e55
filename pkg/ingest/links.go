package ingest

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
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
// and a request of up to 8 identifiers is checked without allocating. An
// identifier's hash is its value's, mixed with its type's; each string is
// hashed in one call (maphash.String), since streaming them through a
// maphash.Hash cost several times as much on hashed identifier values.
func (r *recentLinks) fresh(l *stitch.LinkRequest) bool {
	var room [8]uint64
	each := room[:0]
	for _, id := range l.Identifiers {
		each = append(each, maphash.String(r.seed, id.Value)^bits.RotateLeft64(maphash.String(r.seed, id.Type), 29))
	}
	slices.Sort(each)
	var buf [8 * len(room)]byte
	sigBytes := buf[:0]
	for _, x := range each {
		sigBytes = binary.LittleEndian.AppendUint64(sigBytes, x)
	}
	sig := maphash.Bytes(r.seed, sigBytes)
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
