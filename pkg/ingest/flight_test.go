package ingest

import (
	"hash/maphash"
	"testing"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// flightOf returns a flight of buffered touchpoints with the event ids.
func flightOf(ids ...string) *flight {
	b := &buffer{}
	for _, id := range ids {
		b.touchpoints = append(b.touchpoints, clickhouse.TouchpointRow{EventID: id})
	}
	return &flight{buffer: b, inserted: make(chan struct{})}
}

// TestFlightFollowsEarlierInsertsOfItsEvents: a flight waits for the
// earlier flights still inserting that hold one of its event ids, and
// for no other; flights whose inserts have ended are forgotten.
func TestFlightFollowsEarlierInsertsOfItsEvents(t *testing.T) {
	seed := maphash.MakeSeed()
	a, b := flightOf("e1", "e2"), flightOf("e3")
	earlier := a.follow(nil, seed)
	earlier = b.follow(earlier, seed)
	if len(b.after) != 0 {
		t.Fatalf("a flight sharing no event id waits for %d others", len(b.after))
	}
	c := flightOf("e4", "e2")
	earlier = c.follow(earlier, seed)
	if len(c.after) != 1 || c.after[0] != a {
		t.Fatalf("a flight holding e2 waits for %v, want the one flight holding it", c.after)
	}
	close(a.inserted)
	d := flightOf("e2")
	earlier = d.follow(earlier, seed)
	if len(d.after) != 1 || d.after[0] != c {
		t.Fatalf("after the first insert of e2 ended, the third copy waits for %v, want only the second", d.after)
	}
	if len(earlier) != 3 || a.keys != nil {
		t.Fatalf("%d flights kept (want 3: the ended one forgotten), its keys %v", len(earlier), a.keys)
	}
}
