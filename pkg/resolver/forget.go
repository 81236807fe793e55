package resolver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// erasures are the tables a forgotten person is deleted from, with the
// condition on its person ids (first argument) and, for the first two, its
// identifier values (second argument; else the person ids again).
var erasures = []struct{ table, where string }{
	{"touchpoints", "has(?, person_id) OR hasAny(identifier_values, ?)"},
	{"identity_map", "has(?, person_id) OR has(?, identifier_value)"},
	{"identity_merges", "has(?, merged_person_id) OR has(?, surviving_person_id)"},
	{"identity_refusals", "has(?, person_id) OR has(?, other_person_id)"},
	{"person_overrides", "has(?, person_id) OR has(?, surviving_person_id)"},
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
// every local copy, waits until the resolver of group has passed the
// request, then deletes the person's rows from every table that holds them
// and waits for the deletions to finish. Events that carry one of the
// identifiers go too, whatever person they were stored with.
func Forget(ctx context.Context, kcfg kafka.Config, group string, conn driver.Conn, id identifiers.Identifier) (*Erasure, error) {
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
		persons[identity.SingletonID(ids[i])] = true
	}
	for person := range persons {
		e.PersonIDs = append(e.PersonIDs, person)
	}
	sort.Strings(e.PersonIDs)
	if err := forgetInMap(ctx, kcfg, group, identity.LinkRequest{
		ID: fmt.Sprintf("forget-%d", time.Now().UnixNano()), Identifiers: ids, At: time.Now(), Forget: true,
	}); err != nil {
		return nil, err
	}
	for _, x := range erasures {
		args := []any{e.PersonIDs, values}
		if x.table != "touchpoints" && x.table != "identity_map" {
			args[1] = e.PersonIDs
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+x.table+" FINAL WHERE "+x.where, args...).Scan(&n); err != nil {
			return nil, fmt.Errorf("counting the person's rows in %s: %w", x.table, err)
		}
		e.Rows[x.table] = n
		if err := conn.Exec(ctx, "ALTER TABLE "+x.table+" DELETE WHERE "+x.where, args...); err != nil {
			return nil, fmt.Errorf("deleting the person's rows from %s: %w", x.table, err)
		}
	}
	return e, waitForMutations(ctx, conn)
}

// forgetInMap sends a forget request and waits until the resolver's group
// has committed past it.
func forgetInMap(ctx context.Context, kcfg kafka.Config, group string, req identity.LinkRequest) error {
	cl, err := kafka.NewClient(kcfg, nil)
	if err != nil {
		return err
	}
	defer cl.Close()
	key, value := identity.EncodeLinkRequest(req)
	r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: kcfg.Topics.IdentityLinks, Key: key, Value: value}).First()
	if err != nil {
		return fmt.Errorf("sending the forget request: %w", err)
	}
	adm := kadm.NewClient(cl)
	for {
		offsets, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			if o, ok := offsets.Lookup(r.Topic, r.Partition); ok && o.At > r.Offset {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the identity resolver (group %s) to apply the forget request: %w", group, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitForMutations waits until the database has no unfinished mutation.
func waitForMutations(ctx context.Context, conn driver.Conn) error {
	for {
		var pending uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&pending); err != nil {
			return fmt.Errorf("waiting for the deletions: %w", err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the deletions: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
