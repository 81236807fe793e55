package engine

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Merge says that person From is now part of person Into (an identity
// merge) as of At.
type Merge struct {
	From string    `json:"from"`
	Into string    `json:"into"`
	At   time.Time `json:"at"`
}

// Transfer carries the state of a merged person to the processor of the
// person it merged into, when that is another processor.
type Transfer struct {
	Into  string    `json:"into"`
	At    time.Time `json:"at"`
	State *Person   `json:"state"`
}

// Progress tells a processor how far the router has read each partition
// of the touchpoints topic (its sources) in event time: Read maps a source
// partition to the latest event time read from it, or to the clock for a
// source partition the router has read to its end and that got nothing
// for idle_advance. Sources is the number of source partitions.
type Progress struct {
	Sources int32               `json:"sources"`
	Read    map[int32]time.Time `json:"read"`
}

// Input is one event, one merge, one transfer, the router's progress or a
// hold: a merge into this processor's person whose transfer is coming from
// another processor, which holds the watermark before the merge's time
// until the transfer arrives.
type Input struct {
	Event    *Event    `json:"event,omitempty"`
	Merge    *Merge    `json:"merge,omitempty"`
	Transfer *Transfer `json:"transfer,omitempty"`
	Progress *Progress `json:"progress,omitempty"`
	Hold     *Merge    `json:"hold,omitempty"`
}

func (in *Input) at() time.Time {
	switch {
	case in.Event != nil:
		return in.Event.At
	case in.Merge != nil:
		return in.Merge.At
	case in.Hold != nil:
		return in.Hold.At
	}
	return in.Transfer.At
}

// Person is the person whose processor the input is for: the event's, the
// merged person's, the one a transfer joins or a hold waits for; "" for
// progress, which every processor gets.
func (in *Input) Person() string {
	switch {
	case in.Progress != nil:
		return ""
	case in.Hold != nil:
		return in.Hold.Into
	}
	switch {
	case in.Event != nil:
		return in.Event.Person
	case in.Merge != nil:
		return in.Merge.From
	}
	return in.Transfer.Into
}

// Validate reports an input that is not exactly one of its kinds, or that
// lacks what its kind needs.
func (in *Input) Validate() error {
	n := 0
	for _, set := range []bool{in.Event != nil, in.Merge != nil, in.Transfer != nil, in.Progress != nil, in.Hold != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return fmt.Errorf("an input is one event, merge, transfer, progress or hold, not %d", n)
	case in.Event != nil && (in.Event.ID == "" || in.Event.Person == "" || in.Event.Type == "" || in.Event.At.IsZero()):
		return fmt.Errorf("event %q: id, person, type and time are required", in.Event.ID)
	case in.Merge != nil && (in.Merge.From == "" || in.Merge.Into == "" || in.Merge.At.IsZero()):
		return fmt.Errorf("merge: from, into and time are required")
	case in.Hold != nil && (in.Hold.From == "" || in.Hold.Into == "" || in.Hold.At.IsZero()):
		return fmt.Errorf("hold: from, into and time are required")
	case in.Transfer != nil && (in.Transfer.Into == "" || in.Transfer.State == nil || in.Transfer.At.IsZero()):
		return fmt.Errorf("transfer: into, state and time are required")
	case in.Progress != nil:
		return in.Progress.validate()
	}
	return nil
}

// validate reports progress without sources, or about a source partition
// out of range or without a time.
func (pr *Progress) validate() error {
	if pr.Sources < 1 {
		return fmt.Errorf("progress: %d source partitions, want at least 1", pr.Sources)
	}
	for s, at := range pr.Read {
		if s < 0 || s >= pr.Sources || at.IsZero() {
			return fmt.Errorf("progress: source partition %d of %d at %s", s, pr.Sources, at)
		}
	}
	return nil
}

// Change is a person entering or leaving a segment.
type Change struct {
	Person  string    `json:"person"`
	Segment string    `json:"segment"`
	Entered bool      `json:"entered"`
	At      time.Time `json:"at"`
	// Features are the values the condition read when it changed, by call
	// (`count("add_to_cart", "1h")`) or feature name.
	Features map[string]any `json:"features,omitempty"`
}

// Processor holds the persons of one partition and turns their events and
// merges, processed in event time, into segment changes. It is not safe for
// concurrent use.
type Processor struct {
	defs     *Definitions
	features []cel.Program
	segments []cel.Program
	// local reports whether a person belongs to this processor; merges into
	// other persons become transfers. Nil: every person does.
	local func(person string) bool
	// store, when set, holds the persons' states; persons then holds those
	// used since the last Evict and those changed since the last
	// TakeDirty, with nil for a person known to have no state. Without a
	// store, persons holds every person.
	store   Store
	persons map[string]*Person
	// timerOf is the due time (Unix nanoseconds) of every person's next
	// timer, in memory whether or not the person is.
	timerOf map[string]int64

	state meta
	// byProgress: only progress moves the watermark (ByProgress).
	byProgress bool
	// forwards are the inputs for other processors (merged persons'
	// states, and events of merged persons), and dirty the persons
	// changed, since they were last taken.
	forwards []Input
	dirty    map[string]bool
	// queued and released are the pending inputs added and the arrivals
	// released since they were last taken.
	queued   map[int64]*Pending
	released []int64
	// timers orders persons by their next timer; entries that no longer
	// match the person's Timer are skipped.
	timers timerHeap

	// The person being evaluated, the evaluation time and what the
	// expression being evaluated read; vars are the named features'
	// values. The maps are reused from one evaluation to the next.
	current *Person
	now     time.Time
	read    map[string]any
	vars    map[string]any
	// ctx stops evaluations when it ends; aborted are the evaluations
	// that decided nothing since they were last taken.
	ctx     context.Context
	aborted []Aborted
}

// Aborted is an evaluation that decided nothing: it reached the
// definitions' MaxCost, or it failed (a division by zero, an integer
// overflow). The person's membership of the segment (of every segment,
// when a feature was aborted) stayed as it was.
type Aborted struct {
	Person string
	// Expression is the segment or feature whose evaluation was aborted.
	Expression string
	At         time.Time
	// Reason is AbortedCost or AbortedError; Err says what happened.
	Reason string
	Err    error
}

// The reasons of an Aborted evaluation.
const (
	AbortedCost  = "max_cost"
	AbortedError = "error"
)

// interruptEvery is how many iterations of a comprehension run between
// checks of the processor's context.
const interruptEvery = 100

// ErrStore marks the errors of reading a person's state from a Store: the
// processor's state is then incomplete, unlike after an error of
// evaluating a condition.
var ErrStore = errors.New("reading the segments state")

// Store holds persons' states outside the processor's memory.
type Store interface {
	// Person returns the state of a person as last taken by TakeDirty,
	// or nil when it has none.
	Person(id string) (*Person, error)
}

// meta is the processor's state besides its persons.
type meta struct {
	// Pending are the inputs after the watermark, waiting for it, with
	// their arrival order.
	Pending []Pending `json:"pending,omitempty"`
	// MaxSeen is the latest input time seen. Watermark is, once progress
	// has arrived, the earliest of Sources less the allowed lateness;
	// before, MaxSeen less the allowed lateness.
	// Inputs at or before it are late.
	MaxSeen   time.Time `json:"max_seen"`
	Watermark time.Time `json:"watermark"`
	// Sources is how far the router has read each source partition, as
	// its progress inputs said (the latest of them for each), and
	// SourceCount the number of source partitions (0: no progress yet).
	Sources     map[int32]time.Time `json:"sources,omitempty"`
	SourceCount int32               `json:"source_count,omitempty"`
	// Holds are the merges whose transfers are coming, by merged person:
	// the watermark stays at or before each one's time until its transfer
	// arrives, or the person it merges into is erased.
	Holds    map[string]Merge `json:"holds,omitempty"`
	Arrivals int64            `json:"arrivals"`
	// Dropped counts the inputs that arrived late; Evaluations the
	// evaluations of persons.
	Dropped     int64 `json:"dropped"`
	Evaluations int64 `json:"evaluations"`
	// Persons counts the persons with state.
	Persons int64 `json:"persons"`
	// Redirects maps merged persons to the persons they merged into, so
	// that their later inputs reach the survivor.
	Redirects map[string]string `json:"redirects,omitempty"`
}

// Pending is an input waiting for the watermark, with its arrival number
// (which orders inputs of the same time).
type Pending struct {
	Input   Input `json:"input"`
	Arrival int64 `json:"arrival"`
}

// NewProcessor returns a processor of defs with no state. local, when not
// nil, tells which persons are this processor's: a merge into another
// person becomes a Transfer (TakeForwards) for that person's processor.
func NewProcessor(defs *Definitions, local func(person string) bool) (*Processor, error) {
	p := &Processor{defs: defs, local: local, persons: map[string]*Person{}, timerOf: map[string]int64{},
		dirty: map[string]bool{}, queued: map[int64]*Pending{}, ctx: context.Background(), read: map[string]any{}, vars: map[string]any{}}
	env, err := newEnv(p)
	if err != nil {
		return nil, err
	}
	for _, f := range defs.Features {
		prg, err := env.Program(f.ast, p.programOptions(f.checked)...)
		if err != nil {
			return nil, fmt.Errorf("feature %s: %w", f.Name, err)
		}
		p.features = append(p.features, prg)
		if env, err = env.Extend(cel.Variable(f.Name, f.ast.OutputType())); err != nil {
			return nil, err
		}
	}
	for _, s := range defs.Segments {
		prg, err := env.Program(s.ast, p.programOptions(s.checked)...)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", s.Name, err)
		}
		p.segments = append(p.segments, prg)
	}
	return p, nil
}

// WithStore makes the processor keep persons' states in store instead of
// memory: it loads a person when first used, and the caller writes what
// TakeDirty returns to store, then calls Evict to bound the memory. Call it
// before any input or restore.
func (p *Processor) WithStore(store Store) *Processor {
	p.store = store
	return p
}

// WithContext makes the processor's evaluations stop when ctx ends: Add
// then returns an error wrapping ctx's, and the processor, left
// part way through an instant, must be rebuilt from its changelog before
// further use. Call it before any input.
func (p *Processor) WithContext(ctx context.Context) *Processor {
	p.ctx = ctx
	return p
}

// TakeAborted returns the evaluations that decided nothing since the last
// call.
func (p *Processor) TakeAborted() []Aborted {
	a := p.aborted
	p.aborted = nil
	return a
}

// ByProgress makes only progress inputs move the watermark,
// from the first input on, as the service needs: without it, the inputs
// are their own source until the first progress arrives. Call it before
// any input.
func (p *Processor) ByProgress() *Processor {
	p.byProgress = true
	return p
}

// RestorePerson puts a person's state, as a changelog holds it, into the
// processor (without a store).
func (p *Processor) RestorePerson(person *Person) {
	person.init()
	p.persons[person.ID] = person
	p.RestoreTimer(person.ID, person.Timer)
}

// RestoreTimer restores a person's next timer (a zero due: none), for a
// processor with a store, whose persons stay in the store.
func (p *Processor) RestoreTimer(person string, due time.Time) {
	p.setTimer(person, due)
}

// Evict drops from memory the persons that have not changed since the
// last TakeDirty, until at most keep remain. Only a processor with a store
// evicts: without one, memory is where the state is.
func (p *Processor) Evict(keep int) {
	if p.store == nil {
		return
	}
	for id := range p.persons {
		if len(p.persons) <= keep {
			return
		}
		if !p.dirty[id] {
			delete(p.persons, id)
		}
	}
}

// Cached returns how many persons the processor holds in memory.
func (p *Processor) Cached() int { return len(p.persons) }

// Meta returns the processor's state besides its persons and pending
// inputs (watermark, counters, redirects), for a changelog.
func (p *Processor) Meta() ([]byte, error) {
	m := p.state
	m.Pending = nil
	return json.Marshal(&m)
}

// TakePending returns the pending inputs queued and the arrivals of those
// released since the last call, for a changelog that keeps each pending
// input as a record of its own.
func (p *Processor) TakePending() (queued []Pending, released []int64) {
	queued = make([]Pending, 0, len(p.queued))
	for _, pe := range p.queued {
		queued = append(queued, *pe)
	}
	sort.Slice(queued, func(i, j int) bool { return queued[i].Arrival < queued[j].Arrival })
	released = p.released
	p.queued, p.released = map[int64]*Pending{}, nil
	return queued, released
}

// RestorePending puts a pending input, as a changelog holds it, back.
func (p *Processor) RestorePending(pe Pending) { heap.Push(p.pending(), pe) }

// pending returns the pending inputs as a heap ordered by time, then
// arrival.
func (p *Processor) pending() *pendingHeap { return (*pendingHeap)(&p.state.Pending) }

// RestoreMeta puts state returned by Meta into the processor; the pending
// inputs restored before or after stay.
func (p *Processor) RestoreMeta(b []byte) error {
	pending := p.state.Pending
	if err := json.Unmarshal(b, &p.state); err != nil {
		return fmt.Errorf("reading segments processor state: %w", err)
	}
	p.state.Pending = append(pending, p.state.Pending...)
	heap.Init(p.pending())
	return nil
}

// TakeDirty returns the persons changed since the last call, with nil for
// those that no longer exist, and forgets them.
func (p *Processor) TakeDirty() map[string]*Person {
	out := make(map[string]*Person, len(p.dirty))
	for id := range p.dirty {
		out[id] = p.persons[id]
	}
	p.dirty = map[string]bool{}
	return out
}

// TakeForwards returns the inputs for other processors made since the
// last call: transfers of merged persons' states, and events of persons
// merged into another processor's person.
func (p *Processor) TakeForwards() []Input {
	f := p.forwards
	p.forwards = nil
	return f
}

// isLocal reports whether person belongs to this processor.
func (p *Processor) isLocal(person string) bool { return p.local == nil || p.local(person) }

// owner follows merges from person to the person holding its state now.
func (p *Processor) owner(person string) string {
	for {
		next, ok := p.state.Redirects[person]
		if !ok {
			return person
		}
		person = next
	}
}

// Watermark returns the time up to which everything is final.
func (p *Processor) Watermark() time.Time { return p.state.Watermark }

// Dropped returns how many inputs arrived too late to count.
func (p *Processor) Dropped() int64 { return p.state.Dropped }

// Evaluations returns how many times the processor evaluated a person.
func (p *Processor) Evaluations() int64 { return p.state.Evaluations }

// Persons returns how many persons have state.
func (p *Processor) Persons() int64 { return p.state.Persons }

// Add takes one input and returns the changes that became final: an event
// at or before the watermark is dropped as late; an event of a person
// merged into another processor's is forwarded (TakeForwards) at once; the
// other inputs wait until the watermark passes them. Progress moves the watermark to the
// earliest time its sources have been read to, less the allowed lateness,
// once every source partition has been heard of. Until the first progress
// arrives, the inputs are their own source: the watermark is the latest
// input time less the allowed lateness.
func (p *Processor) Add(in Input) ([]Change, error) {
	changes, err := p.add(in)
	if err != nil || in.Transfer == nil {
		return changes, err
	}
	// The transfer is queued or applied: the hold waiting for it goes.
	more, err := p.release(in.Transfer.State.ID)
	return append(changes, more...), err
}

// Discard takes an input of an erased person without applying it: a
// transfer still releases the hold waiting for it. It returns the changes
// the released hold lets become final.
func (p *Processor) Discard(in Input) ([]Change, error) {
	if in.Transfer == nil {
		return nil, nil
	}
	return p.release(in.Transfer.State.ID)
}

// release drops the hold waiting for the transfer of person from, if any,
// and advances the watermark as far as the inputs then allow.
func (p *Processor) release(from string) ([]Change, error) {
	if _, ok := p.state.Holds[from]; !ok {
		return nil, nil
	}
	delete(p.state.Holds, from)
	return p.advance(p.target())
}

// add takes one input as Add does, but for releasing a hold.
func (p *Processor) add(in Input) ([]Change, error) {
	switch {
	case in.Progress != nil:
		return p.progress(in.Progress)
	case in.Hold != nil:
		if in.Hold.At.After(p.state.Watermark) {
			if p.state.Holds == nil {
				p.state.Holds = map[string]Merge{}
			}
			p.state.Holds[in.Hold.From] = *in.Hold
		}
		return nil, nil
	}
	at := in.at()
	if !at.After(p.state.Watermark) && !p.state.Watermark.IsZero() {
		if in.Event == nil {
			// Merges and persons' states are never dropped: they take
			// effect at the watermark.
			return p.atWatermark(in, p.state.Watermark)
		}
		p.state.Dropped++
		return nil, nil
	}
	if e := in.Event; e != nil {
		if owner := p.owner(e.Person); !p.isLocal(owner) {
			// A person merged into another partition's: forwarded on
			// arrival, so that it reaches that partition as early as it can.
			fwd := *e
			fwd.Person = owner
			p.forwards = append(p.forwards, Input{Event: &fwd})
			return nil, nil
		}
	}
	p.state.Arrivals++
	pe := Pending{Input: in, Arrival: p.state.Arrivals}
	heap.Push(p.pending(), pe)
	p.queued[pe.Arrival] = &pe
	if at.After(p.state.MaxSeen) {
		p.state.MaxSeen = at
	}
	if p.byProgress || p.state.SourceCount > 0 {
		return nil, nil // the router's progress moves the watermark
	}
	return p.advance(p.target())
}

// target returns the watermark the inputs so far allow: the earliest time
// the source partitions have been read to (or, before any progress, the
// latest input time) less the allowed lateness, and not past any hold's
// time; zero while a source partition has not been read.
func (p *Processor) target() time.Time {
	w := p.state.MaxSeen
	if p.state.SourceCount > 0 || p.byProgress {
		w = time.Time{}
		for s := int32(0); s < p.state.SourceCount; s++ {
			at, ok := p.state.Sources[s]
			if !ok {
				return time.Time{} // a source partition not read yet holds the watermark
			}
			if w.IsZero() || at.Before(w) {
				w = at
			}
		}
		if w.IsZero() {
			return w
		}
	}
	w = w.Add(-p.defs.AllowedLateness)
	for _, h := range p.state.Holds {
		if h.At.Before(w) {
			// Up to the merge's time, not past it: the transfer joins at
			// that time exactly, and two partitions holding for each
			// other's merges at one instant both reach it and send them.
			w = h.At
		}
	}
	return w
}

// progress records how far the router has read the sources it reports
// (never going back), and advances the watermark to the earliest of them,
// less the allowed lateness, when every source partition has been read.
func (p *Processor) progress(pr *Progress) ([]Change, error) {
	if p.state.Sources == nil {
		p.state.Sources = map[int32]time.Time{}
	}
	p.state.SourceCount = pr.Sources
	for s, at := range pr.Read {
		if at.After(p.state.Sources[s]) {
			p.state.Sources[s] = at
		}
	}
	return p.advance(p.target())
}

// Holds returns how many merges the processor holds its watermark for,
// waiting for their transfers.
func (p *Processor) Holds() int { return len(p.state.Holds) }

// Sources returns how far each source partition has been read, as the
// router's progress said, and the number of source partitions (0 before
// any progress).
func (p *Processor) Sources() (map[int32]time.Time, int32) {
	return p.state.Sources, p.state.SourceCount
}

// advance processes, in time order, every pending input and timer at or
// before w, and makes w the watermark.
func (p *Processor) advance(w time.Time) ([]Change, error) {
	if !w.After(p.state.Watermark) {
		return nil, nil
	}
	var changes []Change
	for {
		// The next instant: the earlier of the next pending input and the
		// next timer, if not after w.
		var next time.Time
		if len(p.state.Pending) > 0 {
			next = p.state.Pending[0].Input.at()
		}
		p.dropStaleTimers()
		if len(p.timers) > 0 && (next.IsZero() || p.timers[0].due.Before(next)) {
			next = p.timers[0].due
		}
		if next.IsZero() || next.After(w) {
			break
		}
		c, err := p.instant(next)
		if err != nil {
			return changes, err
		}
		changes = append(changes, c...)
	}
	p.state.Watermark = w
	return changes, nil
}

// instant applies the inputs at t, then evaluates, at t, every person they
// touched and every person with a timer at t.
func (p *Processor) instant(t time.Time) ([]Change, error) {
	var changes []Change
	touched := map[string]bool{}
	for len(p.state.Pending) > 0 && p.state.Pending[0].Input.at().Equal(t) {
		pe := heap.Pop(p.pending()).(Pending)
		in := pe.Input
		applied, err := p.apply(in)
		if err != nil {
			return changes, err
		}
		for _, id := range applied {
			touched[id] = true
		}
		if in.Merge != nil {
			c, err := p.merge(in.Merge)
			if err != nil {
				return changes, err
			}
			changes = append(changes, c...)
			delete(touched, in.Merge.From)
			touched[p.owner(in.Merge.Into)] = true
		}
		if _, new := p.queued[pe.Arrival]; new {
			delete(p.queued, pe.Arrival) // queued and released within one batch
		} else {
			p.released = append(p.released, pe.Arrival)
		}
	}
	for len(p.timers) > 0 && !p.timers[0].due.After(t) {
		if tm := heap.Pop(&p.timers).(timer); p.live(tm) {
			touched[tm.person] = true
		}
	}
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		person, err := p.lookup(id)
		if err != nil {
			return changes, err
		}
		if person == nil { // merged away, or a merge of a person without state
			continue
		}
		c, err := p.evaluate(person, t)
		if err != nil {
			return changes, err
		}
		changes = append(changes, c...)
	}
	return changes, nil
}

// lookup returns the state of id, or nil when it has none.
func (p *Processor) lookup(id string) (*Person, error) {
	if person, ok := p.persons[id]; ok || p.store == nil {
		return person, nil
	}
	person, err := p.store.Person(id)
	if err != nil {
		return nil, fmt.Errorf("%w of person %s: %w", ErrStore, id, err)
	}
	if person != nil {
		person.init()
	}
	p.persons[id] = person
	return person, nil
}

// person returns the state of id, created when new.
func (p *Processor) person(id string) (*Person, error) {
	person, err := p.lookup(id)
	if err != nil || person != nil {
		return person, err
	}
	person = newPerson(id)
	p.persons[id] = person
	p.state.Persons++
	return person, nil
}

// remove forgets the state of id.
func (p *Processor) remove(id string) {
	if p.store == nil {
		delete(p.persons, id)
	} else {
		p.persons[id] = nil // until the store forgets it too
	}
	p.setTimer(id, time.Time{})
	p.state.Persons--
	p.dirty[id] = true
}

// setTimer makes due the person's next timer (zero: none).
func (p *Processor) setTimer(person string, due time.Time) {
	if due.IsZero() {
		delete(p.timerOf, person)
		return
	}
	if old, ok := p.timerOf[person]; ok && old == due.UnixNano() {
		return
	}
	p.timerOf[person] = due.UnixNano()
	heap.Push(&p.timers, timer{due: due, person: person})
	if len(p.timers) > 2*len(p.timerOf)+1024 {
		// Most entries are stale: rebuild the heap from the live ones.
		p.timers = p.timers[:0]
		for id, at := range p.timerOf {
			p.timers = append(p.timers, timer{due: time.Unix(0, at).UTC(), person: id})
		}
		heap.Init(&p.timers)
	}
}

// live reports whether a timer entry is its person's next timer.
func (p *Processor) live(tm timer) bool {
	due, ok := p.timerOf[tm.person]
	return ok && due == tm.due.UnixNano()
}

// apply applies an event or a transfer to its person (following merges;
// a person of another processor gets it forwarded) and returns the persons
// it touched.
func (p *Processor) apply(in Input) ([]string, error) {
	switch {
	case in.Event != nil:
		e := *in.Event
		e.Person = p.owner(e.Person)
		if !p.isLocal(e.Person) {
			p.forwards = append(p.forwards, Input{Event: &e})
			return nil, nil
		}
		if !p.defs.reads(&e) {
			// No definition reads it: it changes nothing in a person
			// with state, whose memberships then stay as they are (only
			// its timers change them without an event); a person it
			// creates is evaluated. A person with a timer has state: it
			// need not be read.
			if _, timed := p.timerOf[e.Person]; timed {
				return nil, nil
			}
			if person, err := p.lookup(e.Person); err != nil || person != nil {
				return nil, err
			}
		}
		person, err := p.person(e.Person)
		if err != nil {
			return nil, err
		}
		person.apply(p.defs, e)
		return []string{e.Person}, nil
	case in.Transfer != nil:
		t := *in.Transfer
		t.Into = p.owner(t.Into)
		if !p.isLocal(t.Into) {
			p.forwards = append(p.forwards, Input{Transfer: &t})
			return nil, nil
		}
		if t.State.empty() {
			return nil, nil // a transfer that only releases a hold
		}
		into, err := p.person(t.Into)
		if err != nil {
			return nil, err
		}
		into.absorb(t.State)
		return []string{t.Into}, nil
	}
	return nil, nil
}

// merge moves the state of m.From into m.Into (both followed through
// earlier merges), or into a transfer when Into is another processor's;
// From leaves every segment and its later inputs go to Into.
func (p *Processor) merge(m *Merge) ([]Change, error) {
	fromID, into := p.owner(m.From), p.owner(m.Into)
	if fromID == into {
		if !p.isLocal(m.Into) {
			// Repeated (a starting router sends every merge again): an
			// empty transfer releases the hold the other partition may
			// keep for it.
			p.forwards = append(p.forwards, Input{Transfer: &Transfer{Into: m.Into, At: m.At, State: newPerson(m.From)}})
		}
		return nil, nil
	}
	if p.state.Redirects == nil {
		p.state.Redirects = map[string]string{}
	}
	p.state.Redirects[fromID] = into
	from, err := p.lookup(fromID)
	if err != nil {
		return nil, err
	}
	if !p.isLocal(into) {
		p.forwardWaiting()
		if from == nil {
			// Nothing to join, but the other partition may hold for it.
			p.forwards = append(p.forwards, Input{Transfer: &Transfer{Into: into, At: m.At, State: newPerson(fromID)}})
			return nil, nil
		}
	}
	if from == nil {
		return nil, nil
	}
	var changes []Change
	for _, s := range from.Members {
		changes = append(changes, Change{Person: fromID, Segment: s, Entered: false, At: m.At})
	}
	from.Members, from.Timer = nil, time.Time{}
	p.remove(fromID)
	if !p.isLocal(into) {
		p.forwards = append(p.forwards, Input{Transfer: &Transfer{Into: into, At: m.At, State: from}})
		return changes, nil
	}
	survivor, err := p.person(into)
	if err != nil {
		return changes, err
	}
	survivor.absorb(from)
	return changes, nil
}

// forwardWaiting forwards at once the waiting inputs (events, transfers)
// whose person now belongs to another processor, so that they reach it
// before the transfer of the merge that moved it.
func (p *Processor) forwardWaiting() {
	kept := p.state.Pending[:0]
	for _, pe := range p.state.Pending {
		in := pe.Input
		var owner string
		switch {
		case in.Event != nil:
			owner = p.owner(in.Event.Person)
		case in.Transfer != nil:
			owner = p.owner(in.Transfer.Into)
		}
		if owner == "" || p.isLocal(owner) {
			kept = append(kept, pe)
			continue
		}
		if in.Event != nil {
			e := *in.Event
			e.Person = owner
			p.forwards = append(p.forwards, Input{Event: &e})
		} else {
			t := *in.Transfer
			t.Into = owner
			p.forwards = append(p.forwards, Input{Transfer: &t})
		}
		if _, new := p.queued[pe.Arrival]; new {
			delete(p.queued, pe.Arrival)
		} else {
			p.released = append(p.released, pe.Arrival)
		}
	}
	p.state.Pending = kept
	heap.Init(p.pending())
}

// atWatermark applies a merge or a transfer that arrived after the watermark
// passed its time as if it happened at w, and evaluates its person at w.
func (p *Processor) atWatermark(in Input, w time.Time) ([]Change, error) {
	touched, err := p.apply(in)
	if err != nil {
		return nil, err
	}
	var changes []Change
	if m := in.Merge; m != nil {
		late := *m
		late.At = w
		if changes, err = p.merge(&late); err != nil {
			return changes, err
		}
		touched = append(touched, p.owner(m.Into))
	}
	for _, id := range touched {
		if !p.isLocal(id) {
			continue
		}
		person, err := p.lookup(id)
		if err != nil {
			return changes, err
		}
		if person != nil {
			c, err := p.evaluate(person, w)
			changes = append(changes, c...)
			if err != nil {
				return changes, err
			}
		}
	}
	return changes, nil
}

// evaluate computes the person's memberships at t, returns the changes and
// sets the next timer. An evaluation that decides nothing (see Aborted)
// leaves the membership it was deciding as it was, and is recorded in
// aborted; the only error is the end of the processor's context.
func (p *Processor) evaluate(person *Person, t time.Time) ([]Change, error) {
	if err := p.ctx.Err(); err != nil {
		return nil, fmt.Errorf("evaluating segments: %w", err)
	}
	person.expire(p.defs, t)
	p.state.Evaluations++
	p.current, p.now = person, t
	defer func() { p.current = nil }()
	vars := p.vars
	clear(vars)
	var changes []Change
	members := person.Members
	decided := true
	for i, f := range p.defs.Features {
		clear(p.read)
		out, err := p.eval(p.features[i], vars, person, f.Name, t)
		if err != nil {
			return nil, fmt.Errorf("feature %s of person %s: %w", f.Name, person.ID, err)
		}
		if out == nil { // aborted: no segment can be decided
			decided = false
			break
		}
		vars[f.Name] = out
	}
	if decided {
		members = nil
		for i, s := range p.defs.Segments {
			clear(p.read)
			was := containsSorted(person.Members, s.Name)
			out, err := p.eval(p.segments[i], vars, person, s.Name, t)
			if err != nil {
				return nil, fmt.Errorf("segment %s of person %s: %w", s.Name, person.ID, err)
			}
			in := was
			if out != nil {
				in = out == types.True
			}
			if in {
				members = append(members, s.Name)
			}
			if in != was {
				features := maps.Clone(p.read)
				for _, f := range p.defs.Features {
					features[f.Name] = vars[f.Name].(ref.Val).Value()
				}
				changes = append(changes, Change{Person: person.ID, Segment: s.Name, Entered: in, At: t, Features: features})
			}
		}
		sort.Strings(members)
	}
	person.Members = members
	person.Timer = person.nextTimer(p.defs, t)
	p.setTimer(person.ID, person.Timer)
	p.dirty[person.ID] = true
	if person.empty() {
		p.remove(person.ID)
	}
	return changes, nil
}

// eval evaluates the program of expression what for person at t: a nil
// value and no error when the evaluation is aborted (recorded in aborted),
// an error only when the processor's context ended.
func (p *Processor) eval(prg cel.Program, vars map[string]any, person *Person, what string, t time.Time) (ref.Val, error) {
	var out ref.Val
	var err error
	if p.defs.MaxCost > interruptCost {
		out, _, err = prg.ContextEval(p.ctx, vars)
	} else {
		out, _, err = prg.Eval(vars)
	}
	switch {
	case err == nil:
		return out, nil
	case p.ctx.Err() != nil:
		return nil, err
	}
	a := Aborted{Person: person.ID, Expression: what, At: t, Reason: AbortedError, Err: err}
	if overBudget(err) {
		a.Reason = AbortedCost
	}
	p.aborted = append(p.aborted, a)
	return nil, nil
}

// Describe returns the values, as of at, of every feature function the
// definitions call and of every named feature for person id, and the
// segments it is in; nil values when the processor does not hold it. It
// changes nothing.
func (p *Processor) Describe(id string, at time.Time) (map[string]any, []string, error) {
	person, err := p.lookup(id)
	if err != nil || person == nil {
		return nil, nil, err
	}
	values := map[string]any{}
	for key, s := range p.defs.specs { // keyed by the call's text
		values[key] = person.value(p.defs, &boundCall{spec: s, text: key}, at)
	}
	p.current, p.now, p.read = person, at, map[string]any{}
	defer func() { p.current = nil }()
	vars := map[string]any{}
	for i, f := range p.defs.Features {
		out, _, err := p.features[i].Eval(vars)
		if err != nil {
			return nil, nil, fmt.Errorf("feature %s of person %s: %w", f.Name, id, err)
		}
		vars[f.Name] = out
		values[f.Name] = out.Value()
	}
	return values, person.Members, nil
}

// value implements binder for the person being evaluated.
func (p *Processor) value(c *boundCall) ref.Val {
	v := p.current.value(p.defs, c, p.now)
	p.read[c.text] = v
	return types.DefaultTypeAdapter.NativeToValue(v)
}

// dropStaleTimers pops timer entries that no longer match their person.
func (p *Processor) dropStaleTimers() {
	for len(p.timers) > 0 && !p.live(p.timers[0]) {
		heap.Pop(&p.timers)
	}
}

func containsSorted(list []string, s string) bool {
	i := sort.SearchStrings(list, s)
	return i < len(list) && list[i] == s
}

type timer struct {
	due    time.Time
	person string
}

// timerHeap is a min-heap of timers by due time, then person.
type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].person < h[j].person
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// pendingHeap is a min-heap of pending inputs by time, then arrival.
type pendingHeap []Pending

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	a, b := h[i].Input.at(), h[j].Input.at()
	if !a.Equal(b) {
		return a.Before(b)
	}
	return h[i].Arrival < h[j].Arrival
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(Pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
