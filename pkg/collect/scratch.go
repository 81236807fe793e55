package collect

import (
	"sync"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// scratch is the memory a request's handling takes by the batch: its body,
// the messages read from it with their dicts' members and context objects,
// and the touchpoints converted from them with their identifiers and
// properties. A request takes one from scratches and gives it back once
// answered, for the next request to reuse, so that a batch does not
// allocate (and the garbage collector reclaim) all of it anew. That is
// safe because nothing of a request outlives its answer: the Kafka records
// are encoded into memory of their own before they are produced, and
// answers and logs carry copies.
type scratch struct {
	body []byte
	msgs []Message
	// written is how many of msgs the last batch may have written to;
	// the rest are zero.
	written int
	read    []member
	// rooms holds the messages' context objects.
	rooms rooms
	tps   []touchpoint.Touchpoint
	// ctxs holds the context of each of tps, which the conversion drops
	// from a touchpoint when it is empty.
	ctxs []touchpoint.Context
}

// scratches holds the scratch space of requests answered, for reuse.
var scratches = sync.Pool{New: func() any { return new(scratch) }}

// maxKeptEntries is the most entries a touchpoint's identifiers or
// properties may have had room for to be kept, emptied, for the next
// request: a larger room is dropped, so that one record with many
// properties does not make later requests hold on to a large one.
const maxKeptEntries = 64

// bodyOf returns a buffer of n bytes, the earlier body's when it is large
// enough.
func (w *scratch) bodyOf(n int) []byte {
	if cap(w.body) < n {
		w.body = make([]byte, n)
	}
	return w.body[:n]
}

// messages returns the earlier batch's messages' room, emptied, with room
// for about as many as a batch body of n bytes holds. A batch array is
// read into what the one before left, so the messages the last batch
// wrote are cleared; only those, so that a small batch after a large one
// does not clear the large one's room.
func (w *scratch) messages(n int) []Message {
	clear(w.msgs[:min(w.written, cap(w.msgs))])
	w.written = 0
	if want := n / batchBytesPerMessage; cap(w.msgs) < want {
		return make([]Message, 0, want)
	}
	return w.msgs[:0]
}

// members returns the earlier batch's members' room, with room for about
// as many as a batch body of n bytes holds.
func (w *scratch) members(n int) []member {
	if want := n / batchBytesPerMember; cap(w.read) < want {
		return make([]member, 0, want)
	}
	return w.read[:0]
}

// touchpoints makes room for n touchpoints, keeping those there are.
func (w *scratch) touchpoints(n int) {
	if cap(w.tps) < n {
		tps := make([]touchpoint.Touchpoint, n)
		copy(tps, w.tps[:cap(w.tps)])
		w.tps = tps
		w.ctxs = make([]touchpoint.Context, n)
	}
	w.tps = w.tps[:n]
}

// touchpoint returns the i-th touchpoint (touchpoints made room for it),
// empty, with the room for identifiers and properties an earlier request's
// left and its context, cleared.
func (w *scratch) touchpoint(i int) *touchpoint.Touchpoint {
	t := &w.tps[i]
	w.ctxs[i] = touchpoint.Context{}
	*t = touchpoint.Touchpoint{Identifiers: emptied(t.Identifiers), Properties: emptied(t.Properties), Context: &w.ctxs[i]}
	return t
}

// emptied returns a emptied, with the room it had, or nil when it had room
// for more than maxKeptEntries.
func emptied(a touchpoint.Attrs) touchpoint.Attrs {
	if cap(a) > maxKeptEntries {
		return nil
	}
	clear(a) // holds on to no request's strings
	return a[:0]
}
