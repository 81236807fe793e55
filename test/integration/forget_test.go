package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/resolver"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// TestForgetRemovesEveryTrace stitches two persons, forgets one by its
// email given in clear, and checks every table and topic forget touches:
// nothing of the forgotten person is left, the other person is intact, and
// the ingest service's local copy of the map no longer knows the person.
func TestForgetRemovesEveryTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 2, nil)
	log := logPath(t)
	startResolver(t, cfgPath, log)
	startIngest(t, cfgPath, log)
	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	send := func(id string, ids map[string]string) {
		t.Helper()
		if err := p.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: id, EventType: "page_view", EventTime: at, Identifiers: ids}); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	send("x1", map[string]string{"anonymous_id": "anon-x"})
	send("x2", map[string]string{"anonymous_id": "anon-x", "customer_id": "cust-x", "email": "X.Person@Example.com"})
	send("x3", map[string]string{"customer_id": "cust-x"})
	send("y1", map[string]string{"anonymous_id": "anon-y", "customer_id": "cust-y"})

	norm, err := identity.DefaultRules().Normalizer("")
	if err != nil {
		t.Fatal(err)
	}
	email, err := norm.Identifier("email", "x.person@example.com")
	if err != nil {
		t.Fatal(err)
	}
	xIDs := []identifiers.Identifier{{Type: "anonymous_id", Value: "anon-x"}, {Type: "customer_id", Value: "cust-x"}, email}
	var xValues, xPersons []string
	for _, x := range xIDs {
		xValues = append(xValues, x.Value)
		xPersons = append(xPersons, identity.SingletonID(x))
	}
	countX := func(query string, args ...any) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Wait until X is stitched and all four events are stored.
	for countX("SELECT count() FROM identity_map FINAL WHERE has(?, identifier_value)", xValues) < 3 ||
		countX("SELECT count() FROM touchpoints FINAL") < 4 {
		if ctx.Err() != nil {
			t.Fatal("the persons were not stitched in time")
		}
		time.Sleep(200 * time.Millisecond)
	}

	out, err := exec.CommandContext(ctx, touchlineBin, "forget", "email: X.Person@Example.com ", "--config", cfgPath).Output()
	if err != nil {
		t.Fatalf("forget: %v\n%s", err, stderrOf(err))
	}
	var erased resolver.Erasure
	if err := json.Unmarshal(out, &erased); err != nil {
		t.Fatalf("forget printed %s: %v", out, err)
	}
	if len(erased.Identifiers) != 3 || erased.Rows["touchpoints"] != 3 || erased.Rows["identity_map"] != 3 ||
		erased.Rows["identity_merges"] != 2 || erased.Rows["person_overrides"] != 2 {
		t.Errorf("forget reported %s", out)
	}

	for table, where := range map[string]string{
		"touchpoints":       "has(?, person_id) OR hasAny(identifier_values, ?)",
		"identity_map":      "has(?, person_id) OR has(?, identifier_value)",
		"identity_merges":   "has(?, merged_person_id) OR has(?, surviving_person_id)",
		"identity_refusals": "has(?, person_id) OR has(?, other_person_id)",
		"person_overrides":  "has(?, person_id) OR has(?, surviving_person_id)",
	} {
		// No FINAL: not even a row waiting for a merge may be left.
		if n := countX("SELECT count() FROM "+table+" WHERE "+where, xPersons, append(xValues, xPersons...)); n != 0 {
			t.Errorf("%s still holds %d rows of the forgotten person", table, n)
		}
	}
	if n := countX("SELECT count() FROM touchpoints FINAL WHERE event_id = 'y1'"); n != 1 {
		t.Errorf("the other person's event is gone")
	}
	inMap := map[string]string{}
	if err := resolver.ReadMap(ctx, cfg.Kafka, zap.NewNop(), func(a identity.Assignment, present bool) {
		if present {
			inMap[string(identity.MapKey(a.Identifier))] = a.Person
		} else {
			delete(inMap, string(identity.MapKey(a.Identifier)))
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, x := range xIDs {
		if person, ok := inMap[string(identity.MapKey(x))]; ok {
			t.Errorf("the identity map topic still maps %s:%s to %s", x.Type, x.Value, person)
		}
	}
	if _, ok := inMap["customer_id:cust-y"]; !ok {
		t.Error("the other person's identifiers left the identity map topic")
	}
	// The ingest service's local copy forgot too: a new event of the customer
	// id is stored as a new person (its own singleton id), not as the
	// forgotten person (anon-x's, first seen).
	for round := 0; ; round++ {
		id := fmt.Sprintf("x-again-%d", round)
		send(id, map[string]string{"customer_id": "cust-x"})
		var person string
		for person == "" && ctx.Err() == nil {
			_ = conn.QueryRow(ctx, "SELECT person_id FROM touchpoints FINAL WHERE event_id = ?", id).Scan(&person)
			time.Sleep(100 * time.Millisecond)
		}
		if person == identity.SingletonID(xIDs[1]) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("a new event of the forgotten anonymous id is still stored as %s", person)
		}
		time.Sleep(time.Second)
	}
}
