package servers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClusterMemberConfig renders a cluster member's configuration and
// checks what a replica of a cluster needs: its macros, ZooKeeper, the
// cluster's shards with internal replication, distributed DDL, an
// interserver port, and the profile settings touchline needs on a cluster;
// a lone server's configuration has none of them.
func TestClusterMemberConfig(t *testing.T) {
	dir := t.TempDir()
	opts := ClickHouseOptions{Dir: dir, TCPPort: 9001, HTTPPort: 8124, Cluster: &ClusterMember{
		Name: "c1", Shard: "02", Replica: "s02r1", Shards: [][]int{{9001, 9002}, {9003, 9004}}, ZooKeeperPort: 2181, InterserverPort: 9009,
	}}
	if err := writeClickHouseConfig(opts); err != nil {
		t.Fatal(err)
	}
	config, _ := os.ReadFile(filepath.Join(dir, "config.xml"))
	users, _ := os.ReadFile(filepath.Join(dir, "users.xml"))
	for _, want := range []string{
		"<shard>02</shard>", "<replica>s02r1</replica>", "<port>2181</port>", "<interserver_http_port>9009</interserver_http_port>",
		"<c1>", "<internal_replication>true</internal_replication>", "<port>9004</port>", "<distributed_ddl>",
	} {
		if !strings.Contains(string(config), want) {
			t.Errorf("config.xml lacks %s", want)
		}
	}
	if strings.Count(string(config), "<shard>") != 3 { // the macro and two shards
		t.Errorf("config.xml has %d <shard> elements, want 3", strings.Count(string(config), "<shard>"))
	}
	if strings.Count(string(users), "<distributed_product_mode>global</distributed_product_mode>") != 2 {
		t.Errorf("users.xml does not set distributed_product_mode in both profiles:\n%s", users)
	}
	opts.Cluster = nil
	if err := writeClickHouseConfig(opts); err != nil {
		t.Fatal(err)
	}
	config, _ = os.ReadFile(filepath.Join(dir, "config.xml"))
	users, _ = os.ReadFile(filepath.Join(dir, "users.xml"))
	if strings.Contains(string(config), "zookeeper") || strings.Contains(string(users), "distributed_product_mode") {
		t.Error("a lone server's configuration names a cluster setting")
	}
}

// TestRestoreAfterUnknownParts: a server whose last start logged the
// refusal to start on parts ZooKeeper does not know is told so, one whose
// last start did not (or an earlier one did) is not, and ForceRestoreData
// leaves the flag ClickHouse reads at its next start.
func TestRestoreAfterUnknownParts(t *testing.T) {
	dir := t.TempDir()
	c := &ClickHouse{opts: ClickHouseOptions{Dir: dir}}
	if _, err := c.RefusedUnknownParts(); err == nil {
		t.Error("no error log, and no error")
	}
	if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "log", "clickhouse-server.err.log")
	for _, tc := range []struct {
		log  string
		want bool
	}{
		{"2026.12.04 19:46:04 <Error> Application: DB::Exception: Cannot create table from metadata file x.sql, error: DB::Exception: " +
			"The local set of parts of table t.touchpoints_local doesn't look like the set of parts in ZooKeeper: 934.00 rows", true},
		{"2026.12.04 19:46:04 <Error> Application: DB::Exception: Address already in use", false},
		{"2026.12.04 19:46:04 <Error> Application: DB::Exception: Cannot create table from metadata file x.sql, error: DB::Exception: " +
			"The local set of parts of table t.touchpoints_local doesn't look like the set of parts in ZooKeeper: 934.00 rows", true},
	} {
		if err := os.WriteFile(logPath, []byte(tc.log), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := c.RefusedUnknownParts(); err != nil || got != tc.want {
			t.Errorf("RefusedUnknownParts on %q = %v, %v; want %v", tc.log, got, err, tc.want)
		}
	}
	// A refusal an earlier start logged is not the last start's.
	c.markErrorLog()
	if got, err := c.RefusedUnknownParts(); err != nil || got {
		t.Errorf("a refusal logged before the last start counts: %v, %v", got, err)
	}
	if err := c.ForceRestoreData(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "flags", "force_restore_data")); err != nil {
		t.Errorf("the flag is not there: %v", err)
	}
}
