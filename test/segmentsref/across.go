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

// Observed is one record of an inputs partition, as the stage consumed it:
// an event as the router routed it, a merge, a transfer, or an event that
// another partition forwarded because its person had merged into a person
// of this one (its person rewritten to that one).
type Observed struct {
	Event    *Event
	Merge    *Merge
	Transfer *Transfer
	Forward  *Event
}

func (o Observed) String() string {
	switch {
	case o.Event != nil:
		return fmt.Sprintf("event %s of %s at %s", o.Event.ID, o.Event.Person, o.Event.At.Format(time.RFC3339))
	case o.Forward != nil:
		return fmt.Sprintf("forwarded event %s of %s at %s", o.Forward.ID, o.Forward.Person, o.Forward.At.Format(time.RFC3339))
	case o.Merge != nil:
		return fmt.Sprintf("merge %s>%s at %s", o.Merge.From, o.Merge.Into, o.Merge.At.Format(time.RFC3339))
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
	// optional: a transfer of a person holding nothing that can still
	// count (the service may have let it go as empty, and then sends none).
	optional bool
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
// for one; a merge takes effect at its time, or at the watermark if it
// arrives after the watermark passed it: the merged person leaves its
// segments and later inputs of it go to the person it merged into. When
// that person is in another partition, the merged person's events (as this
// replay computes them) travel there, to be absorbed at the transfer's time
// or, if the transfer arrives after that partition's watermark passed it,
// at the watermark; and its later events are forwarded there, where they
// are ordinary events. Every transfer and forwarded event on a partition
// must be one that another partition sent, and every one sent must arrive
// (but for a transfer of a person holding nothing that still counts):
// otherwise ChangesAcross reports an error.
func ChangesAcross(partitions [][]Observed, partitionOf func(person string) int) ([]Change, Across, error) {
	a := &across{partitionOf: partitionOf, sent: map[string][]sent{}}
	for i, inputs := range partitions {
		a.parts = append(a.parts, &partition{id: i, inputs: inputs, redirects: map[string]string{},
			owned: map[string][]Event{}, members: map[string]map[string]bool{}})
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
		for _, s := range list {
			if !s.optional {
				problems = append(problems, key+", sent, never arrived")
			}
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
	p.arrivals++
	w.arrival = p.arrivals
	p.pending = append(p.pending, w)
	if w.at.After(p.maxSeen) {
		p.maxSeen = w.at
	}
	a.advance(p, p.maxSeen.Add(-Lateness))
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
				a.send(transferKey(to, t), sent{events: w.events, optional: !holds(w.events, t.At)})
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
	from, into = p.follow(from), p.follow(into)
	if from == into {
		a.stats.Repeated++
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
	if len(events) == 0 {
		return
	}
	if to := a.partitionOf(into); to != p.id {
		t := Transfer{From: from, Into: into, At: now}
		a.send(transferKey(to, t), sent{events: events, optional: !holds(events, now)})
		return
	}
	p.own(into, events)
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

// holds reports whether events can still count at or after now: a
// lifetime feature (count of page views, purchase revenue) reads it, or it
// is inside the longest window (1d).
func holds(events []Event, now time.Time) bool {
	for _, e := range events {
		if e.Type == "page_view" || e.Type == "purchase" || e.At.After(now.Add(-24*time.Hour)) {
			return true
		}
	}
	return false
}
