package segmentsref

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Transfer is the state of merged person From arriving for person Into,
// as of At: the reference does not read what the record carries, it
// computes which events From owned from the partition that merged it.
type Transfer struct {
	From, Into string
	At         time.Time
}

// Progress is the router's progress on an inputs partition: how far it has
// read each of Sources touchpoints partitions, in event time.
type Progress struct {
	Sources int
	Read    map[int]time.Time
}

// Observed is one record of an inputs partition, as the stage consumed it:
// an event as the router routed it, a merge, a transfer, an event that
// another partition forwarded because its person had merged into a person
// of this one (its person rewritten to that one), or the router's progress.
type Observed struct {
	Event    *Event
	Merge    *Merge
	Transfer *Transfer
	Forward  *Event
	Progress *Progress
	Hold     *Merge
}

func (o Observed) String() string {
	switch {
	case o.Event != nil:
		return fmt.Sprintf("event %s of %s at %s", o.Event.ID, o.Event.Person, o.Event.At.Format(time.RFC3339))
	case o.Forward != nil:
		return fmt.Sprintf("forwarded event %s of %s at %s", o.Forward.ID, o.Forward.Person, o.Forward.At.Format(time.RFC3339))
	case o.Merge != nil:
		return fmt.Sprintf("merge %s>%s at %s", o.Merge.From, o.Merge.Into, o.Merge.At.Format(time.RFC3339))
	case o.Progress != nil:
		return fmt.Sprintf("progress %v", o.Progress.Read)
	case o.Hold != nil:
		return fmt.Sprintf("hold %s>%s at %s", o.Hold.From, o.Hold.Into, o.Hold.At.Format(time.RFC3339))
	}
	return fmt.Sprintf("transfer %s>%s at %s", o.Transfer.From, o.Transfer.Into, o.Transfer.At.Format(time.RFC3339))
}

// Across counts what ChangesAcross saw.
type Across struct {
	// Merges counts the merge records, Redirects those that redirected a
	// person, and Repeated those of a person already redirected.
	Merges, Redirects, Repeated int
	// Transfers counts the transfer records, and LateTransfers those that
	// arrived after the watermark had passed their time.
	Transfers, LateTransfers int
	// Forwards counts the forwarded event records, and LateForwards those
	// that arrived late; Dropped counts every event record (routed or
	// forwarded) that arrived late.
	Forwards, LateForwards, Dropped int
}

// offsets are the times after an event at which a condition of
// Definitions may change because of it: it leaves the 1h or the 1d window,
// or 2h have passed since it (since("page_view")).
var offsets = []time.Duration{time.Hour, 2 * time.Hour, 24 * time.Hour}

// sent is a transfer or a forwarded event one partition produced for
// another, with the events it brings.
type sent struct {
	events []Event
}

// partition replays one inputs partition.
type partition struct {
	id        int
	inputs    []Observed
	next      int
	maxSeen   time.Time
	watermark time.Time
	arrivals  int
	pending   []waiting
	redirects map[string]string
	owned     map[string][]Event
	members   map[string]map[string]bool
	changes   []Change
	// byProgress: the partition's records include progress, so only
	// progress moves its watermark; read is how far each source has been
	// read.
	byProgress bool
	read       map[int]time.Time
	sources    int
	// holds are the times of the merges whose transfers are coming, by
	// merged person.
	holds map[string]time.Time
}

// waiting is an input waiting for the watermark, with the events it
// brings (one for an event, a transferred person's for a transfer).
type waiting struct {
	in      Observed
	at      time.Time
	arrival int
	events  []Event
}

// across replays all partitions, with what each sent the others and has not
// yet been consumed.
type across struct {
	parts       []*partition
	partitionOf func(string) int
	sent        map[string][]sent // by destination partition and key
	stats       Across
}

func forwardKey(part int, e Event) string {
	return fmt.Sprintf("partition %d: forwarded event %s of %s at %s", part, e.ID, e.Person, e.At.Format(time.RFC3339Nano))
}

func transferKey(part int, t Transfer) string {
	return fmt.Sprintf("partition %d: transfer %s>%s at %s", part, t.From, t.Into, t.At.Format(time.RFC3339Nano))
}

// ChangesAcross returns the changes that the documented semantics give for
// every partition of the inputs topic, given each partition's records in
// the order they arrived there, and partitionOf, the partition of a
// person. Each partition applies its inputs in event time as Changes does
// for one, but for a partition whose records include the router's
// progress: only progress moves its watermark, to the earliest time read
// over all source partitions less the lateness (none while a source
// partition has not been read); a merge takes effect at its time, or at the watermark if it
// arrives after the watermark passed it: the merged person leaves its
// segments and later inputs of it go to the person it merged into. When
// that person is in another partition, the merged person's events (as this
// replay computes them) travel there, to be absorbed at the transfer's time
// or, if the transfer arrives after that partition's watermark passed it,
// at the watermark; and its later events are forwarded there (on arrival
// when the merge has taken effect, else when the watermark passes them),
// where they are ordinary events. Every transfer and forwarded event on a partition
// must be one that another partition sent, and every one sent must arrive
// (but for a transfer of a person holding nothing that still counts):
// otherwise ChangesAcross reports an error.
func ChangesAcross(partitions [][]Observed, partitionOf func(person string) int) ([]Change, Across, error) {
	a := &across{partitionOf: partitionOf, sent: map[string][]sent{}}
	for i, inputs := range partitions {
		p := &partition{id: i, inputs: inputs, redirects: map[string]string{},
			owned: map[string][]Event{}, members: map[string]map[string]bool{}, read: map[int]time.Time{}, holds: map[string]time.Time{}}
		for _, in := range inputs {
			p.byProgress = p.byProgress || in.Progress != nil
		}
		a.parts = append(a.parts, p)
	}
	// Replay whichever partition can go on: its next record is routed, or
	// one that another partition has already sent.
	for progress := true; progress; {
		progress = false
		for _, p := range a.parts {
			for p.next < len(p.inputs) {
				w, ok := a.take(p.id, p.inputs[p.next])
				if !ok {
					break
				}
				a.arrive(p, w)
				p.next++
				progress = true
			}
		}
	}
	var problems []string
	var out []Change
	for _, p := range a.parts {
		if p.next < len(p.inputs) {
			problems = append(problems, fmt.Sprintf("partition %d, record %d: %s, which no partition sent", p.id, p.next, p.inputs[p.next]))
		}
		out = append(out, p.changes...)
	}
	for key, list := range a.sent {
		for range list {
			problems = append(problems, key+", sent, never arrived")
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("and %d more", len(problems)-20))
		}
		return out, a.stats, fmt.Errorf("the inputs do not follow the semantics:\n%s", strings.Join(problems, "\n"))
	}
	return out, a.stats, nil
}

// take returns the record as a waiting input with the events it brings,
// and false when it is a transfer or a forwarded event no partition has sent
// (yet).
func (a *across) take(part int, in Observed) (waiting, bool) {
	var key string
	switch {
	case in.Event != nil:
		return waiting{in: in, at: in.Event.At, events: []Event{*in.Event}}, true
	case in.Merge != nil:
		a.stats.Merges++
		return waiting{in: in, at: in.Merge.At}, true
	case in.Progress != nil, in.Hold != nil:
		return waiting{in: in}, true
	case in.Forward != nil:
		key = forwardKey(part, *in.Forward)
	default:
		key = transferKey(part, *in.Transfer)
	}
	list := a.sent[key]
	if len(list) == 0 {
		return waiting{}, false
	}
	if len(list) == 1 {
		delete(a.sent, key)
	} else {
		a.sent[key] = list[1:]
	}
	if in.Forward != nil {
		a.stats.Forwards++
		return waiting{in: in, at: in.Forward.At, events: list[0].events}, true
	}
	a.stats.Transfers++
	return waiting{in: in, at: in.Transfer.At, events: list[0].events}, true
}

// send records what must arrive (key names the partition).
func (a *across) send(key string, s sent) { a.sent[key] = append(a.sent[key], s) }

// arrive takes one input of p in arrival order: an event at or before the
// watermark is dropped, a merge or transfer then takes effect at the
// watermark; the others wait until the latest time seen, less the
// lateness, passes them.
func (a *across) arrive(p *partition, w waiting) {
	switch {
	case w.in.Progress != nil:
		p.sources = w.in.Progress.Sources
		for s, at := range w.in.Progress.Read {
			if at.After(p.read[s]) {
				p.read[s] = at
			}
		}
		a.advance(p, p.target())
		return
	case w.in.Hold != nil:
		if h := w.in.Hold; h.At.After(p.watermark) {
			p.holds[h.From] = h.At
		}
		return
	case w.in.Transfer != nil:
		// Queued or applied below; the hold waiting for it goes.
		if key := w.in.Transfer.From; !p.holds[key].IsZero() {
			delete(p.holds, key)
			defer a.advance(p, p.target())
		}
	}
	if !p.watermark.IsZero() && !w.at.After(p.watermark) {
		if w.in.Merge == nil && w.in.Transfer == nil {
			a.stats.Dropped++
			if w.in.Forward != nil {
				a.stats.LateForwards++
			}
			return
		}
		if w.in.Transfer != nil {
			a.stats.LateTransfers++
		}
		a.instant(p, p.watermark, []waiting{w})
		return
	}
	if w.in.Event != nil || w.in.Forward != nil {
		// An event of a person merged into another partition's person is
		// forwarded on arrival.
		e := w.events[0]
		if e.Person = p.follow(e.Person); a.partitionOf(e.Person) != p.id {
			a.send(forwardKey(a.partitionOf(e.Person), e), sent{events: []Event{e}})
			return
		}
	}
	p.arrivals++
	w.arrival = p.arrivals
	p.pending = append(p.pending, w)
	if w.at.After(p.maxSeen) {
		p.maxSeen = w.at
	}
	if !p.byProgress {
		a.advance(p, p.target())
	}
}

// target is the watermark p's inputs so far allow: the earliest time read
// over the source partitions (or, without progress, the latest input time)
// less the lateness, not past any hold; zero while a source has not been
// read.
func (p *partition) target() time.Time {
	w := p.maxSeen
	if p.byProgress {
		w = time.Time{}
		for s := 0; s < p.sources; s++ {
			at := p.read[s]
			if at.IsZero() {
				return time.Time{}
			}
			if w.IsZero() || at.Before(w) {
				w = at
			}
		}
		if w.IsZero() {
			return w
		}
	}
	w = w.Add(-Lateness)
	for _, h := range p.holds {
		if h.Before(w) {
			w = h
		}
	}
	return w
}

// advance runs every instant up to wm at which an input waits or a
// condition may change, and makes wm the watermark.
func (a *across) advance(p *partition, wm time.Time) {
	if !wm.After(p.watermark) {
		return
	}
	last := p.watermark
	for {
		var next time.Time
		earlier := func(t time.Time) {
			if t.After(last) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		for _, w := range p.pending {
			earlier(w.at)
		}
		for _, events := range p.owned {
			for _, e := range events {
				for _, o := range offsets {
					earlier(e.At.Add(o))
				}
			}
		}
		if next.IsZero() || next.After(wm) {
			break
		}
		var now, rest []waiting
		for _, w := range p.pending {
			if w.at.Equal(next) {
				now = append(now, w)
			} else {
				rest = append(rest, w)
			}
		}
		sort.Slice(now, func(i, j int) bool { return now[i].arrival < now[j].arrival })
		p.pending = rest
		a.instant(p, next, now)
		last = next
	}
	p.watermark = wm
}

// follow returns the person holding person's state in p now.
func (p *partition) follow(person string) string {
	for p.redirects[person] != "" {
		person = p.redirects[person]
	}
	return person
}

// instant applies inputs at now, in order, then evaluates every person of
// p at now.
func (a *across) instant(p *partition, now time.Time, inputs []waiting) {
	for _, w := range inputs {
		switch {
		case w.in.Merge != nil:
			a.merge(p, w.in.Merge.From, w.in.Merge.Into, now)
		case w.in.Transfer != nil:
			t := *w.in.Transfer
			t.Into = p.follow(t.Into)
			if to := a.partitionOf(t.Into); to != p.id {
				a.send(transferKey(to, t), sent{events: w.events})
				continue
			}
			p.own(t.Into, w.events)
		default:
			e := w.events[0]
			e.Person = p.follow(e.Person)
			if to := a.partitionOf(e.Person); to != p.id {
				a.send(forwardKey(to, e), sent{events: []Event{e}})
				continue
			}
			p.own(e.Person, []Event{e})
		}
	}
	persons := make([]string, 0, len(p.owned))
	for person := range p.owned {
		persons = append(persons, person)
	}
	sort.Strings(persons)
	for _, person := range persons {
		got := conditions(p.owned[person], now)
		for _, s := range Segments {
			if got[s] != p.members[person][s] {
				p.changes = append(p.changes, Change{Person: person, Segment: s, Entered: got[s], At: now})
			}
		}
		p.members[person] = got
	}
}

// merge makes from (followed through p's redirects) part of into at now:
// from leaves its segments, and its events join into, here or, as a
// transfer, in into's partition.
func (a *across) merge(p *partition, from, into string, now time.Time) {
	mergedFrom, mergedInto := from, into
	from, into = p.follow(from), p.follow(into)
	if from == into {
		a.stats.Repeated++
		if to := a.partitionOf(mergedInto); to != p.id {
			// An empty transfer releases the hold the other partition may
			// keep for it.
			a.send(transferKey(to, Transfer{From: mergedFrom, Into: mergedInto, At: now}), sent{})
		}
		return
	}
	a.stats.Redirects++
	p.redirects[from] = into
	for _, s := range Segments {
		if p.members[from][s] {
			p.changes = append(p.changes, Change{Person: from, Segment: s, At: now})
		}
	}
	events := p.owned[from]
	delete(p.members, from)
	delete(p.owned, from)
	if to := a.partitionOf(into); to != p.id {
		// What waits here and now belongs there goes at once, then the
		// transfer, even of nothing (the other partition may hold for it).
		a.forwardWaiting(p)
		a.send(transferKey(to, Transfer{From: from, Into: into, At: now}), sent{events: events})
		return
	}
	p.own(into, events)
}

// forwardWaiting sends the waiting events and transfers of p whose person
// now belongs to another partition.
func (a *across) forwardWaiting(p *partition) {
	var kept []waiting
	for _, w := range p.pending {
		switch {
		case w.in.Transfer != nil:
			t := *w.in.Transfer
			if t.Into = p.follow(t.Into); a.partitionOf(t.Into) != p.id {
				a.send(transferKey(a.partitionOf(t.Into), t), sent{events: w.events})
				continue
			}
		case w.in.Event != nil || w.in.Forward != nil:
			e := w.events[0]
			if e.Person = p.follow(e.Person); a.partitionOf(e.Person) != p.id {
				a.send(forwardKey(a.partitionOf(e.Person), e), sent{events: []Event{e}})
				continue
			}
		}
		kept = append(kept, w)
	}
	p.pending = kept
}

// own gives person the events it does not own yet (by id).
func (p *partition) own(person string, events []Event) {
	have := map[string]bool{}
	for _, e := range p.owned[person] {
		have[e.ID] = true
	}
	for _, e := range events {
		if !have[e.ID] {
			have[e.ID] = true
			p.owned[person] = append(p.owned[person], e)
		}
	}
}
