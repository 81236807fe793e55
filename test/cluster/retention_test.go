package cluster

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// TestClusterRetentionDropsExpiredMonthsEverywhere stores 30 touchpoints in
// each of December 2025, January and February 2026, spread over every
// shard, and runs the retention at 2026-03-15 12:00 UTC with touchpoints
// kept 60 days: a dry run reports December's 30 rows and removes nothing;
// the run drops December on every shard and replica (the shard-local
// tables, on one replica of each shard, not through the distributed DDL
// queue) and leaves January's and February's 60 rows, the replicas of each
// shard agreeing.
func TestClusterRetentionDropsExpiredMonthsEverywhere(t *testing.T) {
	c := theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := c.ClickHouseConfig(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	const perMonth = 30
	var tps []clickhouse.TouchpointRow
	for _, month := range []time.Month{12, 13, 14} {
		for i := range perMonth {
			at := time.Date(2025, month, 1+i%28, 8+i/28, 0, 0, 0, time.UTC)
			tps = append(tps, clickhouse.TouchpointRow{EventID: fmt.Sprintf("e%d-%d", month, i), EventTime: at,
				EventType: "page_view", Channel: "web", PersonID: fmt.Sprintf("p%d", i), IngestedAt: at})
		}
	}
	if err := clickhouse.InsertTouchpoints(ctx, conn, tps); err != nil {
		t.Fatal(err)
	}
	synced(ctx, t, c, cfg.Database)
	// perReplica counts the rows of each month on each replica's
	// shard-local table.
	perReplica := func() map[string]map[uint32]uint64 {
		out := map[string]map[uint32]uint64{}
		for _, r := range c.Replicas() {
			rc, err := clickhouse.Open(ctx, r.Config(cfg.Database), nil)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := rc.Query(ctx, "SELECT toYYYYMM(event_time) AS m, count() FROM touchpoints_local GROUP BY m")
			if err != nil {
				t.Fatal(err)
			}
			months := map[uint32]uint64{}
			for rows.Next() {
				var m uint32
				var n uint64
				if err := rows.Scan(&m, &n); err != nil {
					t.Fatal(err)
				}
				months[m] = n
			}
			rows.Close()
			rc.Close()
			out[fmt.Sprintf("shard %d %s", r.Shard, r.Server.Addr())] = months
		}
		return out
	}
	// sums adds the months of one replica per shard, checking that the
	// replicas of a shard agree.
	sums := func(counts map[string]map[uint32]uint64) map[uint32]uint64 {
		shards := map[int]map[uint32]uint64{}
		total := map[uint32]uint64{}
		for key, months := range counts {
			var shard int
			if _, err := fmt.Sscanf(key, "shard %d", &shard); err != nil {
				t.Fatal(err)
			}
			if seen, ok := shards[shard]; ok {
				if !reflect.DeepEqual(seen, months) {
					t.Errorf("the replicas of shard %d disagree: %v and %v", shard, seen, months)
				}
				continue
			}
			shards[shard] = months
			for m, n := range months {
				total[m] += n
			}
		}
		return total
	}
	before := perReplica()
	for where, months := range before {
		if months[202512] == 0 {
			t.Fatalf("no December touchpoint on %s: the test would not show that every shard is reached", where)
		}
	}
	all := map[uint32]uint64{202512: perMonth, 202601: perMonth, 202602: perMonth}
	if got := sums(before); !reflect.DeepEqual(got, all) {
		t.Fatalf("touchpoints per month before: %v, want %v", got, all)
	}

	cfg.Retention.Touchpoints = 60 * 24 * time.Hour
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	want := []clickhouse.Removal{{Table: "touchpoints", Partition: 202512, Rows: perMonth, Cutoff: time.Date(2026, 1, 14, 12, 0, 0, 0, time.UTC)}}
	for _, dryRun := range []bool{true, false} {
		got, err := clickhouse.Expire(ctx, conn, cfg, now, dryRun, zap.NewNop())
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("dry run %v: %+v, %v; want %+v", dryRun, got, err, want)
		}
		synced(ctx, t, c, cfg.Database)
		if dryRun {
			if after := perReplica(); !reflect.DeepEqual(after, before) {
				t.Fatalf("the dry run removed rows: %v, before %v", after, before)
			}
		}
	}
	after := perReplica()
	for where, months := range after {
		if months[202512] != 0 {
			t.Errorf("%d December touchpoints left on %s", months[202512], where)
		}
	}
	if got, want := sums(after), map[uint32]uint64{202601: perMonth, 202602: perMonth}; !reflect.DeepEqual(got, want) {
		t.Fatalf("touchpoints per month after: %v, want %v", got, want)
	}
	if alters := distributedAlters(ctx, t, conn, cfg.Database); len(alters) != 0 {
		t.Errorf("ALTERs went ON CLUSTER:\n%s", strings.Join(alters, "\n"))
	}
}
