package identity

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/identifiers"
)

var t0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func id(typ, value string) identifiers.Identifier {
	return identifiers.Identifier{Type: typ, Value: value}
}

func TestJourneyMergesDevicesIntoTheFirstSeenPerson(t *testing.T) {
	r := NewResolver(DefaultRules())
	anonA, anonB, cust := id("anonymous_id", "a"), id("anonymous_id", "b"), id("customer_id", "c1")
	r.Apply(LinkRequest{ID: "e1", Identifiers: []identifiers.Identifier{anonA}, At: t0})
	r.Apply(LinkRequest{ID: "e2", Identifiers: []identifiers.Identifier{anonB}, At: t0.Add(time.Hour)})
	login := r.Apply(LinkRequest{ID: "e3", Identifiers: []identifiers.Identifier{anonB, cust}, At: t0.Add(2 * time.Hour)})
	if len(login.Merges) != 1 || login.Merges[0].Into != SingletonID(anonB) {
		t.Fatalf("login on B: %+v, want the customer id merged into B's person, seen first", login)
	}
	out := r.Apply(LinkRequest{ID: "e4", Identifiers: []identifiers.Identifier{anonA, cust}, At: t0.Add(3 * time.Hour)})
	if len(out.Merges) != 1 || out.Merges[0].From != SingletonID(anonB) || out.Merges[0].Into != SingletonID(anonA) {
		t.Fatalf("login on A: %+v, want B's person merged into A's, seen first", out)
	}
	// Every id events may carry now resolves to A's person.
	over := map[string]string{}
	for _, o := range out.Overrides {
		over[o.Person] = o.Survivor
	}
	for _, x := range []identifiers.Identifier{anonB, cust} {
		if over[SingletonID(x)] != SingletonID(anonA) {
			t.Errorf("override of %v's id: %q, want A's person", x, over[SingletonID(x)])
		}
	}
	pid, _, ids, _ := r.Person(cust)
	if pid != SingletonID(anonA) || len(ids) != 3 {
		t.Errorf("person of the customer: %s with %v", pid, ids)
	}
}

func TestLimitRefusesAndBlockedValuesNeverLink(t *testing.T) {
	r := NewResolver(DefaultRules())
	r.Apply(LinkRequest{ID: "e1", Identifiers: []identifiers.Identifier{id("device_id", "d"), id("customer_id", "c1")}, At: t0})
	out := r.Apply(LinkRequest{ID: "e2", Identifiers: []identifiers.Identifier{id("device_id", "d"), id("customer_id", "c2")}, At: t0.Add(time.Minute)})
	if len(out.Merges) != 0 || len(out.Refusals) != 1 || out.Refusals[0].ConflictingType != "customer_id" || out.Refusals[0].Request != "e2" {
		t.Fatalf("second customer id: %+v, want one refusal for customer_id", out)
	}
	if r.Lookup(id("customer_id", "c2")) == r.Lookup(id("device_id", "d")) {
		t.Error("the refused customer id joined the device's person")
	}
	shared := identifiers.Identifier{Type: "email", Value: "x", Blocked: true}
	r.Apply(LinkRequest{ID: "e3", Identifiers: []identifiers.Identifier{id("customer_id", "c3"), shared}, At: t0})
	r.Apply(LinkRequest{ID: "e4", Identifiers: []identifiers.Identifier{id("customer_id", "c4"), shared}, At: t0})
	if r.Lookup(shared) != "" || r.Lookup(id("customer_id", "c3")) == r.Lookup(id("customer_id", "c4")) {
		t.Error("a blocked value linked persons or entered the map")
	}
}

// reference is an independent union-find with the same rules: parent
// pointers, per-root counts, the same merge order (first seen, then id) and
// the same refusal of merges over a limit.
type reference struct {
	rules     *Rules
	parent    map[string]string // identifier key -> parent key
	firstSeen map[string]time.Time
	counts    map[string]map[string]int
}

func newReference(rules *Rules) *reference {
	return &reference{rules: rules, parent: map[string]string{}, firstSeen: map[string]time.Time{}, counts: map[string]map[string]int{}}
}

func refKey(x identifiers.Identifier) string { return x.Type + ":" + x.Value }

func (f *reference) find(k string) string {
	for f.parent[k] != k {
		f.parent[k] = f.parent[f.parent[k]]
		k = f.parent[k]
	}
	return k
}

// rootID is the person id of a root: the singleton id of its identifier.
func rootID(k string) string {
	typ, value, _ := strings.Cut(k, ":")
	return SingletonID(id(typ, value))
}

func (f *reference) apply(req LinkRequest) {
	var roots []string
	for _, x := range req.Identifiers {
		if x.Blocked {
			continue
		}
		k := refKey(x)
		if _, ok := f.parent[k]; !ok {
			f.parent[k] = k
			f.firstSeen[k] = req.At
			f.counts[k] = map[string]int{x.Type: 1}
		}
		root := f.find(k)
		dup := false
		for _, r := range roots {
			dup = dup || r == root
		}
		if !dup {
			roots = append(roots, root)
		}
	}
	sort.Slice(roots, func(i, j int) bool {
		if !f.firstSeen[roots[i]].Equal(f.firstSeen[roots[j]]) {
			return f.firstSeen[roots[i]].Before(f.firstSeen[roots[j]])
		}
		return rootID(roots[i]) < rootID(roots[j])
	})
	for _, p := range roots[min(1, len(roots)):] {
		s := roots[0]
		ok := true
		for typ, n := range f.counts[p] {
			if limit := f.rules.Limit(typ); limit > 0 && f.counts[s][typ]+n > limit {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f.parent[p] = s
		for typ, n := range f.counts[p] {
			f.counts[s][typ] += n
		}
	}
}

// partition renders identifier -> person id, sorted, for comparison.
func (f *reference) partition() string {
	var lines []string
	for k := range f.parent {
		lines = append(lines, k+" -> "+rootID(f.find(k)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func partitionOf(assignments map[key]Assignment) string {
	var lines []string
	for k, a := range assignments {
		lines = append(lines, k.typ+":"+k.value+" -> "+a.Person)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// randomRequests are requests over a small pool of identifiers, so that
// they overlap: several customer ids (limit conflicts), blocked values,
// repeated identifiers within a request, and duplicate requests.
func randomRequests(rng *rand.Rand, n int) []LinkRequest {
	types := []string{"customer_id", "email", "phone", "device_id", "anonymous_id", "loyalty_id"}
	var reqs []LinkRequest
	for i := 0; i < n; i++ {
		if i > 0 && rng.IntN(10) == 0 { // a duplicate of an earlier request
			reqs = append(reqs, reqs[rng.IntN(len(reqs))])
			continue
		}
		req := LinkRequest{ID: fmt.Sprintf("e%d", i), At: t0.Add(time.Duration(rng.IntN(1000)) * time.Minute)}
		for j := 0; j < 1+rng.IntN(4); j++ {
			typ := types[rng.IntN(len(types))]
			x := identifiers.Identifier{Type: typ, Value: fmt.Sprintf("%s-%d", typ, rng.IntN(n/3+1))}
			x.Blocked = rng.IntN(15) == 0
			if x.Blocked {
				x.Value = "unknown"
			}
			req.Identifiers = append(req.Identifiers, x)
		}
		reqs = append(reqs, req)
	}
	return reqs
}

// TestResolverMatchesReferenceUnionFind applies thousands of random
// requests, restarting the resolver from its published assignments at
// random points, and compares the final partition and person ids with the
// reference union-find's.
func TestResolverMatchesReferenceUnionFind(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		rules := DefaultRules()
		reqs := randomRequests(rng, 3000)
		ref := newReference(rules)
		r := NewResolver(rules)
		published := map[key]Assignment{} // the compacted identity map
		refusals, restarts := 0, 0
		for i, req := range reqs {
			ref.apply(req)
			out := r.Apply(req)
			refusals += len(out.Refusals)
			for _, a := range out.Assignments {
				published[keyOf(a.Identifier)] = a
			}
			if rng.IntN(500) == 0 || i == len(reqs)/2 { // a crash: a new resolver catches up on the map
				restarts++
				r = NewResolver(rules)
				for _, a := range published {
					r.Restore(a)
				}
			}
		}
		if got, want := partitionOf(published), ref.partition(); got != want {
			t.Fatalf("seed %d: the published partition differs from the reference:\n%s", seed, firstDiff(got, want))
		}
		if r.Identifiers() != len(published) {
			t.Fatalf("seed %d: resolver knows %d identifiers, the map %d", seed, r.Identifiers(), len(published))
		}
		if refusals == 0 || restarts < 2 {
			t.Fatalf("seed %d: %d refusals and %d restarts: the test did not exercise them", seed, refusals, restarts)
		}
		for k, a := range published {
			if k.value == "unknown" {
				t.Fatalf("seed %d: blocked value %v entered the map", seed, k)
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

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}

func TestSameRequestsGiveSameIDs(t *testing.T) {
	reqs := randomRequests(rand.New(rand.NewPCG(5, 5)), 2000)
	run := func() string {
		r := NewResolver(DefaultRules())
		published := map[key]Assignment{}
		for _, req := range reqs {
			for _, a := range r.Apply(req).Assignments {
				published[keyOf(a.Identifier)] = a
			}
		}
		return partitionOf(published)
	}
	if a, b := run(), run(); a != b {
		t.Fatal("two runs over the same requests gave different persons")
	}
}

func TestForget(t *testing.T) {
	r := NewResolver(DefaultRules())
	r.Apply(LinkRequest{ID: "e1", Identifiers: []identifiers.Identifier{id("email", "e"), id("customer_id", "c")}, At: t0})
	r.Apply(LinkRequest{ID: "e2", Identifiers: []identifiers.Identifier{id("device_id", "d")}, At: t0})
	gone := r.Forget(id("customer_id", "c"))
	if len(gone) != 2 || r.Lookup(id("email", "e")) != "" || r.Identifiers() != 1 || r.Persons() != 1 {
		t.Errorf("forget removed %v; %d identifiers and %d persons left", gone, r.Identifiers(), r.Persons())
	}
	if r.Forget(id("customer_id", "c")) != nil {
		t.Error("forgetting twice removed something")
	}
}
