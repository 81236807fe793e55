package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/servers"
	"github.com/touchline-io/touchline/test/testenv"
)

// clusterIngest runs the ingest service as a process on topics of the test's
// own, writing to the cluster, with its HTTP endpoints on a free port.
type clusterIngest struct {
	cfg  config.Config
	conn driver.Conn
	proc *testenv.Process
}

func startClusterIngest(ctx context.Context, t *testing.T) *clusterIngest {
	t.Helper()
	cfg := single.Config(uniqueName(t))
	cfg.ClickHouse = cluster.ClickHouseConfig(cfg.ClickHouse.Database)
	cfg.Ingest.BatchSize = 2000
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	conn, err := testenv.Prepare(ctx, cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	path := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, path); err != nil {
		t.Fatal(err)
	}
	proc, err := testenv.StartProcess(touchlineBin, filepath.Join(t.TempDir(), "ingest.log"), "--config", path, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill)
	return &clusterIngest{cfg: cfg, conn: conn, proc: proc}
}

// ready returns the status of the service's /readyz, or 0 when it does not
// answer.
func (c *clusterIngest) ready() int {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + c.cfg.HTTPAddr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// exact waits until the service has committed every record, then checks
// that the cluster holds rows touchpoints with revenue once each (FINAL),
// and that the replicas of every shard hold the same rows.
func (c *clusterIngest) exact(ctx context.Context, t *testing.T, rows uint64, revenue int64) {
	t.Helper()
	if _, err := testenv.WaitTotals(ctx, c.conn, rows); err != nil {
		t.Fatal(err)
	}
	waitCommitted(ctx, t, c.cfg, c.cfg.Ingest.Group, c.cfg.Kafka.Topics.Touchpoints, c.cfg.Kafka.Topics.Spend)
	synced(ctx, t, cluster, c.cfg.ClickHouse.Database)
	got, err := testenv.TouchpointTotals(ctx, c.conn)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != rows || got.Revenue != revenue {
		t.Fatalf("the cluster holds %d touchpoints with revenue %d; want %d and %d", got.Rows, got.Revenue, rows, revenue)
	}
	perShard := map[int]uint64{}
	var sum uint64
	for _, r := range cluster.Replicas() {
		rc, err := clickhouse.Open(ctx, r.Config(c.cfg.ClickHouse.Database), nil)
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		err = rc.QueryRow(ctx, "SELECT count() FROM touchpoints_local FINAL").Scan(&n)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if seen, ok := perShard[r.Shard]; ok && seen != n {
			t.Errorf("the replicas of shard %d hold %d and %d touchpoints", r.Shard, seen, n)
		} else if !ok {
			perShard[r.Shard] = n
			sum += n
		}
	}
	if sum != rows {
		t.Errorf("the shards hold %v touchpoints, %d in all; want %d", perShard, sum, rows)
	}
}

// TestClusterReplicaKilledMidRun kills one replica of the first shard with
// SIGKILL while touchpoints stream in, and starts it again later: the
// cluster holds every touchpoint once, and both replicas of every shard
// hold the same rows.
func TestClusterReplicaKilledMidRun(t *testing.T) {
	theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ing := startClusterIngest(ctx, t)
	victim := cluster.Shards[0][0] // the first address of the configuration, too
	const n, chunk = 100_000, 5_000
	revenue, err := testenv.PublishGenerated(ctx, ing.cfg, n, 11, chunk, func(published int) error {
		switch published {
		case 30_000:
			t.Logf("killing clickhouse %s", victim.Addr())
			return victim.Kill()
		case 70_000:
			t.Logf("starting clickhouse %s again", victim.Addr())
			return restart(ctx, t, victim)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ing.exact(ctx, t, n, revenue)
}

// restart starts a killed replica again. When the kill came between
// writing a part and registering it in ZooKeeper and that part holds most
// of the replica's rows, 18.16 refuses to start; the replica is then
// restored as ClickHouse documents (flags/force_restore_data), which
// detaches the unregistered part and fetches from the other replica. That
// part's insert was never acknowledged, so ingest wrote its rows again
// through the other replica, and the checks after this still demand every
// touchpoint once on both replicas.
func restart(ctx context.Context, t *testing.T, srv *servers.ClickHouse) error {
	err := srv.Start(ctx)
	if err == nil {
		return nil
	}
	refused, lerr := srv.RefusedUnknownParts()
	if lerr != nil || !refused {
		return errors.Join(err, lerr)
	}
	t.Logf("clickhouse %s refused to start on parts ZooKeeper does not know; restoring its replicated tables", srv.Addr())
	if err := srv.ForceRestoreData(); err != nil {
		return err
	}
	return srv.Start(ctx)
}

// TestClusterShardDownForAMinute stops both replicas of the second shard for
// 60 seconds while touchpoints stream in: ingest stops writing, answers 503
// on /readyz, keeps its memory bounded, and once the shard is back it
// resumes by itself, becomes ready, and the cluster holds every touchpoint
// once.
func TestClusterShardDownForAMinute(t *testing.T) {
	theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ing := startClusterIngest(ctx, t)
	const chunk, chunks = 20_000, 5
	revenue, err := testenv.PublishGenerated(ctx, ing.cfg, chunk, 1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.WaitTotals(ctx, ing.conn, chunk); err != nil {
		t.Fatal(err)
	}
	_, baselinePeak, err := ing.proc.RSS()
	if err != nil {
		t.Fatal(err)
	}
	if code := ing.ready(); code != http.StatusOK {
		t.Fatalf("/readyz answered %d before the outage", code)
	}
	shard := cluster.Shards[1]
	for _, srv := range shard {
		if err := srv.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	outageEnd := time.Now().Add(60 * time.Second)
	for i := int64(2); i <= chunks; i++ {
		r, err := testenv.PublishGenerated(ctx, ing.cfg, chunk, i, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		revenue += r
	}
	var peakDuring int64
	notReady := 0
	for time.Now().Before(outageEnd) {
		_, peak, err := ing.proc.RSS()
		if err != nil {
			t.Fatalf("ingest died during the outage: %v", err)
		}
		peakDuring = max(peakDuring, peak)
		if ing.ready() == http.StatusServiceUnavailable {
			notReady++
		}
		time.Sleep(time.Second)
	}
	got, err := testenv.TouchpointTotals(ctx, ing.conn)
	if err == nil {
		t.Logf("%d touchpoints readable while the shard was down", got.Rows)
	}
	if notReady < 40 {
		t.Errorf("/readyz answered 503 in %d of about 60 one-second checks while a shard was down; want nearly all", notReady)
	}
	for _, srv := range shard {
		if err := srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ing.exact(ctx, t, chunk*chunks, revenue)
	if code := ing.ready(); code != http.StatusOK {
		t.Errorf("/readyz answered %d after the shard came back and everything was written", code)
	}
	t.Logf("peak RSS %d MiB before the outage, %d MiB during it", baselinePeak>>20, peakDuring>>20)
	// 80,000 records queued while the shard was down: a service that
	// buffered them would grow by far more than this bound.
	const bound = 64 << 20
	if peakDuring > baselinePeak+bound {
		t.Errorf("peak RSS grew from %d MiB to %d MiB during the outage; bound is +%d MiB", baselinePeak>>20, peakDuring>>20, bound>>20)
	}
}
