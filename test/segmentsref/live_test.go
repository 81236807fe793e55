package segmentsref_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/segmentsref"
)

// published returns events as a producer that stamps them with the time it
// publishes them writes them: on each of `sources` source partitions in
// time order (to the millisecond, often the same millisecond), every
// person on one source partition, over about two days; and a few events
// stamped long before (a device that was offline), which are late.
func published(rng *rand.Rand, n, sources int) []segmentsref.Published {
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	types := []string{"add_to_cart", "purchase", "page_view", "click", "click", "signup"}
	at := make([]time.Time, sources)
	for s := range at {
		at[s] = start
	}
	var out []segmentsref.Published
	for i := 0; i < n; i++ {
		s := rng.IntN(sources)
		e := &segmentsref.Event{ID: fmt.Sprintf("e%d", i), Person: fmt.Sprintf("p%d-%d", s, rng.IntN(6)),
			Type: types[rng.IntN(len(types))], Channel: []string{"email", "web"}[rng.IntN(2)], Revenue: float64(rng.IntN(40))}
		switch {
		case rng.IntN(50) == 0 && at[s].After(start):
			e.At = at[s].Add(-time.Duration(11+rng.IntN(100)) * time.Minute)
		case rng.IntN(3) > 0:
			at[s] = at[s].Add(time.Duration(rng.IntN(20*60_000)) * time.Millisecond)
			fallthrough
		default:
			e.At = at[s]
		}
		out = append(out, segmentsref.Published{Event: e, Source: s})
	}
	return out
}

// TestLiveMatchesFromSources: on random published streams without merges,
// Live gives the changes, late events and watermark that the brute-force
// FromSources gives.
func TestLiveMatchesFromSources(t *testing.T) {
	entries, late := map[string]int{}, 0
	for seed := uint64(1); seed <= 40; seed++ {
		pubs := published(rand.New(rand.NewPCG(seed, 5)), 600, 3)
		want, wantLate, wantW := segmentsref.FromSources(pubs, 3, segmentsref.Lateness, nil)
		live := segmentsref.NewLive(3, segmentsref.Lateness)
		for _, p := range pubs {
			if err := live.Add(p.Source, *p.Event); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
		got := live.Finish()
		if diff := segmentsref.Diff(got.Changes, want, 20); diff != "" {
			t.Fatalf("seed %d: Live differs from FromSources:\n%s", seed, diff)
		}
		if got.Late != wantLate || !got.Watermark.Equal(wantW) || got.Events != len(pubs)-wantLate {
			t.Fatalf("seed %d: Live: %d late, watermark %s, %d events; FromSources: %d late, watermark %s, %d events",
				seed, got.Late, got.Watermark, got.Events, wantLate, wantW, len(pubs)-wantLate)
		}
		for _, c := range want {
			if c.Entered {
				entries[c.Segment]++
			}
		}
		late += wantLate
	}
	t.Logf("entries by segment %v, %d late events", entries, late)
	for _, s := range segmentsref.Segments {
		if entries[s] < 20 || late < 100 {
			t.Fatalf("entries by segment %v, %d late events in all: the streams exercise too little", entries, late)
		}
	}
}

// TestLiveRefusesAPersonOutOfOrder: an accepted event earlier than one its
// person already has is an error, not a silently different answer.
func TestLiveRefusesAPersonOutOfOrder(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	live := segmentsref.NewLive(1, segmentsref.Lateness)
	if err := live.Add(0, segmentsref.Event{ID: "a", Person: "p", Type: "page_view", At: at}); err != nil {
		t.Fatal(err)
	}
	err := live.Add(0, segmentsref.Event{ID: "b", Person: "p", Type: "page_view", At: at.Add(-time.Minute)})
	if err == nil || !strings.Contains(err.Error(), "time order") {
		t.Fatalf("an event of p a minute before its latest: %v", err)
	}
	// Another person's earlier event is fine (within the lateness).
	if err := live.Add(0, segmentsref.Event{ID: "c", Person: "q", Type: "page_view", At: at.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
}
