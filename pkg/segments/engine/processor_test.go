package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/segmentsref"
)

// toInputs converts the reference's inputs.
func toInputs(ref []segmentsref.Input) []Input {
	out := make([]Input, len(ref))
	for i, in := range ref {
		if e := in.Event; e != nil {
			out[i] = Input{Event: &Event{ID: e.ID, Person: e.Person, Type: e.Type, Channel: e.Channel, At: e.At, Revenue: e.Revenue}}
		} else {
			out[i] = Input{Merge: &Merge{From: in.Merge.From, Into: in.Merge.Into, At: in.Merge.At}}
		}
	}
	return out
}

// canonical renders changes as the reference does.
func canonical(changes []Change) string {
	out := make([]segmentsref.Change, len(changes))
	for i, c := range changes {
		out[i] = segmentsref.Change{Person: c.Person, Segment: c.Segment, Entered: c.Entered, At: c.At}
	}
	return segmentsref.Canonical(out)
}

// record writes what changed in p to changelog, as the service does after
// each batch.
func record(t *testing.T, p *Processor, changelog map[string][]byte) {
	for id, person := range p.TakeDirty() {
		if person == nil {
			delete(changelog, "p/"+id)
			continue
		}
		b, err := person.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		changelog["p/"+id] = b
	}
	queued, released := p.TakePending()
	for _, pe := range queued {
		b, err := json.Marshal(pe)
		if err != nil {
			t.Fatal(err)
		}
		changelog[fmt.Sprint("q/", pe.Arrival)] = b
	}
	for _, arrival := range released {
		delete(changelog, fmt.Sprint("q/", arrival))
	}
	meta, err := p.Meta()
	if err != nil {
		t.Fatal(err)
	}
	changelog["meta"] = meta
}

// changelogStore serves persons from a changelog, as a local copy of it
// does in the service.
type changelogStore map[string][]byte

func (c changelogStore) Person(id string) (*Person, error) {
	b, ok := c["p/"+id]
	if !ok {
		return nil, nil
	}
	var person Person
	return &person, person.UnmarshalBinary(b)
}

// restart returns a new processor with the state the changelog holds: in
// memory, or, with stored, reading persons from the changelog as a store
// and restoring only their timers.
func restart(t *testing.T, defs *Definitions, changelog map[string][]byte, stored bool) *Processor {
	t.Helper()
	fresh, err := NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stored {
		fresh.WithStore(changelogStore(changelog))
	}
	for key, b := range changelog {
		if key == "meta" {
			if err := fresh.RestoreMeta(b); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if strings.HasPrefix(key, "q/") {
			var pe Pending
			if err := json.Unmarshal(b, &pe); err != nil {
				t.Fatal(err)
			}
			fresh.RestorePending(pe)
			continue
		}
		var person Person
		if err := person.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if stored {
			fresh.RestoreTimer(person.ID, person.Timer)
		} else {
			fresh.RestorePerson(&person)
		}
	}
	return fresh
}

// TestProcessorMatchesReference runs random streams with out-of-order,
// late and repeated events and identity merges through the processor,
// restarting it midway from its changelog, and compares every change with the
// brute-force reference. Odd seeds keep the persons in memory; even seeds
// keep them in a store, evicting every person after each input, so that
// every person is read back from what the changelog holds.
func TestProcessorMatchesReference(t *testing.T) {
	defs, err := ParseDefinitions("property.yaml", []byte(segmentsref.Definitions))
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 30; seed++ {
		stored := seed%2 == 0
		rng := rand.New(rand.NewPCG(seed, 99))
		var persons []string
		for i := 0; i < 20; i++ {
			persons = append(persons, fmt.Sprintf("p%02d", i))
		}
		ref := segmentsref.Stream(rng, 400, persons, nil)
		inputs := toInputs(ref)
		restartAt := rng.IntN(len(inputs))
		changelog := map[string][]byte{} // as a compacted topic keeps it
		p := restart(t, defs, changelog, stored)
		var got []Change
		for i, in := range inputs {
			if i == restartAt {
				p = restart(t, defs, changelog, stored)
			}
			c, err := p.Add(in)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c...)
			record(t, p, changelog)
			p.Evict(0)
			if stored && p.Cached() != 0 {
				t.Fatalf("seed %d: %d persons in memory after Evict(0)", seed, p.Cached())
			}
		}
		held := int64(0)
		for key := range changelog {
			if strings.HasPrefix(key, "p/") {
				held++
			}
		}
		if p.Persons() != held {
			t.Fatalf("seed %d: the processor counts %d persons, its changelog holds %d", seed, p.Persons(), held)
		}
		for i := 1; i < len(got); i++ {
			if got[i].At.Before(got[i-1].At) {
				t.Fatalf("seed %d: changes out of time order: %v then %v", seed, got[i-1], got[i])
			}
		}
		want, watermark := segmentsref.Changes(ref)
		if !p.Watermark().Equal(watermark) {
			t.Fatalf("seed %d: watermark %s, want %s", seed, p.Watermark(), watermark)
		}
		if g, w := canonical(got), segmentsref.Canonical(want); g != w {
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
	defs, err := LoadDefinitions("../../../pipelines/segments.yaml")
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
		} else if later, err = advanceTo(p, cart.Add(61*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if len(later) != 1 || later[0].Person != "ann" || later[0].Segment != "cart_abandoners" || !later[0].Entered || !later[0].At.Equal(cart.Add(time.Hour)) {
			t.Fatalf("%s: changes %+v, want ann entering cart_abandoners at %s", advance, later, cart.Add(time.Hour))
		}
		if f := later[0].Features; f[`count("add_to_cart", "1d")`] != int64(1) || f[`since("add_to_cart")`] != time.Hour {
			t.Errorf("%s: features %v", advance, f)
		}
		// A day after the cart, she leaves.
		exit, err := advanceTo(p, cart.Add(25*time.Hour))
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
	defs, err := LoadDefinitions("../../../pipelines/segments.yaml")
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
	c, err := advanceTo(p, day.Add(200*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, c...)
	last := day.Add(2 * time.Hour)
	want := segmentsref.Canonical([]segmentsref.Change{
		{Person: "cy", Segment: "high_value_customers", Entered: true, At: last}, // 600 >= 500
		{Person: "cy", Segment: "lapsed_buyers", Entered: true, At: last.Add(90 * 24 * time.Hour)},
		{Person: "cy", Segment: "rfm_at_risk", Entered: true, At: last.Add(181 * 24 * time.Hour)},
	})
	if g := canonical(all); g != want {
		t.Fatalf("changes:\n%s\nwant:\n%s", g, want)
	}
	if got := p.persons["cy"].rfm(defs, "monetary", last); got != 4 {
		t.Errorf("monetary score %d, want 4", got)
	}
}

// TestMergeAcrossProcessors: a person merging into a person of another
// processor leaves its segments there, and its state joins the other, whose
// lifetime revenue then counts both.
func TestMergeAcrossProcessors(t *testing.T) {
	defs, err := ParseDefinitions("property.yaml", []byte(segmentsref.Definitions))
	if err != nil {
		t.Fatal(err)
	}
	onA := func(person string) bool { return person == "ann" || person == "al" }
	a, err := NewProcessor(defs, onA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewProcessor(defs, func(person string) bool { return !onA(person) })
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	add := func(p *Processor, in Input) []Change { return addInput(t, p, in) }
	add(a, Input{Event: &Event{ID: "1", Person: "ann", At: t0, Type: "purchase", Revenue: 120}})
	add(b, Input{Event: &Event{ID: "2", Person: "bob", At: t0, Type: "purchase", Revenue: 30}})
	left := add(a, Input{Merge: &Merge{From: "ann", Into: "bob", At: t0.Add(time.Hour)}})
	left = append(left, add(a, Input{Event: &Event{ID: "3", Person: "al", At: t0.Add(2 * time.Hour), Type: "page_view"}})...)
	var exits []string
	for _, c := range left {
		if c.Person == "ann" {
			exits = append(exits, fmt.Sprintf("%s %v %s", c.Segment, c.Entered, c.At.Format("15:04")))
		}
	}
	if strings.Join(exits, ",") != "big_spender true 10:00,big_spender false 11:00" || a.persons["ann"] != nil {
		t.Fatalf("ann on A: %v, state %+v", exits, a.persons["ann"])
	}
	forwards := a.TakeForwards()
	if len(forwards) != 1 || forwards[0].Transfer == nil || forwards[0].Transfer.Into != "bob" {
		t.Fatalf("forwards %+v", forwards)
	}
	// B's watermark has passed the merge time: the state joins at once.
	add(b, Input{Event: &Event{ID: "4", Person: "bob", At: t0.Add(3 * time.Hour), Type: "page_view"}})
	joined := add(b, forwards[0])
	if len(joined) != 1 || joined[0].Person != "bob" || joined[0].Segment != "big_spender" || !joined[0].Entered ||
		joined[0].Features[`sum("purchase", "revenue")`] != 150.0 {
		t.Fatalf("bob after the transfer: %+v", joined)
	}
	// A later event of ann on A is forwarded to bob at once, not when A's
	// watermark passes it.
	if c := add(a, Input{Event: &Event{ID: "5", Person: "ann", At: t0.Add(5 * time.Hour), Type: "page_view"}}); len(c) != 0 {
		t.Fatalf("changes on A: %+v", c)
	}
	if f := a.TakeForwards(); len(f) != 1 || f[0].Event == nil || f[0].Event.Person != "bob" || f[0].Event.ID != "5" {
		t.Fatalf("forwards on arrival %+v", f)
	}
}

// TestKeptEventsAreBounded: a person with more events than max_kept_events
// keeps the newest, and its windowed count counts those.
func TestKeptEventsAreBounded(t *testing.T) {
	defs, err := ParseDefinitions("cap.yaml", []byte("allowed_lateness: 0s\nmax_kept_events: 3\nsegments:\n  - name: busy\n    when: count(\"page_view\", \"1d\") >= 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 6; i++ {
		c, err := p.Add(Input{Event: &Event{ID: fmt.Sprint(i), Person: "bot", At: t0.Add(time.Duration(i) * time.Minute), Type: "page_view"}})
		if err != nil || len(c) != 0 {
			t.Fatalf("event %d: %v %v", i, c, err)
		}
	}
	if n := len(p.persons["bot"].Events); n != 3 {
		t.Errorf("kept %d events, want 3", n)
	}
}

// failingStore cannot read any person.
type failingStore struct{}

func (failingStore) Person(string) (*Person, error) { return nil, errors.New("disk gone") }

// TestStoreErrorsAreMarked: an input whose person cannot be read from the
// store fails with ErrStore, which the service treats as fatal, unlike an
// error of evaluating a condition.
func TestStoreErrorsAreMarked(t *testing.T) {
	defs, err := ParseDefinitions("store.yaml", []byte(segmentsref.Definitions))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.WithStore(failingStore{})
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if _, err := p.Add(Input{Event: &Event{ID: "1", Person: "ann", At: t0, Type: "page_view"}}); err != nil {
		t.Fatalf("the first input waits for the watermark: %v", err)
	}
	_, err = p.Add(Input{Event: &Event{ID: "2", Person: "bob", At: t0.Add(time.Hour), Type: "page_view"}})
	if !errors.Is(err, ErrStore) || !strings.Contains(err.Error(), "ann") || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("error %v, want ErrStore for ann's state", err)
	}
}

// TestWatermarkFollowsTheSlowestSource: once progress arrives, an inputs
// partition's watermark is the earliest of its source partitions' progress
// less the lateness: a source ahead of the others, and events far behind
// the latest one seen, do not make anything final or late; a source not yet
// heard of holds the watermark; progress never goes back.
func TestWatermarkFollowsTheSlowestSource(t *testing.T) {
	defs, err := ParseDefinitions("w.yaml", []byte(`
allowed_lateness: 1m
segments:
  - name: carts
    when: count("add_to_cart") > 0
`))
	if err != nil {
		t.Fatal(err)
	}
	p := newProcessor(t, defs, nil)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	progress := func(read map[int32]time.Time) []Change {
		return addInput(t, p, Input{Progress: &Progress{Sources: 3, Read: read}})
	}
	cart := func(id string, at time.Time) []Change {
		return addInput(t, p, Input{Event: &Event{ID: id, Person: id, Type: "add_to_cart", At: at}})
	}
	if c := progress(map[int32]time.Time{0: t0.Add(time.Hour), 1: t0}); len(c) != 0 || !p.Watermark().IsZero() {
		t.Fatalf("source 2 unheard of: watermark %s, changes %v", p.Watermark(), c)
	}
	// Events far behind the latest seen (an hour) wait; none is late.
	if c := cart("a", t0.Add(time.Hour)); len(c) != 0 {
		t.Fatal(c)
	}
	if c := cart("b", t0.Add(-30*time.Minute)); len(c) != 0 || p.Dropped() != 0 {
		t.Fatalf("changes %v, dropped %d", c, p.Dropped())
	}
	// Source 2 heard of: the watermark is the slowest source (1, at t0)
	// less a minute.
	c := progress(map[int32]time.Time{2: t0.Add(2 * time.Hour)})
	if want := t0.Add(-time.Minute); !p.Watermark().Equal(want) || len(c) != 1 || c[0].Person != "b" || !c[0].At.Equal(t0.Add(-30*time.Minute)) {
		t.Fatalf("watermark %s (want %s), changes %v (want b entering at t0-30m)", p.Watermark(), want, c)
	}
	// An older report of source 1 changes nothing.
	if c := progress(map[int32]time.Time{1: t0.Add(-time.Hour)}); len(c) != 0 || !p.Watermark().Equal(t0.Add(-time.Minute)) {
		t.Fatalf("progress went back: watermark %s, changes %v", p.Watermark(), c)
	}
	// An event at the watermark is late (the router's rule keeps this to
	// events late as their producer wrote them).
	if cart("c", t0.Add(-time.Minute)); p.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", p.Dropped())
	}
	c = progress(map[int32]time.Time{0: t0.Add(61 * time.Minute), 1: t0.Add(61 * time.Minute)})
	if want := t0.Add(time.Hour); !p.Watermark().Equal(want) || len(c) != 1 || c[0].Person != "a" {
		t.Fatalf("watermark %s (want %s), changes %v (want a entering)", p.Watermark(), want, c)
	}
	// The sources survive a restart from the meta state.
	meta, err := p.Meta()
	if err != nil {
		t.Fatal(err)
	}
	restored := newProcessor(t, defs, nil)
	if err := restored.RestoreMeta(meta); err != nil {
		t.Fatal(err)
	}
	got, n := restored.Sources()
	if want := map[int32]time.Time{0: t0.Add(61 * time.Minute), 1: t0.Add(61 * time.Minute), 2: t0.Add(2 * time.Hour)}; n != 3 || !reflect.DeepEqual(got, want) {
		t.Fatalf("restored sources %v of %d, want %v of 3", got, n, want)
	}
}

// TestHoldKeepsTheSurvivorsPartitionUntilTheTransfer: the partition of the
// person a merge goes into holds its watermark at the merge's time until
// the transfer arrives; the merged person's partition forwards what waits
// for the survivor before the transfer, and the state joins at the merge's
// time exactly. An empty transfer releases a hold and creates nobody.
func TestHoldKeepsTheSurvivorsPartitionUntilTheTransfer(t *testing.T) {
	defs, err := ParseDefinitions("property.yaml", []byte(segmentsref.Definitions)) // lateness 10m
	if err != nil {
		t.Fatal(err)
	}
	onA := func(person string) bool { return person == "ann" }
	a := newProcessor(t, defs, onA).ByProgress()
	b := newProcessor(t, defs, func(person string) bool { return !onA(person) }).ByProgress()
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	add := func(p *Processor, in Input) []Change { return addInput(t, p, in) }
	progress := func(at time.Time) Input {
		return Input{Progress: &Progress{Sources: 1, Read: map[int32]time.Time{0: at}}}
	}
	merge := &Merge{From: "ann", Into: "bob", At: t0.Add(55 * time.Minute)}
	add(b, Input{Hold: merge})
	add(b, progress(t0.Add(2*time.Hour)))
	if want := merge.At; !b.Watermark().Equal(want) {
		t.Fatalf("bob's partition at %s, want held at %s", b.Watermark(), want)
	}
	add(a, Input{Event: &Event{ID: "1", Person: "ann", At: t0.Add(52 * time.Minute), Type: "purchase", Revenue: 120}})
	add(a, Input{Event: &Event{ID: "2", Person: "ann", At: t0.Add(57 * time.Minute), Type: "page_view"}})
	add(a, Input{Merge: merge})
	add(a, progress(t0.Add(2*time.Hour)))
	forwards := a.TakeForwards()
	if len(forwards) != 2 || forwards[0].Event == nil || forwards[0].Event.ID != "2" || forwards[0].Event.Person != "bob" ||
		forwards[1].Transfer == nil || !forwards[1].Transfer.At.Equal(merge.At) {
		t.Fatalf("forwards %+v, want ann's page view for bob, then the transfer at the merge", forwards)
	}
	var changes []Change
	for _, in := range forwards {
		changes = append(changes, add(b, in)...)
	}
	if want := t0.Add(110 * time.Minute); !b.Watermark().Equal(want) {
		t.Fatalf("bob's partition at %s after the transfer, want %s", b.Watermark(), want)
	}
	if len(changes) != 1 || changes[0].Person != "bob" || changes[0].Segment != "big_spender" || !changes[0].Entered ||
		!changes[0].At.Equal(merge.At) {
		t.Fatalf("changes %+v, want bob entering big_spender at the merge's time", changes)
	}
	// A hold released by an empty transfer.
	persons := b.Persons()
	add(b, Input{Hold: &Merge{From: "cy", Into: "bob", At: t0.Add(3 * time.Hour)}})
	add(b, progress(t0.Add(4*time.Hour)))
	if want := t0.Add(3 * time.Hour); !b.Watermark().Equal(want) {
		t.Fatalf("held at %s, want %s", b.Watermark(), want)
	}
	add(b, Input{Transfer: &Transfer{Into: "dan", At: t0.Add(3 * time.Hour), State: newPerson("cy")}})
	if want := t0.Add(3*time.Hour + 50*time.Minute); !b.Watermark().Equal(want) || b.Persons() != persons {
		t.Fatalf("after the empty transfer: at %s (want %s), %d persons (want %d)", b.Watermark(), want, b.Persons(), persons)
	}
}

// TestHoldsForEachOthersMergesAtOneInstantRelease: two partitions each
// hold for a merge the other applies, both at the same instant (two merges
// stamped alike). Each reaches the instant, applies its merge and sends the
// transfer; the transfers release both holds and both watermarks move on.
// Holding just before the merge's time, as a partition once did, left both
// waiting for ever.
func TestHoldsForEachOthersMergesAtOneInstantRelease(t *testing.T) {
	defs, err := ParseDefinitions("property.yaml", []byte(segmentsref.Definitions)) // lateness 10m
	if err != nil {
		t.Fatal(err)
	}
	onA := func(person string) bool { return person == "ann" || person == "dan" }
	a := newProcessor(t, defs, onA).ByProgress()
	b := newProcessor(t, defs, func(person string) bool { return !onA(person) }).ByProgress()
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	at := t0.Add(30*time.Minute + 42) // both merges' stamp
	annToBob := &Merge{From: "ann", Into: "bob", At: at}
	cyToDan := &Merge{From: "cy", Into: "dan", At: at}
	purchase := func(id, person string) Input {
		return Input{Event: &Event{ID: id, Person: person, At: t0.Add(5 * time.Minute), Type: "purchase", Revenue: 150}}
	}
	done := Input{Progress: &Progress{Sources: 1, Read: map[int32]time.Time{0: t0.Add(2 * time.Hour)}}}
	for _, in := range []Input{{Hold: cyToDan}, purchase("1", "ann"), {Merge: annToBob}, done} {
		addInput(t, a, in)
	}
	for _, in := range []Input{{Hold: annToBob}, purchase("2", "cy"), {Merge: cyToDan}, done} {
		addInput(t, b, in)
	}
	toB, toA := a.TakeForwards(), b.TakeForwards()
	if len(toB) != 1 || toB[0].Transfer == nil || len(toA) != 1 || toA[0].Transfer == nil {
		t.Fatalf("forwards %+v and %+v, want one transfer each way", toB, toA)
	}
	var entered []string
	for _, c := range append(addInput(t, b, toB[0]), addInput(t, a, toA[0])...) {
		if c.Entered && c.Segment == "big_spender" && c.At.Equal(at) {
			entered = append(entered, c.Person)
		}
	}
	slices.Sort(entered)
	if want := t0.Add(110 * time.Minute); !a.Watermark().Equal(want) || !b.Watermark().Equal(want) || a.Holds() != 0 || b.Holds() != 0 {
		t.Fatalf("watermarks %s and %s with %d and %d holds, want both at %s with none", a.Watermark(), b.Watermark(), a.Holds(), b.Holds(), want)
	}
	if !slices.Equal(entered, []string{"bob", "dan"}) {
		t.Fatalf("entered big_spender at the merges' time: %v, want bob and dan", entered)
	}
}

// advanceTo moves p's watermark to `to` with a progress input of one
// source partition read to `to` plus the allowed lateness, as the router
// reports an idle partition following the clock, and returns the changes.
func advanceTo(p *Processor, to time.Time) ([]Change, error) {
	return p.Add(Input{Progress: &Progress{Sources: 1, Read: map[int32]time.Time{0: to.Add(p.defs.AllowedLateness)}}})
}

// addInput adds an input to p, failing the test on an error.
func addInput(t *testing.T, p *Processor, in Input) []Change {
	t.Helper()
	c, err := p.Add(in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newProcessor returns a processor of defs, failing the test on an error.
func newProcessor(t *testing.T, defs *Definitions, local func(string) bool) *Processor {
	t.Helper()
	p, err := NewProcessor(defs, local)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEventsNoDefinitionReads: an event of a type that no feature function
// reads creates and evaluates a person without state (a segment of persons
// who never bought takes it in), and changes nothing in a person with
// state: it is not evaluated for it, and the event takes no place among
// the kept events.
func TestEventsNoDefinitionReads(t *testing.T) {
	p := processorOf(t, `allowed_lateness: 1m
max_kept_events: 2
segments:
  - name: never_bought
    when: count("purchase") == 0
  - name: carts
    when: count("add_to_cart", "1h") >= 2
`)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	event := func(id, typ string, at time.Time) Input {
		return Input{Event: &Event{ID: id, Person: "ann", Type: typ, At: at}}
	}
	addInput(t, p, event("v1", "page_view", t0))
	changes, err := advanceTo(p, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Segment != "never_bought" || !changes[0].Entered || p.Evaluations() != 1 || p.Persons() != 1 {
		t.Fatalf("a first page view: changes %+v, %d evaluations, %d persons; want ann in never_bought after 1", changes, p.Evaluations(), p.Persons())
	}
	for i, in := range []Input{event("c1", "add_to_cart", t0.Add(time.Minute)), event("v2", "page_view", t0.Add(2*time.Minute)),
		event("v3", "page_view", t0.Add(3*time.Minute)), event("c2", "add_to_cart", t0.Add(4*time.Minute))} {
		addInput(t, p, in)
		changes, err = advanceTo(p, t0.Add(time.Duration(i+1)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
	}
	// The two carts are the two kept events.
	if len(changes) != 1 || changes[0].Segment != "carts" || !changes[0].Entered || !changes[0].At.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("changes at the second cart %+v, want ann entering carts", changes)
	}
	if p.Evaluations() != 3 {
		t.Errorf("%d evaluations, want 3: the first page view's and the carts'", p.Evaluations())
	}
}
