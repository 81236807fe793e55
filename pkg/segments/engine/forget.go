package engine

import (
	"container/heap"
	"time"
)

// Forget erases person id from the processor (right to erasure): its
// state, its next timer, its pending inputs, the inputs it forwards, the
// merges that lead to it or from it and the holds for them go, and no
// change is made: a member leaves its segments without an exit. The state shows as gone in
// TakeDirty and the pending inputs as released in TakePending, so that a
// changelog forgets them too. An error is one of reading the store
// (ErrStore).
func (p *Processor) Forget(id string) error {
	person, err := p.lookup(id)
	if err != nil {
		return err
	}
	if person != nil {
		p.remove(id)
	}
	p.setTimer(id, time.Time{})
	for from, into := range p.state.Redirects {
		if from == id || into == id {
			delete(p.state.Redirects, from)
		}
	}
	kept := p.state.Pending[:0]
	for _, pe := range p.state.Pending {
		if !pe.Input.involves(id) {
			kept = append(kept, pe)
			continue
		}
		if _, new := p.queued[pe.Arrival]; new {
			delete(p.queued, pe.Arrival) // never written
		} else {
			p.released = append(p.released, pe.Arrival)
		}
	}
	p.state.Pending = kept
	heap.Init(p.pending())
	forwards := p.forwards[:0]
	for _, in := range p.forwards {
		if !in.involves(id) {
			forwards = append(forwards, in)
		}
	}
	p.forwards = forwards
	// A merge into (or of) the person will send no transfer now: its hold
	// goes, and the next progress moves the watermark past it.
	for from, h := range p.state.Holds {
		if h.Into == id || from == id {
			delete(p.state.Holds, from)
		}
	}
	return nil
}

// involves reports whether the input is of person id: its event's person,
// either side of its merge, or the person its transfer joins or carries.
func (in *Input) involves(id string) bool {
	switch {
	case in.Event != nil:
		return in.Event.Person == id
	case in.Merge != nil:
		return in.Merge.From == id || in.Merge.Into == id
	}
	return in.Transfer.Into == id || (in.Transfer.State != nil && in.Transfer.State.ID == id)
}
