package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/segmentsref"
)

// TestForgetErasesStatePendingInputsAndTimer: ann has a cart (her
// cart_abandoners timer is due an hour later), an event still waiting for
// the watermark, one queued in the same batch as the erasure, and a person
// merged into her. Forget leaves nothing of her in the changelog (state,
// pending inputs, the redirect in the meta state), makes no change, and
// her timer never fires, neither in the processor nor in one restarted
// from the changelog; bob's state is untouched.
func TestForgetErasesStatePendingInputsAndTimer(t *testing.T) {
	defs, err := LoadDefinitions("../../../pipelines/segments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cart := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	p, err := NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	changelog := map[string][]byte{}
	p.WithStore(changelogStore(changelog))
	add := func(in Input) {
		t.Helper()
		if c, err := p.Add(in); err != nil || len(c) != 0 {
			t.Fatalf("input %+v: changes %+v (%v)", in, c, err)
		}
	}
	add(Input{Event: &Event{ID: "c1", Person: "ann", At: cart, Type: "add_to_cart"}})
	add(Input{Merge: &Merge{From: "ann-anon", Into: "ann", At: cart.Add(time.Minute)}})
	add(Input{Event: &Event{ID: "b1", Person: "bob", At: cart.Add(2 * time.Minute), Type: "add_to_cart"}})
	add(Input{Event: &Event{ID: "a2", Person: "ann", At: cart.Add(9 * time.Minute), Type: "page_view"}}) // waits: watermark 10:04
	record(t, p, changelog)
	if _, ok := changelog["p/ann"]; !ok || p.Persons() != 2 || len(p.state.Pending) != 1 || p.state.Redirects["ann-anon"] != "ann" {
		t.Fatalf("before the forget: changelog %v, %d persons, pending %+v, redirects %v", keys(changelog), p.Persons(), p.state.Pending, p.state.Redirects)
	}
	add(Input{Event: &Event{ID: "a3", Person: "ann", At: cart.Add(10 * time.Minute), Type: "page_view"}}) // queued in this batch

	if err := p.Forget("ann"); err != nil {
		t.Fatal(err)
	}
	if len(p.queued) != 0 || len(p.released) != 1 || !p.dirty["ann"] || p.persons["ann"] != nil {
		t.Errorf("after the forget: queued %v, released %v, dirty %v; want a3 never written, a2 released and ann gone", p.queued, p.released, p.dirty)
	}
	record(t, p, changelog)
	for k, v := range changelog {
		if strings.Contains(k, "ann") || strings.Contains(string(v), "ann") {
			t.Errorf("changelog %s still names ann: %q", k, v)
		}
	}
	if p.Persons() != 1 {
		t.Errorf("%d persons after the forget, want 1 (bob)", p.Persons())
	}
	// Her timer (due 11:00) does not fire; bob's (11:02) does.
	restarted := restart(t, defs, changelog, true)
	for name, proc := range map[string]*Processor{"processor": p, "restarted processor": restarted} {
		changes, err := advanceTo(proc, cart.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got := canonical(changes); strings.Contains(got, "ann") || !strings.Contains(got, "bob") {
			t.Errorf("%s: changes after the forget %s, want bob's only", name, got)
		}
	}
}

// keys returns the keys of a changelog.
func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestForgetReleasesHoldsOfTheErasedPerson: a partition holding for the
// transfer of a merge into a person who is then erased (the merged
// person's partition erases the merge and sends nothing) lets its
// watermark go on at the next progress; a transfer of an erased person,
// discarded, still releases the hold waiting for it.
func TestForgetReleasesHoldsOfTheErasedPerson(t *testing.T) {
	defs, err := ParseDefinitions("property.yaml", []byte(segmentsref.Definitions)) // lateness 10m
	if err != nil {
		t.Fatal(err)
	}
	p := newProcessor(t, defs, func(person string) bool { return person != "ann" && person != "cy" }).ByProgress()
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	progress := func(at time.Time) {
		t.Helper()
		addInput(t, p, Input{Progress: &Progress{Sources: 1, Read: map[int32]time.Time{0: at}}})
	}
	annToBob := &Merge{From: "ann", Into: "bob", At: t0.Add(30 * time.Minute)}
	addInput(t, p, Input{Hold: annToBob})
	addInput(t, p, Input{Hold: &Merge{From: "cy", Into: "dan", At: t0.Add(40 * time.Minute)}})
	progress(t0.Add(time.Hour))
	if !p.Watermark().Equal(annToBob.At) || p.Holds() != 2 {
		t.Fatalf("watermark %s with %d holds, want held at %s by 2", p.Watermark(), p.Holds(), annToBob.At)
	}
	if err := p.Forget("bob"); err != nil {
		t.Fatal(err)
	}
	progress(t0.Add(time.Hour + time.Minute))
	if want := t0.Add(40 * time.Minute); !p.Watermark().Equal(want) || p.Holds() != 1 {
		t.Fatalf("after bob's erasure: watermark %s with %d holds, want %s held by cy's merge", p.Watermark(), p.Holds(), want)
	}
	if _, err := p.Discard(Input{Transfer: &Transfer{Into: "dan", At: t0.Add(40 * time.Minute), State: newPerson("cy")}}); err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(51 * time.Minute); !p.Watermark().Equal(want) || p.Holds() != 0 {
		t.Fatalf("after cy's transfer was discarded: watermark %s with %d holds, want %s and none", p.Watermark(), p.Holds(), want)
	}
}
