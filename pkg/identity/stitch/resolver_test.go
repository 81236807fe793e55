package stitch_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/test/identityref"
)

var t0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func id(typ, value string) identifiers.Identifier {
	return identifiers.Identifier{Type: typ, Value: value}
}

func TestJourneyMergesDevicesIntoTheFirstSeenPerson(t *testing.T) {
	r := stitch.NewResolver(stitch.DefaultRules())
	anonA, anonB, cust := id("anonymous_id", "a"), id("anonymous_id", "b"), id("customer_id", "c1")
	r.Apply(stitch.LinkRequest{ID: "e1", Identifiers: []identifiers.Identifier{anonA}, At: t0})
	r.Apply(stitch.LinkRequest{ID: "e2", Identifiers: []identifiers.Identifier{anonB}, At: t0.Add(time.Hour)})
	login := r.Apply(stitch.LinkRequest{ID: "e3", Identifiers: []identifiers.Identifier{anonB, cust}, At: t0.Add(2 * time.Hour)})
	if len(login.Merges) != 1 || login.Merges[0].Into != stitch.SingletonID(anonB) {
		t.Fatalf("login on B: %+v, want the customer id merged into B's person, seen first", login)
	}
	out := r.Apply(stitch.LinkRequest{ID: "e4", Identifiers: []identifiers.Identifier{anonA, cust}, At: t0.Add(3 * time.Hour)})
	if len(out.Merges) != 1 || out.Merges[0].From != stitch.SingletonID(anonB) || out.Merges[0].Into != stitch.SingletonID(anonA) {
		t.Fatalf("login on A: %+v, want B's person merged into A's, seen first", out)
	}
	// Every id events may carry now resolves to A's person.
	over := map[string]string{}
	for _, o := range out.Overrides {
		over[o.Person] = o.Survivor
	}
	for _, x := range []identifiers.Identifier{anonB, cust} {
		if over[stitch.SingletonID(x)] != stitch.SingletonID(anonA) {
			t.Errorf("override of %v's id: %q, want A's person", x, over[stitch.SingletonID(x)])
		}
	}
	pid, _, ids, _ := r.Person(cust)
	if pid != stitch.SingletonID(anonA) || len(ids) != 3 {
		t.Errorf("person of the customer: %s with %v", pid, ids)
	}
}

func TestLimitRefusesAndBlockedValuesNeverLink(t *testing.T) {
	r := stitch.NewResolver(stitch.DefaultRules())
	r.Apply(stitch.LinkRequest{ID: "e1", Identifiers: []identifiers.Identifier{id("device_id", "d"), id("customer_id", "c1")}, At: t0})
	out := r.Apply(stitch.LinkRequest{ID: "e2", Identifiers: []identifiers.Identifier{id("device_id", "d"), id("customer_id", "c2")}, At: t0.Add(time.Minute)})
	if len(out.Merges) != 0 || len(out.Refusals) != 1 || out.Refusals[0].ConflictingType != "customer_id" || out.Refusals[0].Request != "e2" {
		t.Fatalf("second customer id: %+v, want one refusal for customer_id", out)
	}
	if r.Lookup(id("customer_id", "c2")) == r.Lookup(id("device_id", "d")) {
		t.Error("the refused customer id joined the device's person")
	}
	shared := identifiers.Identifier{Type: "email", Value: "x", Blocked: true}
	r.Apply(stitch.LinkRequest{ID: "e3", Identifiers: []identifiers.Identifier{id("customer_id", "c3"), shared}, At: t0})
	r.Apply(stitch.LinkRequest{ID: "e4", Identifiers: []identifiers.Identifier{id("customer_id", "c4"), shared}, At: t0})
	if r.Lookup(shared) != "" || r.Lookup(id("customer_id", "c3")) == r.Lookup(id("customer_id", "c4")) {
		t.Error("a blocked value linked persons or entered the map")
	}
}

func TestSameRequestsGiveSameIDs(t *testing.T) {
	reqs := identityref.Requests(rand.New(rand.NewPCG(5, 5)), 2000)
	run := func() string {
		r := stitch.NewResolver(stitch.DefaultRules())
		published := map[string]string{}
		for _, req := range reqs {
			for _, a := range r.Apply(req).Assignments {
				published[string(stitch.MapKey(a.Identifier))] = a.Person
			}
		}
		return identityref.Render(published)
	}
	if a, b := run(), run(); a != b {
		t.Fatal("two runs over the same requests gave different persons")
	}
}

func TestForget(t *testing.T) {
	r := stitch.NewResolver(stitch.DefaultRules())
	r.Apply(stitch.LinkRequest{ID: "e1", Identifiers: []identifiers.Identifier{id("email", "e"), id("customer_id", "c")}, At: t0})
	r.Apply(stitch.LinkRequest{ID: "e2", Identifiers: []identifiers.Identifier{id("device_id", "d")}, At: t0})
	gone := r.Forget(id("customer_id", "c"))
	if len(gone) != 2 || r.Lookup(id("email", "e")) != "" || r.Identifiers() != 1 || r.Persons() != 1 {
		t.Errorf("forget removed %v; %d identifiers and %d persons left", gone, r.Identifiers(), r.Persons())
	}
	if r.Forget(id("customer_id", "c")) != nil {
		t.Error("forgetting twice removed something")
	}
}

// TestResolverMatchesReferenceUnionFind applies thousands of random
// requests, restarting the resolver from its published assignments at
// random points, and compares the final partition and person ids with the
// reference union-find's.
func TestResolverMatchesReferenceUnionFind(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		rules := stitch.DefaultRules()
		ref := identityref.New(rules)
		r := stitch.NewResolver(rules)
		published := map[string]stitch.Assignment{} // the compacted identity map
		reqs := identityref.Requests(rng, 3000)
		refusals, restarts := 0, 0
		for i, req := range reqs {
			ref.Apply(req)
			out := r.Apply(req)
			refusals += len(out.Refusals)
			for _, a := range out.Assignments {
				published[string(stitch.MapKey(a.Identifier))] = a
			}
			if rng.IntN(500) == 0 || i == len(reqs)/2 { // a crash: a new resolver catches up on the map
				restarts++
				r = stitch.NewResolver(rules)
				for _, a := range published {
					r.Restore(a)
				}
			}
		}
		persons := map[string]string{}
		for k, a := range published {
			persons[k] = a.Person
		}
		if got, want := identityref.Render(persons), ref.Partition(); got != want {
			t.Fatalf("seed %d: the published partition differs from the reference:\n%s", seed, identityref.FirstDiff(got, want))
		}
		if r.Identifiers() != len(published) {
			t.Fatalf("seed %d: resolver knows %d identifiers, the map %d", seed, r.Identifiers(), len(published))
		}
		if refusals == 0 || restarts < 2 {
			t.Fatalf("seed %d: %d refusals and %d restarts: the test did not exercise them", seed, refusals, restarts)
		}
		for k, a := range published {
			if a.Identifier.Value == identityref.BlockedValue {
				t.Fatalf("seed %d: blocked value %s entered the map", seed, k)
			}
			_, _, ids, _ := r.Person(a.Identifier)
			customers := 0
			for _, x := range ids {
				if x.Type == "customer_id" {
					customers++
				}
			}
			if customers > 1 {
				t.Fatalf("seed %d: person %s has %d customer ids", seed, a.Person, customers)
			}
		}
	}
}
