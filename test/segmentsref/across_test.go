package segmentsref_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/touchline-io/touchline/pkg/segments"
	"github.com/touchline-io/touchline/pkg/segments/engine"
	"github.com/touchline-io/touchline/test/segmentsref"
)

// observed returns routed inputs as ChangesAcross takes them.
func observed(in segmentsref.Input) segmentsref.Observed {
	return segmentsref.Observed{Event: in.Event, Merge: in.Merge}
}

// TestChangesAcrossOnOnePartition: with every person in one partition,
// ChangesAcross gives what Changes gives.
func TestChangesAcrossOnOnePartition(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		var persons []string
		for i := 0; i < 20; i++ {
			persons = append(persons, fmt.Sprintf("p%02d", i))
		}
		inputs := segmentsref.Stream(rand.New(rand.NewPCG(seed, 99)), 400, persons, nil)
		var seq []segmentsref.Observed
		for _, in := range inputs {
			seq = append(seq, observed(in))
		}
		got, stats, err := segmentsref.ChangesAcross([][]segmentsref.Observed{seq}, func(string) int { return 0 })
		if err != nil {
			t.Fatal(err)
		}
		want, _ := segmentsref.Changes(inputs)
		if g, w := segmentsref.Canonical(got), segmentsref.Canonical(want); g != w {
			t.Fatalf("seed %d: ChangesAcross differs from Changes\ngot:\n%s\nwant:\n%s", seed, g, w)
		}
		if stats.Transfers != 0 || stats.Forwards != 0 {
			t.Fatalf("seed %d: %+v on one partition", seed, stats)
		}
	}
}

// delivered is an input in a partition's log, and whether a partition
// forwarded it.
type delivered struct {
	in        engine.Input
	forwarded bool
}

// TestChangesAcrossMatchesProcessors runs random streams in which persons of
// different partitions merge, and merged persons go on having events,
// through one processor per partition. Records reach a partition's log
// in a random interleaving: the routed inputs in their order, and what a
// processor forwards once its batch "commits", a random while later. The
// changes of the processors are compared with ChangesAcross over the logs
// as consumed.
func TestChangesAcrossMatchesProcessors(t *testing.T) {
	defs, err := engine.ParseDefinitions("property.yaml", []byte(segmentsref.Definitions))
	if err != nil {
		t.Fatal(err)
	}
	const parts = 3
	partitionOf := func(person string) int { return int(segments.PartitionOf(person, parts)) }
	var total segmentsref.Across
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		var persons []string
		for i := 0; i < 12; i++ {
			persons = append(persons, fmt.Sprintf("p%02d", i))
		}
		inputs := segmentsref.StreamAfterMerges(rng, 500, persons)
		procs := make([]*engine.Processor, parts)
		for i := range procs {
			i := i
			if procs[i], err = engine.NewProcessor(defs, func(person string) bool { return partitionOf(person) == i }); err != nil {
				t.Fatal(err)
			}
		}
		logs := make([][]delivered, parts)      // not yet consumed
		outbox := make([][]engine.Input, parts) // forwarded, not yet committed
		seqs := make([][]segmentsref.Observed, parts)
		var got []engine.Change
		routed := 0
		for {
			var moves []func()
			if routed < len(inputs) {
				moves = append(moves, func() {
					in := inputs[routed]
					routed++
					var s engine.Input
					if e := in.Event; e != nil {
						s.Event = &engine.Event{ID: e.ID, Person: e.Person, Type: e.Type, Channel: e.Channel, At: e.At, Revenue: e.Revenue}
					} else {
						s.Merge = &engine.Merge{From: in.Merge.From, Into: in.Merge.Into, At: in.Merge.At}
					}
					p := partitionOf(in.Person())
					logs[p] = append(logs[p], delivered{in: s})
				})
			}
			for p := 0; p < parts; p++ {
				if len(logs[p]) > 0 {
					moves = append(moves, func() {
						d := logs[p][0]
						logs[p] = logs[p][1:]
						seqs[p] = append(seqs[p], observe(d))
						c, err := procs[p].Add(d.in)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, c...)
						outbox[p] = append(outbox[p], procs[p].TakeForwards()...)
					})
				}
				if len(outbox[p]) > 0 {
					moves = append(moves, func() {
						for _, in := range outbox[p] {
							b, err := segments.EncodeInput(in)
							if err != nil {
								t.Fatal(err)
							}
							if in, err = segments.DecodeInput(b); err != nil {
								t.Fatal(err)
							}
							to := partitionOf(in.Person())
							logs[to] = append(logs[to], delivered{in: in, forwarded: true})
						}
						outbox[p] = nil
					})
				}
			}
			if len(moves) == 0 {
				break
			}
			moves[rng.IntN(len(moves))]()
		}
		want, stats, err := segmentsref.ChangesAcross(seqs, partitionOf)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if g, w := canonical(got), segmentsref.Canonical(want); g != w {
			t.Fatalf("seed %d: changes differ\ngot:\n%s\nwant:\n%s", seed, g, w)
		}
		total.Transfers += stats.Transfers
		total.LateTransfers += stats.LateTransfers
		total.Forwards += stats.Forwards
		total.Redirects += stats.Redirects
	}
	t.Logf("%d redirects, %d transfers (%d late), %d forwarded events", total.Redirects, total.Transfers, total.LateTransfers, total.Forwards)
	if total.Transfers == 0 || total.LateTransfers == 0 || total.Forwards == 0 {
		t.Fatalf("the streams did not exercise merges across partitions: %+v", total)
	}
}

// observe returns a consumed input as ChangesAcross takes it.
func observe(d delivered) segmentsref.Observed {
	in := d.in
	switch {
	case in.Merge != nil:
		return segmentsref.Observed{Merge: &segmentsref.Merge{From: in.Merge.From, Into: in.Merge.Into, At: in.Merge.At}}
	case in.Transfer != nil:
		return segmentsref.Observed{Transfer: &segmentsref.Transfer{From: in.Transfer.State.ID, Into: in.Transfer.Into, At: in.Transfer.At}}
	}
	e := &segmentsref.Event{ID: in.Event.ID, Person: in.Event.Person, Type: in.Event.Type, Channel: in.Event.Channel,
		At: in.Event.At, Revenue: in.Event.Revenue}
	if d.forwarded {
		return segmentsref.Observed{Forward: e}
	}
	return segmentsref.Observed{Event: e}
}

// canonical renders the processors' changes as the reference does.
func canonical(changes []engine.Change) string {
	out := make([]segmentsref.Change, len(changes))
	for i, c := range changes {
		out[i] = segmentsref.Change{Person: c.Person, Segment: c.Segment, Entered: c.Entered, At: c.At}
	}
	return segmentsref.Canonical(out)
}
