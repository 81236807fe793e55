package segments

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/segments/engine"
	"github.com/touchline-io/touchline/test/segmentsref"
)

// TestLocalState: changelog records applied to the local state are served
// by partition; a reopened state restores a processor's meta, pending
// inputs and timers from it; wiping a partition leaves the others.
func TestLocalState(t *testing.T) {
	defs, err := engine.ParseDefinitions("state.yaml", []byte(segmentsref.Definitions))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := openLocalState(dir, 1<<20, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	// A processor makes the records: a cart (timer at t0+1h) and a
	// purchase still waiting for the watermark.
	src, err := engine.NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []engine.Input{
		{Event: &engine.Event{ID: "1", Person: "ann", At: t0, Type: "add_to_cart"}},
		{Event: &engine.Event{ID: "2", Person: "bob", At: t0.Add(20 * time.Minute), Type: "page_view"}},
		{Event: &engine.Event{ID: "3", Person: "ann", At: t0.Add(25 * time.Minute), Type: "purchase", Revenue: 7}},
	} {
		if _, err := src.Add(in); err != nil {
			t.Fatal(err)
		}
	}
	writes, err := stateWrites(src)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := l.apply(3, writes, 42, now); err != nil {
		t.Fatal(err)
	}
	if err := l.apply(4, writes[:1], 7, now); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	if l, err = openLocalState(dir, 1<<20, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	next, at, ok, err := l.checkpoint(3)
	if err != nil || !ok || next != 42 || !at.Equal(time.Unix(0, now.UnixNano())) {
		t.Fatalf("checkpoint of 3: %d %v %v %v", next, at, ok, err)
	}
	if _, _, ok, _ := l.checkpoint(5); ok {
		t.Fatal("partition 5 has a checkpoint")
	}
	restored, err := engine.NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	restored.WithStore(partitionStore{l: l, p: 3})
	if err := l.load(3, restored); err != nil {
		t.Fatal(err)
	}
	if restored.Persons() != src.Persons() || !restored.Watermark().Equal(src.Watermark()) {
		t.Fatalf("restored %d persons, watermark %s; want %d, %s", restored.Persons(), restored.Watermark(), src.Persons(), src.Watermark())
	}
	// Both processors go on alike: ann bought within the hour (no
	// abandoned cart), and bob's page view makes him quiet two hours on.
	for _, p := range []*engine.Processor{src, restored} {
		p.Evict(0)
	}
	// The router reports its partition read to 3 hours on, plus lateness.
	idle := engine.Input{Progress: &engine.Progress{Sources: 1, Read: map[int32]time.Time{0: t0.Add(3*time.Hour + defs.AllowedLateness)}}}
	want, err := src.Add(idle)
	if err != nil {
		t.Fatal(err)
	}
	got, err := restored.Add(idle)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("after the restore: %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Person != want[i].Person || got[i].Segment != want[i].Segment || got[i].Entered != want[i].Entered || !got[i].At.Equal(want[i].At) {
			t.Fatalf("change %d after the restore: %+v, want %+v", i, got[i], want[i])
		}
	}

	if err := l.wipe(3); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := l.checkpoint(3); ok {
		t.Fatal("partition 3 keeps its checkpoint after a wipe")
	}
	if p, err := (partitionStore{l: l, p: 3}).Person(writes[0].key[len(personKeyPrefix):]); p != nil || err != nil {
		t.Fatalf("partition 3 keeps a person after a wipe: %v %v", p, err)
	}
	if p, err := (partitionStore{l: l, p: 4}).Person(writes[0].key[len(personKeyPrefix):]); p == nil || err != nil {
		t.Fatalf("wiping partition 3 lost partition 4's person: %v", err)
	}
}

// TestPrefixBounds: the upper bound of a prefix is the first key after
// all keys that have it, carrying over 0xff bytes.
func TestPrefixBounds(t *testing.T) {
	lower, upper := prefixBounds(0x01ff, "")
	if string(lower) != "\x00\x00\x01\xff" || string(upper) != "\x00\x00\x02" {
		t.Fatalf("bounds %q %q", lower, upper)
	}
	if _, upper := prefixBounds(-1, ""); upper != nil {
		t.Fatalf("upper of the last partition prefix: %q, want none", upper)
	}
}
