package cluster

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// TestClusterMigrateRefusesTheOtherLayout migrates a database for one
// server on a server of the cluster, and another for the cluster: migrate
// refuses the first with the cluster's name and the second without it,
// saying why and where the upgrade is described, and changes neither; run
// again with its own layout, each applies nothing.
func TestClusterMigrateRefusesTheOtherLayout(t *testing.T) {
	c := theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first := c.Replicas()[0]

	lone := first.Config(uniqueName(t) + "_lone")
	if _, err := clickhouse.Migrate(ctx, lone, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	asCluster := c.ClickHouseConfig(lone.Database)
	asCluster.Addr = []string{first.Server.Addr()}
	_, err := clickhouse.Migrate(ctx, asCluster, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "was migrated for one server") || !strings.Contains(err.Error(), "Upgrading to a cluster") {
		t.Fatalf("a single-server database migrated for a cluster: %v", err)
	}

	shared := c.ClickHouseConfig(uniqueName(t) + "_shared")
	migrated(ctx, t, shared)
	alone := first.Config(shared.Database)
	_, err = clickhouse.Migrate(ctx, alone, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "was migrated for a cluster") {
		t.Fatalf("a cluster's database migrated for one server: %v", err)
	}

	for _, cfg := range []clickhouse.Config{lone, shared} {
		if done, err := clickhouse.Migrate(ctx, cfg, zap.NewNop()); err != nil || len(done) != 0 {
			t.Errorf("migrating %s again applied %v (%v), want nothing", cfg.Database, done, err)
		}
	}
}

// TestClusterMigrateAppliesAnInterruptedAddColumnAgain migrates a database
// on the cluster, then puts it back where a run of 0011_alert_currency
// dies after altering the shard-local tables and dropping the Distributed
// alert_notifications: the migration unrecorded, the columns on the
// shards, the Distributed table gone. Migrating again applies 0011 whole,
// and every server has the currency column in all four tables; a
// notification's currency written through the cluster reads back. None of
// the ALTERs (the migrations' ADD COLUMNs, the first run's and the one
// meeting its column, and the DELETE) went through the distributed DDL
// queue (clickhouse.OnEveryShard says why).
func TestClusterMigrateAppliesAnInterruptedAddColumnAgain(t *testing.T) {
	c := theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := c.ClickHouseConfig(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	if err := clickhouse.Delete(ctx, conn, cfg, clickhouse.MigrationsTable, "version = 11"); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.WaitForMutations(ctx, conn, cfg); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "DROP TABLE "+cfg.Database+".alert_notifications ON CLUSTER "+cfg.Cluster); err != nil {
		t.Fatal(err)
	}
	done, err := clickhouse.Migrate(ctx, cfg, zap.NewNop())
	if err != nil || !reflect.DeepEqual(done, []string{"0011_alert_currency"}) {
		t.Fatalf("migrating again applied %v (%v), want 0011_alert_currency", done, err)
	}
	for _, r := range c.Replicas() {
		rc, err := clickhouse.Open(ctx, r.Config(cfg.Database), nil)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		err = rc.QueryRow(ctx, "SELECT groupArray(table) FROM (SELECT table FROM system.columns "+
			"WHERE database = currentDatabase() AND name = 'currency' AND table LIKE 'alert_%' ORDER BY table)").Scan(&tables)
		rc.Close()
		if want := []string{"alert_notifications", "alert_notifications_local", "alert_states", "alert_states_local"}; err != nil || !reflect.DeepEqual(tables, want) {
			t.Errorf("%s: currency columns in %v (%v), want %v", r.Server.Addr(), tables, err, want)
		}
	}
	if err := alerts.NewStore(conn).Record(ctx, []*rules.Notification{{Key: "k", Incident: "i", Status: alerts.Firing, Rule: "r",
		KPI: rules.Revenue, Currency: "USD", At: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	var currency string
	if err := conn.QueryRow(ctx, "SELECT currency FROM alert_notifications").Scan(&currency); err != nil || currency != "USD" {
		t.Errorf("the stored notification's currency is %q (%v), want USD", currency, err)
	}
	if alters := distributedAlters(ctx, t, conn, cfg.Database); len(alters) != 0 {
		t.Errorf("ALTERs went ON CLUSTER:\n%s", strings.Join(alters, "\n"))
	}
}

// distributedDDL is the cluster's distributed DDL queue in ZooKeeper
// (pkg/servers' <distributed_ddl>).
const distributedDDL = "/clickhouse/task_queue/ddl"

// distributedAlters returns the queries of the distributed DDL tasks that
// alter a table of database. It fails the test unless the queue holds some
// task of database (its CREATE TABLEs ON CLUSTER), so that no ALTER among
// them means something.
func distributedAlters(ctx context.Context, t *testing.T, conn driver.Conn, database string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT value FROM system.zookeeper WHERE path = ?", distributedDDL)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var (
		ofDatabase int
		alters     []string
	)
	for rows.Next() {
		var task string
		if err := rows.Scan(&task); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(task, " "+database+".") {
			continue
		}
		ofDatabase++
		if strings.Contains(task, "ALTER TABLE "+database+".") {
			alters = append(alters, task)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if ofDatabase == 0 {
		t.Fatalf("no distributed DDL task of %s under %s: the check of its ALTERs would show nothing", database, distributedDDL)
	}
	return alters
}
