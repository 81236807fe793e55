package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
)

func link(values ...string) *stitch.LinkRequest {
	l := &stitch.LinkRequest{}
	for _, v := range values {
		l.Identifiers = append(l.Identifiers, identifiers.Identifier{Type: "device_id", Value: v})
	}
	return l
}

func TestRecentLinks(t *testing.T) {
	r := newRecentLinks()
	if !r.fresh(link("a", "b")) || r.fresh(link("b", "a")) || !r.fresh(link("a", "c")) {
		t.Fatal("the same identifiers in another order must count as seen, others as fresh")
	}
	// Two generations later the first set is forgotten, so memory stays bounded.
	for i := 0; i < 2*recentLinksPerGeneration; i++ {
		r.fresh(link(fmt.Sprint(i), "x"))
	}
	if len(r.current)+len(r.previous) > 2*recentLinksPerGeneration {
		t.Errorf("%d signatures held", len(r.current)+len(r.previous))
	}
	if !r.fresh(link("a", "b")) {
		t.Error("a set from two generations ago is still remembered")
	}
}

// TestRecentLinksDoNotAllocate checks a request's identifiers against the
// recent ones without allocating (the ingest profile had the signature's
// keys at an eighth of its allocations).
func TestRecentLinksDoNotAllocate(t *testing.T) {
	r := newRecentLinks()
	l := link("device-1", "device-2", "device-3")
	l.Identifiers = append(l.Identifiers, identifiers.Identifier{Type: "email", Value: strings.Repeat("f", 64)})
	r.fresh(l)
	if n := testing.AllocsPerRun(100, func() {
		if r.fresh(l) {
			t.Fatal("a request seen before is fresh")
		}
	}); n != 0 {
		t.Fatalf("checking a request allocated %v times", n)
	}
	if !r.fresh(link("device-1", "device-2")) || !r.fresh(link("device-1", "device-2", "device-3", "device-3")) {
		t.Fatal("a subset, or the set with an identifier twice, counts as seen")
	}
}

// BenchmarkRecentLinks checks link requests of two identifiers, most of
// them seen before, as the events of returning persons are. The values are
// 64 hexadecimal digits, as ingest's hashed identifiers are.
func BenchmarkRecentLinks(b *testing.B) {
	r := newRecentLinks()
	reqs := make([]*stitch.LinkRequest, 1000)
	for i := range reqs {
		reqs[i] = &stitch.LinkRequest{Identifiers: []identifiers.Identifier{
			{Type: "anonymous_id", Value: fmt.Sprintf("%064x", i%300)},
			{Type: "customer_id", Value: fmt.Sprintf("%064x", 1000+i%200)},
		}}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.fresh(reqs[i%len(reqs)])
	}
}
