// Package identityref is the reference the identity resolver is checked
// against: an independent union-find over identifiers with the same rules
// (per-type limits, blocked values never linking, merges keeping the person
// first seen, ties to the smaller id), and a generator of random link
// requests that overlap, conflict, repeat and carry blocked values.
package identityref

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
)

// UnionFind is the reference: parent pointers and per-root counts.
type UnionFind struct {
	rules     *stitch.Rules
	parent    map[string]string // "type:value" -> parent
	firstSeen map[string]time.Time
	counts    map[string]map[string]int
}

// New returns an empty reference applying rules.
func New(rules *stitch.Rules) *UnionFind {
	return &UnionFind{rules: rules, parent: map[string]string{}, firstSeen: map[string]time.Time{}, counts: map[string]map[string]int{}}
}

func (f *UnionFind) find(k string) string {
	for f.parent[k] != k {
		f.parent[k] = f.parent[f.parent[k]]
		k = f.parent[k]
	}
	return k
}

// personID is the person id of a root: the singleton id of its identifier.
func personID(k string) string {
	typ, value, _ := strings.Cut(k, ":")
	return stitch.SingletonID(identifiers.Identifier{Type: typ, Value: value})
}

// Apply applies one request.
func (f *UnionFind) Apply(req stitch.LinkRequest) {
	var roots []string
	for _, x := range req.Identifiers {
		if x.Blocked {
			continue
		}
		k := x.Type + ":" + x.Value
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
		return personID(roots[i]) < personID(roots[j])
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

// Partition renders every identifier with its person id, one
// "type:value -> person" line each, sorted.
func (f *UnionFind) Partition() string {
	m := map[string]string{}
	for k := range f.parent {
		m[k] = personID(f.find(k))
	}
	return Render(m)
}

// Render renders "type:value" -> person as Partition does.
func Render(m map[string]string) string {
	lines := make([]string, 0, len(m))
	for k, p := range m {
		lines = append(lines, k+" -> "+p)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// FirstDiff describes the first line where two renderings differ.
func FirstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}

// BlockedValue is the value Requests gives blocked identifiers.
const BlockedValue = "unknown"

// Requests returns n random requests over a pool of about n/3 values per
// type, so that they overlap: several customer ids per person (limit
// conflicts), blocked values, identifiers repeated within a request, and
// duplicates of earlier requests. Times are spread over 1000 minutes.
func Requests(rng *rand.Rand, n int) []stitch.LinkRequest {
	types := []string{"customer_id", "email", "phone", "device_id", "anonymous_id", "loyalty_id"}
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var reqs []stitch.LinkRequest
	for i := 0; i < n; i++ {
		if i > 0 && rng.IntN(10) == 0 {
			reqs = append(reqs, reqs[rng.IntN(len(reqs))])
			continue
		}
		req := stitch.LinkRequest{ID: fmt.Sprintf("e%d", i), At: start.Add(time.Duration(rng.IntN(1000)) * time.Minute)}
		for j := 0; j < 1+rng.IntN(4); j++ {
			typ := types[rng.IntN(len(types))]
			x := identifiers.Identifier{Type: typ, Value: fmt.Sprintf("%s-%d", typ, rng.IntN(n/3+1))}
			if rng.IntN(15) == 0 {
				x.Value, x.Blocked = BlockedValue, true
			}
			req.Identifiers = append(req.Identifiers, x)
		}
		reqs = append(reqs, req)
	}
	return reqs
}
