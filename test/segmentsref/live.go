package segmentsref

import (
	"fmt"
	"math"
	"time"
)

// Live is FromSources for touchpoints without merges, taken one published
// event at a time, in memory bounded by the persons rather than the
// events: it keeps per person only what the conditions of Definitions read
// (the times of its events still inside a window, its revenue, its latest
// page view, its memberships), which is what a benchmark of millions of
// events can afford. It needs each person's accepted events in event-time
// order, as a producer that stamps every event with the time it publishes
// it writes them (a person's events share one source partition); Add
// refuses an accepted event earlier than one its person already has. Event
// ids are taken to be unique.
type Live struct {
	lateness time.Duration
	read     []int64 // latest event time read per source, in ms; 0: none
	persons  map[string]*tally
	late     int
	events   int
	changes  []Change
}

// tally is what Live keeps of one person; times are in Unix milliseconds.
type tally struct {
	at        int64 // the latest event's time
	due       bool  // an evaluation at `at` is owed
	evaluated int64 // the latest instant evaluated
	carts     []int64
	buys      []int64
	clicks    []int64 // email clicks
	revenue   float64
	lastView  int64 // 0: no page view
	members   uint8 // bit i: member of Segments[i]
}

// Windows and delays of Definitions' conditions, in ms.
const (
	hourMs = int64(time.Hour / time.Millisecond)
	dayMs  = 24 * hourMs
)

// NewLive returns a Live reference over `sources` source partitions with
// the given allowed lateness.
func NewLive(sources int, lateness time.Duration) *Live {
	return &Live{lateness: lateness, read: make([]int64, sources), persons: map[string]*tally{}}
}

// Add takes the next event read from source partition source. The event's
// time is used to the millisecond, as the touchpoints topic carries it.
func (l *Live) Add(source int, e Event) error {
	if source < 0 || source >= len(l.read) {
		return fmt.Errorf("event %s on source partition %d of %d", e.ID, source, len(l.read))
	}
	at := e.At.UnixMilli()
	if last := l.read[source]; last != 0 && at <= last-l.lateness.Milliseconds() {
		l.late++
		return nil
	}
	l.read[source] = max(l.read[source], at)
	p := l.persons[e.Person]
	if p == nil {
		p = &tally{evaluated: math.MinInt64}
		l.persons[e.Person] = p
	} else if at < p.at {
		return fmt.Errorf("event %s of %s at %s: before the person's event at %s; Live needs a person's events in time order",
			e.ID, e.Person, e.At.UTC().Format(time.RFC3339Nano), time.UnixMilli(p.at).UTC().Format(time.RFC3339Nano))
	}
	l.events++
	l.advance(e.Person, p, at-1)
	switch {
	case e.Type == "add_to_cart":
		p.carts = append(p.carts, at)
	case e.Type == "purchase":
		p.revenue += e.Revenue
		p.buys = append(p.buys, at)
	case e.Type == "page_view":
		p.lastView = at
	case e.Type == "click" && e.Channel == "email":
		p.clicks = append(p.clicks, at)
	}
	p.at, p.due = at, true
	return nil
}

// advance evaluates person p at each instant after the latest one
// evaluated, up to and including to, where a condition may change: its
// latest event's time, and the times its events leave a window or a page
// view becomes two hours old.
func (l *Live) advance(person string, p *tally, to int64) {
	for {
		next := int64(math.MaxInt64)
		earlier := func(t int64) {
			if t > p.evaluated && t < next {
				next = t
			}
		}
		if p.due {
			earlier(p.at)
		}
		for _, t := range p.carts {
			earlier(t + hourMs)
		}
		for _, t := range p.buys {
			earlier(t + hourMs)
		}
		for _, t := range p.clicks {
			earlier(t + dayMs)
		}
		if p.lastView != 0 {
			earlier(p.lastView + 2*hourMs)
		}
		if next > to {
			return
		}
		if next >= p.at {
			p.due = false
		}
		l.evaluate(person, p, next)
	}
}

// evaluate computes p's memberships at now (every event it holds is at or
// before now), records the changes, and forgets the times that have left
// their windows.
func (l *Live) evaluate(person string, p *tally, now int64) {
	p.evaluated = now
	p.carts = inWindow(p.carts, now-hourMs)
	p.buys = inWindow(p.buys, now-hourMs)
	p.clicks = inWindow(p.clicks, now-dayMs)
	var got uint8
	for i, in := range []bool{
		len(p.carts) > 0 && len(p.buys) == 0,          // carts_no_buy
		p.revenue >= 100,                              // big_spender
		p.lastView != 0 && now-p.lastView >= 2*hourMs, // quiet
		len(p.clicks) >= 2,                            // email_fan
	} {
		if in {
			got |= 1 << i
		}
	}
	for i, s := range Segments {
		if bit := uint8(1) << i; got&bit != p.members&bit {
			l.changes = append(l.changes, Change{Person: person, Segment: s, Entered: got&bit != 0, At: time.UnixMilli(now).UTC()})
		}
	}
	p.members = got
}

// inWindow drops the times at or before from (times are in order).
func inWindow(times []int64, from int64) []int64 {
	i := 0
	for i < len(times) && times[i] <= from {
		i++
	}
	if i == len(times) {
		return nil
	}
	return times[i:]
}

// LiveResult is what Finish returns.
type LiveResult struct {
	// Changes are the changes at or before Watermark.
	Changes []Change
	// Events counts the events taken, Late those dropped as late (not
	// counted in Events), Persons the persons.
	Events, Late, Persons int
	// Watermark is the earliest, over the source partitions, of their
	// latest event time, less the lateness; zero while one has none.
	Watermark time.Time
}

// Finish evaluates every person up to the watermark and returns the
// changes up to it, as FromSources does. Live takes no more events after.
func (l *Live) Finish() LiveResult {
	var w int64
	for i, at := range l.read {
		if at == 0 {
			return LiveResult{Events: l.events, Late: l.late, Persons: len(l.persons)}
		}
		if i == 0 || at < w {
			w = at
		}
	}
	w -= l.lateness.Milliseconds()
	for person, p := range l.persons {
		l.advance(person, p, w)
	}
	// Events after the watermark made their persons evaluate instants
	// before them that the watermark has not reached.
	kept := l.changes[:0]
	for _, c := range l.changes {
		if c.At.UnixMilli() <= w {
			kept = append(kept, c)
		}
	}
	return LiveResult{Changes: kept, Events: l.events, Late: l.late, Persons: len(l.persons), Watermark: time.UnixMilli(w).UTC()}
}
