package stitch

import (
	"fmt"
	"sort"
	"time"

	"github.com/touchline-io/touchline/pkg/identifiers"
)

// LinkRequest asks for identifiers seen together on one event to belong to
// one person.
type LinkRequest struct {
	// ID names the request in refusals (the event id).
	ID string
	// Identifiers are normalised; blocked ones are ignored.
	Identifiers []identifiers.Identifier
	// At is the event time, the first-seen time of identifiers new to the
	// resolver.
	At time.Time
	// Forget asks instead to remove the persons of Identifiers and all
	// their identifiers (right to erasure), and to suppress them.
	Forget bool
	// Lift, with Forget, asks instead to lift the suppression of the
	// erasures that Identifiers were part of.
	Lift bool
}

// Assignment says that an identifier belongs to a person now.
type Assignment struct {
	Identifier identifiers.Identifier
	Person     string
	// FirstSeen is when the person was first seen: the event time of the
	// first request that named one of its identifiers.
	FirstSeen time.Time
}

// Merge records that person From was merged into person Into.
type Merge struct {
	From, Into string
	Request    string
}

// Refusal records a link the rules refused: merging the persons would
// break a limit. The identifiers stay with their persons.
type Refusal struct {
	Request         string
	Person, Other   string
	Reason          string
	ConflictingType string
}

// Override maps a person id that events may carry to the person it belongs
// to now (for person_overrides).
type Override struct {
	Person, Survivor string
}

// Outcome is what one request changed.
type Outcome struct {
	Assignments []Assignment
	Merges      []Merge
	Refusals    []Refusal
	Overrides   []Override
}

// key identifies an identifier regardless of its Blocked flag.
type key struct{ typ, value string }

func keyOf(id identifiers.Identifier) key { return key{id.Type, id.Value} }

// person is one person of the resolver: its id is the singleton id of one of
// its identifiers, which is why a person id never needs a separate record.
type person struct {
	id        string
	firstSeen time.Time
	ids       []identifiers.Identifier
	count     map[string]int // identifiers per type
}

// Resolver applies link requests to a union-find of identifiers under the
// identity rules. Persons are sets of identifiers; a merge keeps the person
// first seen (ties: the smaller id), so the same requests in the same order
// always give the same persons and ids. It is not safe for concurrent use.
type Resolver struct {
	rules *Rules
	of    map[key]*person
	byID  map[string]*person
}

// NewResolver returns an empty resolver applying rules.
func NewResolver(rules *Rules) *Resolver {
	return &Resolver{rules: rules, of: map[key]*person{}, byID: map[string]*person{}}
}

// Identifiers returns how many identifiers the resolver knows.
func (r *Resolver) Identifiers() int { return len(r.of) }

// Persons returns how many persons the resolver knows.
func (r *Resolver) Persons() int { return len(r.byID) }

// Lookup returns the person of an identifier, or "" when it is unknown.
func (r *Resolver) Lookup(id identifiers.Identifier) string {
	if p := r.of[keyOf(id)]; p != nil {
		return p.id
	}
	return ""
}

// Drop removes an identifier read back as a tombstone of the identity map.
func (r *Resolver) Drop(id identifiers.Identifier) {
	if p := r.of[keyOf(id)]; p != nil {
		r.remove(p, id)
	}
}

// Restore adds an assignment read back from the identity map, as on a
// restart. Assignments of one person must agree on its first-seen time.
func (r *Resolver) Restore(a Assignment) {
	k := keyOf(a.Identifier)
	if old := r.of[k]; old != nil {
		r.remove(old, a.Identifier)
	}
	p := r.byID[a.Person]
	if p == nil {
		p = r.newPerson(a.Person, a.FirstSeen)
	}
	r.add(p, a.Identifier)
}

func (r *Resolver) newPerson(id string, firstSeen time.Time) *person {
	p := &person{id: id, firstSeen: firstSeen, count: map[string]int{}}
	r.byID[id] = p
	return p
}

func (r *Resolver) add(p *person, id identifiers.Identifier) {
	id.Blocked = false
	p.ids = append(p.ids, id)
	p.count[id.Type]++
	r.of[keyOf(id)] = p
}

func (r *Resolver) remove(p *person, id identifiers.Identifier) {
	k := keyOf(id)
	for i, x := range p.ids {
		if keyOf(x) == k {
			p.ids = append(p.ids[:i], p.ids[i+1:]...)
			break
		}
	}
	p.count[id.Type]--
	delete(r.of, k)
	if len(p.ids) == 0 {
		delete(r.byID, p.id)
	}
}

// Apply applies one link request and returns what it changed.
func (r *Resolver) Apply(req LinkRequest) Outcome {
	var out Outcome
	var persons []*person
	seen := map[*person]bool{}
	for _, id := range req.Identifiers {
		if id.Blocked {
			continue
		}
		p := r.of[keyOf(id)]
		if p == nil {
			p = r.newPerson(SingletonID(id), req.At)
			r.add(p, id)
			out.Assignments = append(out.Assignments, Assignment{Identifier: p.ids[0], Person: p.id, FirstSeen: p.firstSeen})
		}
		if !seen[p] {
			seen[p] = true
			persons = append(persons, p)
		}
	}
	sort.Slice(persons, func(i, j int) bool {
		if !persons[i].firstSeen.Equal(persons[j].firstSeen) {
			return persons[i].firstSeen.Before(persons[j].firstSeen)
		}
		return persons[i].id < persons[j].id
	})
	for i := 1; i < len(persons); i++ {
		s, p := persons[0], persons[i]
		if typ, reason := r.conflict(s, p); reason != "" {
			out.Refusals = append(out.Refusals, Refusal{Request: req.ID, Person: s.id, Other: p.id, Reason: reason, ConflictingType: typ})
			continue
		}
		r.merge(p, s, req.ID, &out)
	}
	return out
}

// conflict says which limit merging p into s would break, if any.
func (r *Resolver) conflict(s, p *person) (typ, reason string) {
	types := make([]string, 0, len(p.count))
	for t := range p.count {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if limit := r.rules.Limit(t); limit > 0 && s.count[t]+p.count[t] > limit {
			return t, fmt.Sprintf("limit_%s: at most %d per person, the merge would give %d", t, limit, s.count[t]+p.count[t])
		}
	}
	return "", ""
}

// merge moves every identifier of p into s.
func (r *Resolver) merge(p, s *person, request string, out *Outcome) {
	out.Merges = append(out.Merges, Merge{From: p.id, Into: s.id, Request: request})
	for _, id := range p.ids {
		s.ids = append(s.ids, id)
		s.count[id.Type]++
		r.of[keyOf(id)] = s
		out.Assignments = append(out.Assignments, Assignment{Identifier: id, Person: s.id, FirstSeen: s.firstSeen})
		// Every id events may carry for these identifiers now means s.
		out.Overrides = append(out.Overrides, Override{Person: SingletonID(id), Survivor: s.id})
	}
	delete(r.byID, p.id)
}

// Person returns the identifiers of the person of id (sorted by type then
// value) and the person's id and first-seen time; ok is false for an unknown
// identifier.
func (r *Resolver) Person(id identifiers.Identifier) (personID string, firstSeen time.Time, ids []identifiers.Identifier, ok bool) {
	p := r.of[keyOf(id)]
	if p == nil {
		return "", time.Time{}, nil, false
	}
	ids = append(ids, p.ids...)
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Type != ids[j].Type {
			return ids[i].Type < ids[j].Type
		}
		return ids[i].Value < ids[j].Value
	})
	return p.id, p.firstSeen, ids, true
}

// Forget removes the person of id and all its identifiers, and returns
// them; the person ids that events of the person may carry are the
// singleton ids of these identifiers.
func (r *Resolver) Forget(id identifiers.Identifier) []identifiers.Identifier {
	personID, _, ids, ok := r.Person(id)
	if !ok {
		return nil
	}
	for _, x := range ids {
		delete(r.of, keyOf(x))
	}
	delete(r.byID, personID)
	return ids
}
