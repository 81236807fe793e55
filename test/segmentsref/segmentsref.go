// Package segmentsref is a brute-force reference for touchline's segments
// processor, written independently of it: the conditions of Definitions
// are spelled out in Go and evaluated, at every instant where one may
// change, over every event a person owns at that instant. Tests compare the
// processor's and the segments service's changes with it.
package segmentsref

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Definitions are the segment definitions the reference implements.
const Definitions = `
allowed_lateness: 10m
segments:
  - name: carts_no_buy
    when: count("add_to_cart", "1h") > 0 && count("purchase", "1h") == 0
  - name: big_spender
    when: sum("purchase", "revenue") >= 100.0
  - name: quiet
    when: count("page_view") > 0 && since("page_view") >= duration("2h")
  - name: email_fan
    when: 'count("click", "1d", {"channel": "email"}) >= 2'
`

// Lateness is the allowed lateness of Definitions.
const Lateness = 10 * time.Minute

// WithLateness returns Definitions with another allowed lateness.
func WithLateness(lateness time.Duration) string {
	return strings.Replace(Definitions, "allowed_lateness: 10m", "allowed_lateness: "+lateness.String(), 1)
}

// Segments lists the segments of Definitions in order.
var Segments = []string{"carts_no_buy", "big_spender", "quiet", "email_fan"}

// Event is a touchpoint of a person.
type Event struct {
	ID, Person, Type, Channel string
	At                        time.Time
	Revenue                   float64
}

// Merge makes person From part of person Into as of At.
type Merge struct {
	From, Into string
	At         time.Time
}

// Input is an event or a merge.
type Input struct {
	Event *Event
	Merge *Merge
}

// At is the input's time.
func (in Input) At() time.Time {
	if in.Event != nil {
		return in.Event.At
	}
	return in.Merge.At
}

// Person is the person whose partition the input goes to.
func (in Input) Person() string {
	if in.Event != nil {
		return in.Event.Person
	}
	return in.Merge.From
}

// Change is a person entering or leaving a segment.
type Change struct {
	Person, Segment string
	Entered         bool
	At              time.Time
}

// conditions returns the memberships of a person owning events (at or
// before now) at now.
func conditions(events []Event, now time.Time) map[string]bool {
	in := func(e Event, w time.Duration) bool { return e.At.After(now.Add(-w)) && !e.At.After(now) }
	var carts, buys, views, emailClicks int
	var revenue float64
	var lastView time.Time
	for _, e := range events {
		switch {
		case e.Type == "add_to_cart" && in(e, time.Hour):
			carts++
		case e.Type == "purchase":
			revenue += e.Revenue
			if in(e, time.Hour) {
				buys++
			}
		case e.Type == "page_view":
			views++
			if e.At.After(lastView) {
				lastView = e.At
			}
		case e.Type == "click" && e.Channel == "email" && in(e, 24*time.Hour):
			emailClicks++
		}
	}
	return map[string]bool{
		"carts_no_buy": carts > 0 && buys == 0,
		"big_spender":  revenue >= 100,
		"quiet":        views > 0 && now.Sub(lastView) >= 2*time.Hour,
		"email_fan":    emailClicks >= 2,
	}
}

// Changes returns the changes of one partition's inputs, given in arrival
// order, and the partition's final watermark. An input at or before the
// watermark when it arrives is dropped if it is an event, and takes effect
// at the watermark if it is a merge.
func Changes(inputs []Input) ([]Change, time.Time) {
	var watermark, maxSeen time.Time
	var accepted []arrived
	for _, in := range inputs {
		at := in.At()
		if !watermark.IsZero() && !at.After(watermark) {
			if in.Merge == nil {
				continue
			}
			at = watermark
		} else if at.After(maxSeen) {
			maxSeen = at
		}
		accepted = append(accepted, arrived{in, at})
		if w := maxSeen.Add(-Lateness); w.After(watermark) {
			watermark = w
		}
	}
	return evaluate(accepted, watermark), watermark
}

// Published is a touchpoints record as published: an event on a source
// partition of the touchpoints topic, or an identity merge, which reaches
// the router (through ClickHouse) after every event published before it.
type Published struct {
	Event  *Event
	Source int
	Merge  *Merge
}

// FromSources returns the changes of touchpoints as published, in order,
// on `sources` source partitions, with the given allowed lateness (that of
// Definitions, or of Definitions changed by WithLateness), how many events
// were late, and the final watermark. An event at or before the latest
// event time of its own source partition, less the lateness, is late:
// dropped. The watermark is the earliest, over the source partitions, of
// their latest event time, less the lateness (none while a source
// partition has had no event). A merge takes effect at its time (to the
// millisecond) or, if the watermark has passed it, a millisecond after the
// watermark, plus offset(merged person) once every source partition has
// an event. An event published after a merge of its person belongs to the
// person it merged into, from its own time.
func FromSources(published []Published, sources int, lateness time.Duration, offset func(from string) time.Duration) ([]Change, int, time.Time) {
	read := make([]time.Time, sources)
	watermark := func() time.Time {
		var w time.Time
		for _, at := range read {
			if at.IsZero() {
				return time.Time{}
			}
			if w.IsZero() || at.Before(w) {
				w = at
			}
		}
		return w.Add(-lateness)
	}
	var accepted []arrived
	late := 0
	merged := map[string]string{}
	survivor := func(p string) string {
		for merged[p] != "" {
			p = merged[p]
		}
		return p
	}
	for _, pub := range published {
		if m := pub.Merge; m != nil {
			at := m.At
			if w := watermark(); !w.IsZero() {
				if at = at.Truncate(time.Millisecond); !at.After(w) {
					at = w.Truncate(time.Millisecond).Add(time.Millisecond)
				}
				at = at.Add(offset(m.From))
			}
			if from, into := survivor(m.From), survivor(m.Into); from != into {
				merged[from] = into
			}
			accepted = append(accepted, arrived{Input{Merge: m}, at})
			continue
		}
		e, last := *pub.Event, read[pub.Source]
		e.Person = survivor(e.Person)
		if !last.IsZero() && !e.At.After(last.Add(-lateness)) {
			late++
			continue
		}
		if e.At.After(last) {
			read[pub.Source] = e.At
		}
		accepted = append(accepted, arrived{Input{Event: &e}, e.At})
	}
	w := watermark()
	return evaluate(accepted, w), late, w
}

// arrived is an accepted input and the time it takes effect at.
type arrived struct {
	in Input
	at time.Time
}

// evaluate returns the changes of the accepted inputs (in arrival order) at
// every instant up to the watermark where a condition may change.
func evaluate(accepted []arrived, watermark time.Time) []Change {
	sort.SliceStable(accepted, func(i, j int) bool { return accepted[i].at.Before(accepted[j].at) })
	instants := map[time.Time]bool{}
	for _, a := range accepted {
		for _, o := range []time.Duration{0, time.Hour, 2 * time.Hour, 24 * time.Hour} {
			if t := a.at.Add(o); !t.After(watermark) {
				instants[t] = true
			}
		}
	}
	times := make([]time.Time, 0, len(instants))
	for t := range instants {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	owner := map[string]string{}
	find := func(p string) string {
		for owner[p] != "" {
			p = owner[p]
		}
		return p
	}
	members := map[string]map[string]bool{}
	var out []Change
	next := 0
	for _, now := range times {
		for ; next < len(accepted) && !accepted[next].at.After(now); next++ {
			if m := accepted[next].in.Merge; m != nil && find(m.From) == m.From && m.From != m.Into {
				for _, s := range Segments {
					if members[m.From][s] {
						out = append(out, Change{Person: m.From, Segment: s, At: now})
					}
				}
				delete(members, m.From)
				owner[m.From] = m.Into
			}
		}
		owned := map[string][]Event{}
		seen := map[string]bool{}
		for _, a := range accepted[:next] {
			if e := a.in.Event; e != nil && !seen[e.ID] {
				seen[e.ID] = true
				owned[find(e.Person)] = append(owned[find(e.Person)], *e)
			}
		}
		for p, events := range owned {
			got := conditions(events, now)
			for _, s := range Segments {
				if got[s] != members[p][s] {
					out = append(out, Change{Person: p, Segment: s, Entered: got[s], At: now})
				}
			}
			members[p] = got
		}
	}
	return out
}

// Stream returns random inputs in arrival order: events of persons over
// about two days in event-time order, delivered up to 15 minutes late (so
// some arrive after the lateness), some twice, and merges of persons that
// mergeable allows (nil: any two).
func Stream(rng *rand.Rand, n int, persons []string, mergeable func(from, into string) bool) []Input {
	return stream(rng, n, persons, mergeable, false)
}

// StreamAfterMerges is Stream with merges of any two persons, in which
// merged persons go on having events (as when the identifiers of a merged
// person still reach the router under its old person): its partition
// forwards them to the person it merged into. The next few events after a
// merge are the merged person's (a visit that identified it), so that its
// partition's watermark often passes the merge before the other
// partitions' do. A person that absorbed others may merge in turn.
func StreamAfterMerges(rng *rand.Rand, n int, persons []string) []Input {
	return stream(rng, n, persons, nil, true)
}

func stream(rng *rand.Rand, n int, persons []string, mergeable func(from, into string) bool, afterMerge bool) []Input {
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	types := []string{"add_to_cart", "purchase", "page_view", "click", "click"}
	channels := []string{"email", "web"}
	merged := map[string]bool{}
	type arriving struct {
		in      Input
		arrival time.Time
	}
	var stream []arriving
	at := start
	var visitor string // the merged person of a visit, and its events to come
	visit := 0
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(rng.IntN(12)) * time.Minute)
		person := persons[rng.IntN(len(persons))]
		if visit > 0 {
			person = visitor
			visit--
		}
		if merged[person] && !afterMerge {
			continue
		}
		delay := time.Duration(rng.IntN(15)) * time.Minute
		if rng.IntN(60) == 0 {
			into := persons[rng.IntN(len(persons))]
			if into != person && !merged[person] && !merged[into] && (mergeable == nil || mergeable(person, into)) {
				merged[person] = true
				if afterMerge {
					visitor, visit = person, 4
				}
				stream = append(stream, arriving{Input{Merge: &Merge{From: person, Into: into, At: at}}, at.Add(delay)})
			}
			continue
		}
		e := &Event{ID: fmt.Sprintf("e%d", i), Person: person, At: at, Type: types[rng.IntN(len(types))],
			Channel: channels[rng.IntN(2)], Revenue: float64(rng.IntN(40))}
		stream = append(stream, arriving{Input{Event: e}, at.Add(delay)})
		if rng.IntN(20) == 0 { // the same event again
			stream = append(stream, arriving{Input{Event: e}, at.Add(delay + time.Duration(rng.IntN(5))*time.Minute)})
		}
	}
	sort.SliceStable(stream, func(i, j int) bool { return stream[i].arrival.Before(stream[j].arrival) })
	out := make([]Input, len(stream))
	for i, a := range stream {
		out[i] = a.in
	}
	return out
}

// Canonical renders changes one per line, sorted, to compare sequences
// whose order within an instant does not matter.
func Canonical(changes []Change) string {
	lines := make([]string, len(changes))
	for i, c := range changes {
		lines[i] = fmt.Sprintf("%s %s %s %v", c.At.UTC().Format("01-02T15:04:05.000"), c.Person, c.Segment, c.Entered)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
