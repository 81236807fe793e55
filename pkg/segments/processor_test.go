package segments

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

const propertyDefinitions = `
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

// reference evaluates propertyDefinitions by brute force, independently of
// the processor: the conditions are written out in Go over every event a
// person owns at an instant.
type reference struct {
	lateness time.Duration
}

// conditions returns the memberships of a person owning events (all at or
// before now) at now.
func (reference) conditions(events []Event, now time.Time) map[string]bool {
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

// changes returns the changes the reference expects from inputs in arrival
// order, and the final watermark.
func (r reference) changes(inputs []Input) ([]Change, time.Time) {
	// Which inputs count: those after the watermark when they arrive.
	var watermark, maxSeen time.Time
	var accepted []Input
	for _, in := range inputs {
		if !watermark.IsZero() && !in.at().After(watermark) {
			continue
		}
		accepted = append(accepted, in)
		if in.at().After(maxSeen) {
			maxSeen = in.at()
		}
		if w := maxSeen.Add(-r.lateness); w.After(watermark) {
			watermark = w
		}
	}
	sort.SliceStable(accepted, func(i, j int) bool { return accepted[i].at().Before(accepted[j].at()) })
	// Every instant at which a condition may change.
	instants := map[time.Time]bool{}
	for _, in := range accepted {
		instants[in.at()] = true
		for _, o := range []time.Duration{time.Hour, 2 * time.Hour, 24 * time.Hour} {
			instants[in.at().Add(o)] = true
		}
	}
	var times []time.Time
	for t := range instants {
		if !t.After(watermark) {
			times = append(times, t)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	owner := map[string]string{} // merged person -> the person it is part of
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
		for ; next < len(accepted) && !accepted[next].at().After(now); next++ {
			if m := accepted[next].Merge; m != nil && find(m.From) == m.From && m.From != m.Into {
				for _, s := range sortedKeys(members[m.From]) {
					if members[m.From][s] {
						out = append(out, Change{Person: m.From, Segment: s, At: now})
					}
				}
				delete(members, m.From)
				owner[m.From] = m.Into
			}
		}
		owned := map[string][]Event{}
		for _, in := range accepted[:next] {
			if e := in.Event; e != nil {
				owned[find(e.Person)] = append(owned[find(e.Person)], *e)
			}
		}
		persons := sortedKeys(owned)
		for _, p := range persons {
			got := r.conditions(dedupe(owned[p]), now)
			for _, s := range []string{"carts_no_buy", "big_spender", "quiet", "email_fan"} {
				if got[s] != members[p][s] {
					out = append(out, Change{Person: p, Segment: s, Entered: got[s], At: now})
				}
			}
			members[p] = got
		}
	}
	return out, watermark
}

func dedupe(events []Event) []Event {
	seen := map[string]bool{}
	var out []Event
	for _, e := range events {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// randomStream returns inputs in arrival order: events of 20 persons over
// two days in event-time order, delivered up to 15 minutes late (so some
// arrive after the 10-minute lateness), some twice, and merges of persons.
func randomStream(rng *rand.Rand, n int) []Input {
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
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(rng.IntN(12)) * time.Minute)
		person := fmt.Sprintf("p%02d", rng.IntN(20))
		if merged[person] {
			continue
		}
		delay := time.Duration(rng.IntN(15)) * time.Minute
		if rng.IntN(60) == 0 {
			into := fmt.Sprintf("p%02d", rng.IntN(20))
			if into != person && !merged[into] {
				merged[person] = true
				stream = append(stream, arriving{Input{Merge: &Merge{From: person, Into: into, At: at}}, at.Add(delay)})
			}
			continue
		}
		e := &Event{ID: fmt.Sprintf("e%d", i), Person: person, At: at, Type: types[rng.IntN(len(types))],
			Channel: channels[rng.IntN(2)], Revenue: float64(rng.IntN(40))}
		stream = append(stream, arriving{Input{Event: e}, at.Add(delay)})
		if rng.IntN(20) == 0 { // a replay of the same event
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

func canonical(changes []Change) string {
	lines := make([]string, len(changes))
	for i, c := range changes {
		lines[i] = fmt.Sprintf("%s %s %s %v", c.At.Format("01-02T15:04"), c.Person, c.Segment, c.Entered)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// record writes what changed in p to changelog, as the service does after
// each batch.
func record(t *testing.T, p *Processor, changelog map[string][]byte) {
	for id, person := range p.TakeDirty() {
		if person == nil {
			delete(changelog, "p/"+id)
			continue
		}
		b, err := json.Marshal(person)
		if err != nil {
			t.Fatal(err)
		}
		changelog["p/"+id] = b
	}
	meta, err := p.Meta()
	if err != nil {
		t.Fatal(err)
	}
	changelog["meta"] = meta
}

// restart returns a new processor with p's state, from a snapshot or from
// the changelog.
func restart(t *testing.T, defs *Definitions, p *Processor, changelog map[string][]byte, fromSnapshot bool) *Processor {
	t.Helper()
	fresh, err := NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fromSnapshot {
		snap, err := p.Snapshot()
		if err == nil {
			err = fresh.Restore(snap)
		}
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	for key, b := range changelog {
		if key == "meta" {
			if err := fresh.RestoreMeta(b); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var person Person
		if err := json.Unmarshal(b, &person); err != nil {
			t.Fatal(err)
		}
		fresh.RestorePerson(&person)
	}
	return fresh
}

// TestProcessorMatchesReference runs random streams with out-of-order,
// late and repeated events and identity merges through the processor,
// restarting it from a snapshot midway, and compares every change with the
// brute-force reference.
func TestProcessorMatchesReference(t *testing.T) {
	defs, err := ParseDefinitions("property.yaml", []byte(propertyDefinitions))
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		inputs := randomStream(rng, 400)
		restartAt := rng.IntN(len(inputs))
		p, err := NewProcessor(defs, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []Change
		changelog := map[string][]byte{} // as a compacted topic keeps it
		for i, in := range inputs {
			if i == restartAt {
				p = restart(t, defs, p, changelog, seed%2 == 0)
			}
			c, err := p.Add(in)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c...)
			record(t, p, changelog)
		}
		for i := 1; i < len(got); i++ {
			if got[i].At.Before(got[i-1].At) {
				t.Fatalf("seed %d: changes out of time order: %v then %v", seed, got[i-1], got[i])
			}
		}
		want, watermark := reference{lateness: 10 * time.Minute}.changes(inputs)
		if !p.Watermark().Equal(watermark) {
			t.Fatalf("seed %d: watermark %s, want %s", seed, p.Watermark(), watermark)
		}
		if g, w := canonical(got), canonical(want); g != w {
			t.Fatalf("seed %d (restart at input %d, %d dropped): changes differ\ngot:\n%s\nwant:\n%s", seed, restartAt, p.Dropped(), g, w)
		}
		if seed == 1 {
			t.Logf("seed 1: %d inputs, %d dropped as late, %d changes", len(inputs), p.Dropped(), len(got))
		}
	}
}

// TestCartAbandonmentTimer: a cart at T enters cart_abandoners at T+1h,
// without another event of that person, when other persons' events move
// the watermark, and when an idle partition's watermark advances by itself.
func TestCartAbandonmentTimer(t *testing.T) {
	defs, err := LoadDefinitions("../../pipelines/segments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cart := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	for _, advance := range []string{"events", "idle"} {
		p, err := NewProcessor(defs, nil)
		if err != nil {
			t.Fatal(err)
		}
		changes, err := p.Add(Input{Event: &Event{ID: "c1", Person: "ann", At: cart, Type: "add_to_cart"}})
		if err != nil || len(changes) != 0 {
			t.Fatalf("%s: the cart itself changed %v (%v)", advance, changes, err)
		}
		var later []Change
		if advance == "events" {
			for i, m := range []int{30, 64, 66} { // another person's events
				c, err := p.Add(Input{Event: &Event{ID: fmt.Sprint("o", i), Person: "bob", At: cart.Add(time.Duration(m) * time.Minute), Type: "page_view"}})
				if err != nil {
					t.Fatal(err)
				}
				later = append(later, c...)
			}
		} else if later, err = p.Advance(cart.Add(61 * time.Minute)); err != nil {
			t.Fatal(err)
		}
		if len(later) != 1 || later[0].Person != "ann" || later[0].Segment != "cart_abandoners" || !later[0].Entered || !later[0].At.Equal(cart.Add(time.Hour)) {
			t.Fatalf("%s: changes %+v, want ann entering cart_abandoners at %s", advance, later, cart.Add(time.Hour))
		}
		if f := later[0].Features; f[`count("add_to_cart", "1d")`] != int64(1) || f[`since("add_to_cart")`] != time.Hour {
			t.Errorf("%s: features %v", advance, f)
		}
		// A day after the cart, she leaves.
		exit, err := p.Advance(cart.Add(25 * time.Hour))
		if err != nil || len(exit) != 1 || exit[0].Entered || !exit[0].At.Equal(cart.Add(24*time.Hour)) {
			t.Fatalf("%s: after a day %+v (%v)", advance, exit, err)
		}
	}
}

// TestRFMAndLapsedBuyers checks the RFM bands and days_since on the shipped
// definitions, computed by hand: three purchases of 200 (frequency 3 -> 3,
// monetary 600 -> 4; high_value_customers at the third); 90 days after the
// last, lapsed_buyers; after 180 days recency drops to 2, so rfm_at_risk
// (recency <= 2, frequency >= 3) from day 181.
func TestRFMAndLapsedBuyers(t *testing.T) {
	defs, err := LoadDefinitions("../../pipelines/segments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var all []Change
	for i := 0; i < 3; i++ {
		c, err := p.Add(Input{Event: &Event{ID: fmt.Sprint("b", i), Person: "cy", At: day.Add(time.Duration(i) * time.Hour), Type: "purchase", Revenue: 200}})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, c...)
	}
	c, err := p.Advance(day.Add(200 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, c...)
	last := day.Add(2 * time.Hour)
	want := []string{
		fmt.Sprintf("%s cy high_value_customers true", day.Add(2*time.Hour).Format("01-02T15:04")), // 600 >= 500
		fmt.Sprintf("%s cy rfm_at_risk true", last.Add(181*24*time.Hour).Format("01-02T15:04")),
		fmt.Sprintf("%s cy lapsed_buyers true", last.Add(90*24*time.Hour).Format("01-02T15:04")),
	}
	sort.Strings(want)
	if g := canonical(all); g != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", g, strings.Join(want, "\n"))
	}
	if got := p.Person("cy").rfm(defs, "monetary", last); got != 4 {
		t.Errorf("monetary score %d, want 4", got)
	}
}

// TestMergeAcrossProcessors: a person merging into a person of another
// processor leaves its segments there, and its state joins the other, whose
// lifetime revenue then counts both.
func TestMergeAcrossProcessors(t *testing.T) {
	defs, err := ParseDefinitions("property.yaml", []byte(propertyDefinitions))
	if err != nil {
		t.Fatal(err)
	}
	onA := func(person string) bool { return person == "ann" }
	a, err := NewProcessor(defs, onA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewProcessor(defs, func(person string) bool { return !onA(person) })
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	add := func(p *Processor, in Input) []Change {
		c, err := p.Add(in)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	add(a, Input{Event: &Event{ID: "1", Person: "ann", At: t0, Type: "purchase", Revenue: 120}})
	add(b, Input{Event: &Event{ID: "2", Person: "bob", At: t0, Type: "purchase", Revenue: 30}})
	left := add(a, Input{Merge: &Merge{From: "ann", Into: "bob", At: t0.Add(time.Hour)}})
	left = append(left, add(a, Input{Event: &Event{ID: "3", Person: "cy", At: t0.Add(2 * time.Hour), Type: "page_view"}})...)
	var exits []string
	for _, c := range left {
		if c.Person == "ann" {
			exits = append(exits, fmt.Sprintf("%s %v %s", c.Segment, c.Entered, c.At.Format("15:04")))
		}
	}
	if strings.Join(exits, ",") != "big_spender true 10:00,big_spender false 11:00" || a.Person("ann") != nil {
		t.Fatalf("ann on A: %v, state %+v", exits, a.Person("ann"))
	}
	transfers := a.TakeTransfers()
	if len(transfers) != 1 || transfers[0].Into != "bob" {
		t.Fatalf("transfers %+v", transfers)
	}
	// B's watermark has passed the merge time: the state joins at once.
	add(b, Input{Event: &Event{ID: "4", Person: "bob", At: t0.Add(3 * time.Hour), Type: "page_view"}})
	joined := add(b, Input{Transfer: &transfers[0]})
	if len(joined) != 1 || joined[0].Person != "bob" || joined[0].Segment != "big_spender" || !joined[0].Entered ||
		joined[0].Features[`sum("purchase", "revenue")`] != 150.0 {
		t.Fatalf("bob after the transfer: %+v", joined)
	}
}
