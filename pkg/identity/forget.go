package identity

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// erasures are the tables a forgotten person is deleted from, with the
// condition on its person ids (first argument) and, for the first two, its
// identifier values (second argument; else the person ids again, when the
// condition has two).
var erasures = []erasure{
	{"touchpoints", "has(?, person_id) OR hasAny(identifier_values, ?)"},
	{"identity_map", "has(?, person_id) OR has(?, identifier_value)"},
	{"identity_merges", "has(?, merged_person_id) OR has(?, surviving_person_id)"},
	{"identity_refusals", "has(?, person_id) OR has(?, other_person_id)"},
	{"person_overrides", "has(?, person_id) OR has(?, surviving_person_id)"},
	{"segment_changes", "has(?, person_id)"},
	{"activation_deliveries", "has(?, person_id)"},
}

type erasure struct{ table, where string }

// args returns the arguments of the erasure's condition.
func (x erasure) args(persons, values []string) []any {
	switch {
	case x.table == "touchpoints" || x.table == "identity_map":
		return []any{persons, values}
	case strings.Count(x.where, "?") == 2:
		return []any{persons, persons}
	}
	return []any{persons}
}

// ForgetStatements returns the statements Forget runs per table (a count
// and a delete), with ? for their arguments (arrays of strings), for
// compatibility checks.
func ForgetStatements() []string {
	var out []string
	for _, e := range erasures {
		out = append(out, "SELECT count() FROM "+e.table+" FINAL WHERE "+e.where, "ALTER TABLE "+e.table+" DELETE WHERE "+e.where)
	}
	return out
}

// Erasure is what Forget removed.
type Erasure struct {
	// PersonIDs are every person id the person's events may carry.
	PersonIDs []string `json:"person_ids"`
	// Identifiers are the person's identifiers (as stored).
	Identifiers []KnownIdentifier `json:"identifiers"`
	// Rows counts the rows deleted, by table.
	Rows map[string]uint64 `json:"rows"`
}

// Forget erases the person of id everywhere touchline keeps it: it asks the
// resolver (through the links topic) to drop the person's identifiers,
// which puts tombstones on the identity map topic and removes them from
// every local copy, and suppresses them (the suppressions topic), so that
// no service stores them again, even from records it consumes again; it
// waits until the resolver of group has passed the request, then calls
// erase with every person id the person's events may carry (the services
// that keep state of their own by person erase it there, such as the
// segments service), then deletes the person's rows from every table that
// holds them (on every shard and replica of chcfg's cluster) and waits for
// the deletions to finish. Events that carry one
// of the identifiers go too, whatever person they were stored with.
func Forget(ctx context.Context, kcfg kafka.Config, group string, conn driver.Conn, chcfg clickhouse.Config, id identifiers.Identifier,
	erase func(ctx context.Context, persons []string) error) (*Erasure, error) {
	e := &Erasure{Rows: map[string]uint64{}}
	p, err := Describe(ctx, conn, id)
	switch {
	case errors.Is(err, ErrUnknownIdentifier):
		e.Identifiers = []KnownIdentifier{{Type: id.Type, Value: id.Value}}
	case err != nil:
		return nil, err
	default:
		e.Identifiers = p.Identifiers
	}
	ids := make([]identifiers.Identifier, len(e.Identifiers))
	values := make([]string, len(e.Identifiers))
	persons := map[string]bool{}
	if p != nil {
		persons[p.PersonID] = true
	}
	for i, k := range e.Identifiers {
		ids[i] = identifiers.Identifier{Type: k.Type, Value: k.Value}
		values[i] = k.Value
		persons[stitch.SingletonID(ids[i])] = true
	}
	for person := range persons {
		e.PersonIDs = append(e.PersonIDs, person)
	}
	sort.Strings(e.PersonIDs)
	if err := sendForget(ctx, kcfg, group, stitch.LinkRequest{
		ID: fmt.Sprintf("forget-%d", time.Now().UnixNano()), Identifiers: ids, At: time.Now(), Forget: true,
	}); err != nil {
		return nil, err
	}
	if err := erase(ctx, e.PersonIDs); err != nil {
		return nil, err
	}
	if e.Rows, err = EraseRows(ctx, conn, chcfg, e.PersonIDs, values); err != nil {
		return nil, err
	}
	return e, nil
}

// EraseRows deletes from ClickHouse the rows of persons and the touchpoints
// and identity map rows carrying one of values (identifiers as stored), on
// every shard and replica of chcfg's cluster, waits for the deletions to
// finish, and returns the number of rows deleted, by table.
func EraseRows(ctx context.Context, conn driver.Conn, chcfg clickhouse.Config, persons, values []string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, x := range erasures {
		args := x.args(persons, values)
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+x.table+" FINAL WHERE "+x.where, args...).Scan(&n); err != nil {
			return nil, fmt.Errorf("counting the person's rows in %s: %w", x.table, err)
		}
		out[x.table] = n
		if err := clickhouse.Delete(ctx, conn, chcfg, x.table, x.where, args...); err != nil {
			return nil, fmt.Errorf("deleting the person's rows: %w", err)
		}
	}
	return out, clickhouse.WaitForMutations(ctx, conn, chcfg)
}

// Lift lifts the suppression of the erasures that id was part of
// (`touchline forget --undo`): every identifier that the same forget
// request suppressed may be stored and linked again. Nothing erased comes
// back. It waits until the resolver of group has passed the request; the
// services following the suppressions topic see it within a second.
func Lift(ctx context.Context, kcfg kafka.Config, group string, id identifiers.Identifier) error {
	return sendForget(ctx, kcfg, group, stitch.LinkRequest{
		ID: fmt.Sprintf("lift-%d", time.Now().UnixNano()), Identifiers: []identifiers.Identifier{id}, At: time.Now(), Forget: true, Lift: true,
	})
}

// sendForget sends a forget (or lift) request and waits until the
// resolver's group has committed past it.
func sendForget(ctx context.Context, kcfg kafka.Config, group string, req stitch.LinkRequest) error {
	cl, err := kafka.NewClient(kcfg, nil)
	if err != nil {
		return err
	}
	defer cl.Close()
	key, value := stitch.EncodeLinkRequest(req)
	if err := kafka.ProduceAndWait(ctx, cl, group, false, &kgo.Record{Topic: kcfg.Topics.IdentityLinks, Key: key, Value: value}); err != nil {
		return fmt.Errorf("having the identity resolver apply the forget request: %w", err)
	}
	return nil
}
