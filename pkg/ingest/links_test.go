package ingest

import (
	"fmt"
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
