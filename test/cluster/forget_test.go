package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/identity"
)

// TestClusterForgetErasesEveryShardAndReplica stores two persons' rows in
// every table forget erases, the first person's spread over every shard,
// erases the first person as `touchline forget` does (identity.EraseRows)
// and reads every replica's shard-local tables: none of her rows is left
// anywhere, and all of the other person's are.
func TestClusterForgetErasesEveryShardAndReplica(t *testing.T) {
	c := theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := c.ClickHouseConfig(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const perPerson = 40
	var tps []clickhouse.TouchpointRow
	var ids []clickhouse.IdentityMapRow
	var changes []clickhouse.SegmentChangeRow
	for _, p := range []string{"ann", "bob"} {
		tps = append(tps, pageViews(p, perPerson, at)...)
		ids = append(ids, clickhouse.IdentityMapRow{IdentifierType: "email", IdentifierValue: "h_" + p, PersonID: "p_" + p, FirstSeen: at, Version: 1},
			clickhouse.IdentityMapRow{IdentifierType: "device_id", IdentifierValue: "d_" + p, PersonID: "p_" + p, FirstSeen: at, Version: 1})
		changes = append(changes, clickhouse.SegmentChangeRow{Segment: "s", PersonID: "p_" + p, Entered: 1, ChangedAt: at, WrittenAt: at})
	}
	// A touchpoint stored under another person id that carries ann's
	// identifier goes too.
	tps = append(tps, clickhouse.TouchpointRow{EventID: "x-1", EventTime: at, EventType: "page_view", PersonID: "p_other",
		IdentifierTypes: []string{"email"}, IdentifierValues: []string{"h_ann"}, IngestedAt: at})
	overrides := []clickhouse.PersonOverrideRow{{PersonID: "p_ann2", SurvivingPersonID: "p_ann", MergedAt: at, Version: 1},
		{PersonID: "p_bob2", SurvivingPersonID: "p_bob", MergedAt: at, Version: 1}}
	merges := []clickhouse.IdentityMergeRow{{MergedPersonID: "p_ann2", SurvivingPersonID: "p_ann", RequestID: "r1", MergedAt: at, Version: 1},
		{MergedPersonID: "p_bob2", SurvivingPersonID: "p_bob", RequestID: "r2", MergedAt: at, Version: 1}}
	for _, err := range []error{clickhouse.InsertTouchpoints(ctx, conn, tps), clickhouse.InsertIdentityMap(ctx, conn, ids),
		clickhouse.InsertSegmentChanges(ctx, conn, changes), clickhouse.InsertPersonOverrides(ctx, conn, overrides),
		clickhouse.InsertIdentityMerges(ctx, conn, merges)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	synced(ctx, t, c, cfg.Database)
	// Before: ann's touchpoints are on every shard, on both replicas.
	count := func(query string) map[string]uint64 {
		out := map[string]uint64{}
		for _, r := range c.Replicas() {
			rc, err := clickhouse.Open(ctx, r.Config(cfg.Database), nil)
			if err != nil {
				t.Fatal(err)
			}
			var n uint64
			if err := rc.QueryRow(ctx, query).Scan(&n); err != nil {
				t.Fatalf("%s on %s: %v", query, r.Server.Addr(), err)
			}
			rc.Close()
			out[fmt.Sprintf("shard %d %s", r.Shard, r.Server.Addr())] = n
		}
		return out
	}
	for where, n := range count("SELECT count() FROM touchpoints_local WHERE person_id = 'p_ann'") {
		if n == 0 {
			t.Fatalf("no touchpoint of ann on %s before the erasure: the test would not show that every shard is reached", where)
		}
	}

	rows, err := identity.EraseRows(ctx, conn, cfg, []string{"p_ann", "p_ann2"}, []string{"h_ann", "d_ann"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"touchpoints": perPerson + 1, "identity_map": 2, "identity_merges": 1, "identity_refusals": 0,
		"person_overrides": 1, "segment_changes": 1, "activation_deliveries": 0}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("erased rows %v, want %v", rows, want)
	}
	// After, on every replica: nothing of ann; bob's rows, summed over the
	// shards, all there.
	for _, tc := range []struct {
		table, ann, bob string
		bobRows         uint64
	}{
		{"touchpoints_local", "person_id = 'p_ann' OR has(identifier_values, 'h_ann')", "person_id = 'p_bob'", perPerson},
		{"identity_map_local", "person_id = 'p_ann'", "person_id = 'p_bob'", 2},
		{"identity_merges_local", "surviving_person_id = 'p_ann'", "surviving_person_id = 'p_bob'", 1},
		{"person_overrides_local", "surviving_person_id = 'p_ann'", "surviving_person_id = 'p_bob'", 1},
		{"segment_changes_local", "person_id = 'p_ann'", "person_id = 'p_bob'", 1},
	} {
		for where, n := range count("SELECT count() FROM " + tc.table + " WHERE " + tc.ann) {
			if n != 0 {
				t.Errorf("%s on %s: %d rows of ann after the erasure", tc.table, where, n)
			}
		}
		// Both replicas of a shard hold the same rows; the shards' sum is
		// bob's.
		perShard := map[int]uint64{}
		var total uint64
		for key, n := range count("SELECT count() FROM " + tc.table + " FINAL WHERE " + tc.bob) {
			var shard int
			if _, err := fmt.Sscanf(key, "shard %d", &shard); err != nil {
				t.Fatal(err)
			}
			if seen, ok := perShard[shard]; ok && seen != n {
				t.Errorf("%s: the replicas of shard %d disagree: %d and %d rows of bob", tc.table, shard, seen, n)
			} else if !ok {
				perShard[shard] = n
				total += n
			}
		}
		if total != tc.bobRows {
			t.Errorf("%s: bob has %d rows over the shards (%v), want %d", tc.table, total, perShard, tc.bobRows)
		}
	}
}

// TestClusterDeleteSkipsADeadReplica kills the first replica of the first
// shard, the one each shard's ALTER goes to first, and deletes a person's
// touchpoints through a connection to the other servers: the deletion is
// submitted on the shard's other replica (it would otherwise wait for the
// dead server until the distributed DDL timeout and fail), and once the
// dead replica is back it applies the deletion too, from the replication
// log. WaitForMutations, called as soon as the replica has started again,
// returns only once it has: every replica then holds the other person's
// rows and none of hers (a restarted replica lists the mutation only once
// it has read it from ZooKeeper, so its own list would have passed at once).
func TestClusterDeleteSkipsADeadReplica(t *testing.T) {
	c := theCluster(t)
	if len(c.Shards[0]) < 2 {
		t.Skip("the first shard has one replica")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := c.ClickHouseConfig(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := clickhouse.InsertTouchpoints(ctx, conn, append(pageViews("ann", 20, at), pageViews("bob", 20, at)...)); err != nil {
		t.Fatal(err)
	}
	synced(ctx, t, c, cfg.Database)

	victim := c.Shards[0][0]
	t.Logf("killing clickhouse %s", victim.Addr())
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	others := cfg
	others.Addr = nil
	for _, addr := range cfg.Addr {
		if addr != victim.Addr() {
			others.Addr = append(others.Addr, addr)
		}
	}
	oc, err := clickhouse.Open(ctx, others, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	if err := clickhouse.Delete(ctx, oc, others, "touchpoints", "person_id = ?", "p_ann"); err != nil {
		t.Fatalf("deleting with a dead replica: %v", err)
	}
	t.Logf("starting clickhouse %s again", victim.Addr())
	if err := restart(ctx, t, victim); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.WaitForMutations(ctx, oc, others); err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Replicas() {
		rc, err := clickhouse.Open(ctx, r.Config(cfg.Database), nil)
		if err != nil {
			t.Fatal(err)
		}
		var ann, bob uint64
		err = rc.QueryRow(ctx, "SELECT countIf(person_id = 'p_ann'), countIf(person_id = 'p_bob') FROM touchpoints_local").Scan(&ann, &bob)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ann != 0 || bob == 0 {
			t.Errorf("shard %d %s: %d of ann's touchpoints and %d of bob's, want none and some", r.Shard, r.Server.Addr(), ann, bob)
		}
	}
}

// pageViews returns n page views of person p (person id p_<p>, email hash
// h_<p>), an hour apart from at, which spread over every shard.
func pageViews(p string, n int, at time.Time) []clickhouse.TouchpointRow {
	out := make([]clickhouse.TouchpointRow, n)
	for i := range out {
		out[i] = clickhouse.TouchpointRow{EventID: fmt.Sprintf("%s-%d", p, i), EventTime: at.Add(time.Duration(i) * time.Hour),
			EventType: "page_view", Channel: "web", PersonID: "p_" + p,
			IdentifierTypes: []string{"email"}, IdentifierValues: []string{"h_" + p}, IngestedAt: at}
	}
	return out
}
