package segments

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/segments/engine"
	"github.com/touchline-io/touchline/test/segmentsref"
)

// TestProcessorsMatchTheTouchpointsAsPublished routes random streams of
// touchpoints, out of order, repeated and late as published, on three
// touchpoints partitions that the router reads at very different speeds
// (one in large steps, one a record at a time, one stalling), with the
// router's rule for late events and a progress record for each inputs
// partition after every batch, to one processor per inputs partition that
// consume at their own pace. The changes equal the reference's over the
// touchpoints as published, and the events dropped as late are exactly those
// late in their own touchpoints partition: none is made late by the
// router reading one partition ahead of another.
func TestProcessorsMatchTheTouchpointsAsPublished(t *testing.T) {
	defs, err := engine.ParseDefinitions("ref.yaml", []byte(segmentsref.Definitions))
	if err != nil {
		t.Fatal(err)
	}
	const parts, sources = 3, 3
	partitionOf := func(person string) int32 { return PartitionOf(person, parts) }
	lateTotal, holds, transfers, forwarded := 0, 0, 0, 0
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		var persons []string
		source := map[string]int{}
		for i := 0; i < 18; i++ {
			persons = append(persons, fmt.Sprintf("p%02d", i))
			source[persons[i]] = i % sources
		}
		inputs := segmentsref.StreamAfterMerges(rng, 600, persons)
		published := make([]segmentsref.Published, len(inputs))
		queues := make([][]int, sources) // indexes of each source partition's events
		for i, in := range inputs {
			if in.Event != nil {
				published[i] = segmentsref.Published{Event: in.Event, Source: source[in.Event.Person]}
				queues[source[in.Event.Person]] = append(queues[source[in.Event.Person]], i)
			} else {
				published[i] = segmentsref.Published{Merge: in.Merge}
			}
		}
		want, wantLate, _ := segmentsref.FromSources(published, sources, segmentsref.Lateness, MergeOffset)

		procs := make([]*engine.Processor, parts)
		for p := range procs {
			if procs[p], err = NewProcessor(defs, int32(p), parts); err != nil {
				t.Fatal(err)
			}
		}
		logs := make([][][]byte, parts)
		outbox := make([][]engine.Input, parts) // forwarded, not yet committed
		read := map[int32]time.Time{}
		router := &Router{cfg: Config{Partitions: parts}, lateness: segmentsref.Lateness, read: read,
			assigned: map[int32]bool{0: true, 1: true, 2: true}, merged: map[string]string{}}
		late, routed := 0, make([]bool, len(inputs))
		nextMerge := 0 // index of the next input not routed that is a merge
		speeds := []int{40, 1, 6}
		send := func(p int32, in engine.Input) {
			b, err := EncodeInput(in)
			if err != nil {
				t.Fatal(err)
			}
			logs[p] = append(logs[p], b)
		}
		var got []engine.Change
		for {
			for nextMerge < len(inputs) && (inputs[nextMerge].Merge == nil || routed[nextMerge]) {
				nextMerge++
			}
			var moves []func()
			if pending := len(queues[0]) + len(queues[1]) + len(queues[2]); pending > 0 || nextMerge < len(inputs) {
				moves = append(moves, func() { // one routing transaction
					for s := range queues {
						n := rng.IntN(speeds[s] + 1)
						if s == 2 && rng.IntN(4) > 0 {
							n = 0 // stalls
						}
						// Events published after a merge are published once
						// it is routed.
						for ; n > 0 && len(queues[s]) > 0 && queues[s][0] < nextMerge; n-- {
							i := queues[s][0]
							queues[s], routed[i] = queues[s][1:], true
							e := inputs[i].Event
							if !admit(read, int32(s), e.At, segmentsref.Lateness) {
								late++
								continue
							}
							person := router.survivor(e.Person)
							send(partitionOf(person), engine.Input{Event: &engine.Event{ID: e.ID, Person: person, Type: e.Type,
								Channel: e.Channel, At: e.At, Revenue: e.Revenue}})
						}
					}
					before := true
					for i := 0; i < nextMerge; i++ {
						before = before && (inputs[i].Merge != nil || routed[i])
					}
					if nextMerge < len(inputs) && before {
						m := inputs[nextMerge].Merge
						routed[nextMerge] = true
						for _, in := range router.mergeInputs(engine.Merge{From: m.From, Into: m.Into, At: m.At}) {
							if in.Hold != nil {
								holds++
							}
							send(partitionOf(in.Person()), in)
						}
					}
					if len(read) > 0 {
						for p := int32(0); p < parts; p++ {
							send(p, engine.Input{Progress: &engine.Progress{Sources: sources, Read: maps.Clone(read)}})
						}
					}
				})
			}
			for p := range logs {
				if len(outbox[p]) > 0 {
					moves = append(moves, func() { // the stage's transaction commits
						for _, in := range outbox[p] {
							if in.Transfer != nil {
								transfers++
							} else {
								forwarded++
							}
							send(partitionOf(in.Person()), in)
						}
						outbox[p] = nil
					})
				}
				if len(logs[p]) > 0 {
					moves = append(moves, func() {
						in, err := DecodeInput(logs[p][0])
						if err != nil {
							t.Fatal(err)
						}
						logs[p] = logs[p][1:]
						c, err := procs[p].Add(in)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, c...)
						outbox[p] = append(outbox[p], procs[p].TakeForwards()...)
					})
				}
			}
			if len(moves) == 0 {
				break
			}
			moves[rng.IntN(len(moves))]()
		}
		if late != wantLate {
			t.Fatalf("seed %d: %d events dropped as late, want %d", seed, late, wantLate)
		}
		for p, proc := range procs {
			if proc.Dropped() != 0 {
				t.Fatalf("seed %d: partition %d dropped %d inputs the router had found on time", seed, p, proc.Dropped())
			}
		}
		if g, w := canonicalChanges(got), segmentsref.Canonical(want); g != w {
			t.Fatalf("seed %d: changes differ\ngot:\n%s\nwant:\n%s", seed, g, w)
		}
		lateTotal += late
	}
	t.Logf("over 40 streams: %d events late as published, %d holds, %d transfers, %d forwarded events", lateTotal, holds, transfers, forwarded)
	if lateTotal == 0 || holds < 40 || transfers < 40 || forwarded == 0 {
		t.Fatal("the streams did not exercise late events and merges across partitions")
	}
}

// canonicalChanges renders the processors' changes as the reference does.
func canonicalChanges(changes []engine.Change) string {
	out := make([]segmentsref.Change, len(changes))
	for i, c := range changes {
		out[i] = segmentsref.Change{Person: c.Person, Segment: c.Segment, Entered: c.Entered, At: c.At}
	}
	return segmentsref.Canonical(out)
}
