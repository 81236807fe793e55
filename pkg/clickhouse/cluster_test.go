package clickhouse

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestClusterStatementsOfShippedMigrations rewrites every statement of every
// shipped migration, and the migrations table's, and checks each form
// against what a cluster needs.
func TestClusterStatementsOfShippedMigrations(t *testing.T) {
	migrations, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	all := []string{migrationsTable}
	for _, m := range migrations {
		all = append(all, m.Statements...)
	}
	tables, views, mvs, inserts, alters := 0, 0, 0, 0, 0
	for _, stmt := range all {
		out, err := ClusterStatements(stmt, "tl", "c1")
		if err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
		switch {
		case strings.HasPrefix(stmt, "CREATE TABLE"):
			tables++
			name := createTable.FindStringSubmatch(stmt)[1]
			if len(out) != 2 ||
				!strings.HasPrefix(out[0], "CREATE TABLE IF NOT EXISTS tl."+name+"_local ON CLUSTER c1 (") ||
				!strings.Contains(out[0], "ENGINE = Replicated") ||
				!strings.Contains(out[0], "('/clickhouse/tables/{shard}/tl/"+name+"_local', '{replica}'") ||
				!strings.HasPrefix(out[1], "CREATE TABLE IF NOT EXISTS tl."+name+" ON CLUSTER c1 AS tl."+name+"_local\nENGINE = Distributed(c1, tl, "+name+"_local, cityHash64(") {
				t.Errorf("table %s:\n%s", name, strings.Join(out, "\n---\n"))
			}
		case strings.HasPrefix(stmt, "CREATE MATERIALIZED VIEW"):
			mvs++
			if len(out) != 1 || !strings.Contains(out[0], " ON CLUSTER c1 TO tl.") || strings.Contains(out[0], "FROM touchpoints\n") {
				t.Errorf("materialised view:\n%s", out)
			}
		case strings.HasPrefix(stmt, "CREATE VIEW"):
			views++
			if len(out) != 1 || !strings.Contains(out[0], " ON CLUSTER c1 AS") || strings.Contains(out[0], "_local") ||
				regexp.MustCompile(`(FROM|JOIN)\s+[a-z]\w+\b[^.]`).MatchString(out[0]) {
				t.Errorf("view:\n%s", out)
			}
		case strings.HasPrefix(stmt, "ALTER TABLE"):
			alters++
			name := addColumn.FindStringSubmatch(stmt)[1]
			if len(out) != 3 || !strings.HasPrefix(out[0], "ALTER TABLE tl."+name+"_local ADD COLUMN ") ||
				out[1] != "DROP TABLE IF EXISTS tl."+name+" ON CLUSTER c1" ||
				!strings.HasPrefix(out[2], "CREATE TABLE IF NOT EXISTS tl."+name+" ON CLUSTER c1 AS tl."+name+"_local\nENGINE = Distributed(c1, tl, "+name+"_local, cityHash64(") {
				t.Errorf("alter of %s:\n%s", name, strings.Join(out, "\n---\n"))
			}
		case strings.HasPrefix(stmt, "INSERT"):
			inserts++
			if !reflect.DeepEqual(out, []string{stmt}) {
				t.Errorf("insert changed:\n%s", out)
			}
		default:
			t.Errorf("unexpected statement %q", stmt)
		}
	}
	// 0001-0011: touchpoints, spend, channel_kpis_daily, person_overrides,
	// identity_map, identity_merges, identity_refusals, alert_states,
	// alert_notifications, segment_changes, exchange_rates,
	// activation_deliveries, activation_erasures, channel_revenue_daily,
	// plus touchline_migrations; views touchpoints_dedup, spend_current,
	// channel_kpis, touchpoints_resolved, segment_members, channel_money;
	// two materialised views and their backfills; 0011: the currency of
	// alert_notifications and alert_states.
	if tables != 15 || views != 6 || mvs != 2 || inserts != 2 || alters != 2 {
		t.Errorf("tables, views, materialised views, inserts, alters = %d, %d, %d, %d, %d; want 15, 6, 2, 2, 2", tables, views, mvs, inserts, alters)
	}
}

// TestClusterStatementsExact checks rewrites to the character: a
// ReplacingMergeTree with a version and a partition key, the materialised
// view on the shard-local tables, a single-column ORDER BY, a view, and an
// ADD COLUMN on both tables; other ALTERs have no cluster form yet.
func TestClusterStatementsExact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{{
		in: "CREATE TABLE IF NOT EXISTS touchpoints\n(\n    event_id String,\n    event_time DateTime('UTC'),\n    event_type String,\n    ingested_at DateTime('UTC')\n)\n" +
			"ENGINE = ReplacingMergeTree(ingested_at)\nPARTITION BY toYYYYMM(event_time)\nORDER BY (event_type, event_time, event_id)",
		want: "CREATE TABLE IF NOT EXISTS tl.touchpoints_local ON CLUSTER c1 (\n    event_id String,\n    event_time DateTime('UTC'),\n    event_type String,\n    ingested_at DateTime('UTC')\n)\n" +
			"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tl/touchpoints_local', '{replica}', ingested_at)\nPARTITION BY toYYYYMM(event_time)\nORDER BY (event_type, event_time, event_id)" +
			"\n---\nCREATE TABLE IF NOT EXISTS tl.touchpoints ON CLUSTER c1 AS tl.touchpoints_local\n" +
			"ENGINE = Distributed(c1, tl, touchpoints_local, cityHash64(event_type, event_time, event_id))",
	}, {
		in: "CREATE MATERIALIZED VIEW IF NOT EXISTS kpis_mv TO kpis AS\nSELECT toDate(event_time) AS date, uniqExactState(event_id) AS n\nFROM touchpoints\nGROUP BY date",
		want: "CREATE MATERIALIZED VIEW IF NOT EXISTS tl.kpis_mv ON CLUSTER c1 TO tl.kpis_local AS\n" +
			"SELECT toDate(event_time) AS date, uniqExactState(event_id) AS n\nFROM tl.touchpoints_local\nGROUP BY date",
	}, {
		in: "CREATE TABLE IF NOT EXISTS person_overrides\n(\n    person_id String\n)\nENGINE = AggregatingMergeTree()\nORDER BY person_id",
		want: "CREATE TABLE IF NOT EXISTS tl.person_overrides_local ON CLUSTER c1 (\n    person_id String\n)\n" +
			"ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tl/person_overrides_local', '{replica}')\nORDER BY person_id" +
			"\n---\nCREATE TABLE IF NOT EXISTS tl.person_overrides ON CLUSTER c1 AS tl.person_overrides_local\n" +
			"ENGINE = Distributed(c1, tl, person_overrides_local, cityHash64(person_id))",
	}, {
		in:   "CREATE VIEW IF NOT EXISTS spend_current AS\nSELECT * FROM spend FINAL",
		want: "CREATE VIEW IF NOT EXISTS tl.spend_current ON CLUSTER c1 AS\nSELECT * FROM tl.spend FINAL",
	}, {
		in: "ALTER TABLE alert_notifications ADD COLUMN currency String DEFAULT ''",
		want: "ALTER TABLE tl.alert_notifications_local ADD COLUMN currency String DEFAULT ''" +
			"\n---\nDROP TABLE IF EXISTS tl.alert_notifications ON CLUSTER c1" +
			"\n---\nCREATE TABLE IF NOT EXISTS tl.alert_notifications ON CLUSTER c1 AS tl.alert_notifications_local\n" +
			"ENGINE = Distributed(c1, tl, alert_notifications_local, cityHash64(rule, incident, idempotency_key))",
	}} {
		out, err := ClusterStatements(tc.in, "tl", "c1")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(out, "\n---\n"); got != tc.want {
			t.Errorf("got\n%s\nwant\n%s", got, tc.want)
		}
	}
	for _, stmt := range []string{"ALTER TABLE no_such_table ADD COLUMN x String", "ALTER TABLE touchpoints DROP COLUMN x", "ALTER TABLE touchpoints MODIFY COLUMN x UInt8", "OPTIMIZE TABLE touchpoints FINAL"} {
		if _, err := ClusterStatements(stmt, "tl", "c1"); err == nil {
			t.Errorf("%q was given a cluster form; want an error until one is written", stmt)
		}
	}
}

// TestSingleServerStatementsUnchanged checks that without a cluster the
// migrator runs every statement exactly as shipped.
func TestSingleServerStatementsUnchanged(t *testing.T) {
	migrations, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations {
		got, err := statements(m.Statements, Config{Database: "tl"})
		if err != nil || !reflect.DeepEqual(got, m.Statements) {
			t.Errorf("migration %d: statements changed without a cluster (%v)", m.Version, err)
		}
	}
}

// TestClusterSettings checks that a caller's setting overrides the
// cluster's and the cluster's stay otherwise.
func TestClusterSettings(t *testing.T) {
	if got := withClusterSettings(nil); !reflect.DeepEqual(map[string]any(got), map[string]any{"insert_distributed_sync": 1, "prefer_localhost_replica": 0}) {
		t.Errorf("cluster settings %v", got)
	}
	got := withClusterSettings(map[string]any{"max_execution_time": 30, "insert_distributed_sync": 0})
	want := map[string]any{"max_execution_time": 30, "insert_distributed_sync": 0, "prefer_localhost_replica": 0}
	if !reflect.DeepEqual(map[string]any(got), want) {
		t.Errorf("settings %v, want %v", got, want)
	}
	if err := (Config{Addr: []string{"a:1"}, Database: "tl", DialTimeout: 1, QueryTimeout: 1, MaxOpenConns: 1, Cluster: "a-b"}).Validate(); err == nil {
		t.Error("cluster name a-b accepted")
	}
}
