// Command bench measures the ingest service end to end on a real Kafka broker
// and a real ClickHouse server, against two baselines run on the same data in
// the same run: a bare franz-go consume of the topic and a bare clickhouse-go
// batch insert of the same rows. It prints events/s of each, the ratio of the
// ingest service to the slower baseline, and the ingest process's peak RSS.
//
//	go run ./test/bench [-events 200000] [-batch 20000]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/test/testenv"
)

func main() {
	events := flag.Int("events", 200_000, "touchpoints to publish and ingest")
	batch := flag.Int("batch", 20_000, "ingest batch size, also used by the insert baseline")
	profile := flag.String("cpuprofile", "", "write a 5-second CPU profile of the ingest process to this file")
	onCluster := flag.Bool("cluster", false, "also ingest the same touchpoints into a ClickHouse cluster of 2 shards x 2 replicas")
	flag.Parse()
	if err := run(*events, *batch, *profile, *onCluster); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, batch int, profile string, onCluster bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "touchline-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := testenv.Start(ctx, dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	cfg := srv.Config("bench")
	cfg.Ingest.BatchSize = batch
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.PProf = profile != ""
	conn, err := testenv.Prepare(ctx, cfg, 4)
	if err != nil {
		return err
	}
	defer conn.Close()

	fmt.Printf("publishing %d generated touchpoints to %s ...\n", n, cfg.Kafka.Topics.Touchpoints)
	if _, err := testenv.PublishGenerated(ctx, cfg, n, 7, 0, nil); err != nil {
		return err
	}

	records, consumeRate, err := bareConsume(ctx, cfg, n)
	if err != nil {
		return err
	}
	insertRate, err := bareInsert(ctx, cfg, records, batch)
	if err != nil {
		return err
	}
	ingestRate, peak, err := endToEnd(ctx, cfg, conn, dir, n, profile)
	if err != nil {
		return err
	}
	clusterRate, clusterPeak := 0.0, int64(0)
	if onCluster {
		if clusterRate, clusterPeak, err = endToEndOnCluster(ctx, cfg, dir, n); err != nil {
			return err
		}
	}
	slower := min(consumeRate, insertRate)
	fmt.Printf("\n%-44s %12s\n", "measurement", "events/s")
	fmt.Printf("%-44s %12.0f\n", "baseline: bare franz-go consume", consumeRate)
	fmt.Printf("%-44s %12.0f\n", "baseline: bare clickhouse-go batch insert", insertRate)
	fmt.Printf("%-44s %12.0f\n", "ingest service end to end", ingestRate)
	fmt.Printf("\nratio ingest / slower baseline: %.2f (aim: >= 0.5)\n", ingestRate/slower)
	fmt.Printf("ingest peak RSS: %d MiB\n", peak>>20)
	if onCluster {
		fmt.Printf("\n%-44s %12.0f\n", "ingest end to end, 2 x 2 ClickHouse cluster", clusterRate)
		fmt.Printf("ratio cluster / one server: %.2f; ingest peak RSS on the cluster: %d MiB\n", clusterRate/ingestRate, clusterPeak>>20)
	}
	return nil
}

// endToEndOnCluster starts ZooKeeper and a ClickHouse cluster of 2 shards x
// 2 replicas and times the ingest service on the same touchpoints topic,
// with a group of its own, into the cluster.
func endToEndOnCluster(ctx context.Context, cfg config.Config, dir string, n int) (float64, int64, error) {
	fmt.Println("starting a ClickHouse cluster of 2 shards x 2 replicas ...")
	c, err := testenv.StartCluster(ctx, dir, 2, 2)
	if err != nil {
		return 0, 0, err
	}
	defer c.Stop()
	ccfg := cfg
	ccfg.ClickHouse = c.ClickHouseConfig(cfg.ClickHouse.Database)
	ccfg.Ingest.Group += ".cluster"
	ccfg.StateDir += "-cluster"
	ccfg.PProf = false
	conn, err := testenv.Prepare(ctx, ccfg, 4)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	return endToEnd(ctx, ccfg, conn, dir, n, "")
}

// bareConsume reads the whole topic with a plain franz-go consumer.
func bareConsume(ctx context.Context, cfg config.Config, n int) ([]*kgo.Record, float64, error) {
	cl, err := kafka.NewClient(cfg.Kafka, nil, kgo.ConsumeTopics(cfg.Kafka.Topics.Touchpoints),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	records := make([]*kgo.Record, 0, n)
	start := time.Now()
	for len(records) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		fs.EachRecord(func(r *kgo.Record) { records = append(records, r) })
	}
	return records, float64(n) / time.Since(start).Seconds(), nil
}

// bareInsert inserts the rows of records into a touchpoints table of its own
// with plain clickhouse-go batches (PrepareBatch, Append, Send). Building the rows is not timed.
func bareInsert(ctx context.Context, cfg config.Config, records []*kgo.Record, batch int) (float64, error) {
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return 0, err
	}
	rows := make([]clickhouse.TouchpointRow, 0, len(records))
	for _, r := range records {
		tp, rej, err := proc.Touchpoint(ctx, r)
		if err != nil || rej != nil {
			return 0, fmt.Errorf("building baseline rows: %v %v", err, rej)
		}
		rows = append(rows, tp.Row)
	}
	// The baseline writes to a database of its own, so the ingest run
	// starts from an empty table.
	bcfg := cfg.ClickHouse
	bcfg.Database = cfg.ClickHouse.Database + "_baseline"
	if _, err := clickhouse.Migrate(ctx, bcfg, nil); err != nil {
		return 0, err
	}
	bconn, err := clickhouse.Open(ctx, bcfg, nil)
	if err != nil {
		return 0, err
	}
	defer bconn.Close()
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		if err := clickhouse.InsertTouchpoints(ctx, bconn, rows[i:min(i+batch, len(rows))]); err != nil {
			return 0, err
		}
	}
	return float64(len(rows)) / time.Since(start).Seconds(), nil
}

// endToEnd runs the ingest service as its own process and times it from
// start until every touchpoint is in ClickHouse.
func endToEnd(ctx context.Context, cfg config.Config, conn driver.Conn, dir string, n int, profile string) (float64, int64, error) {
	bin, err := testenv.Build(ctx, dir, "ingest")
	if err != nil {
		return 0, 0, err
	}
	cfgPath := filepath.Join(dir, "bench.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	p, err := testenv.StartProcess(bin, filepath.Join(dir, "ingest.log"), "--config", cfgPath)
	if err != nil {
		return 0, 0, err
	}
	defer p.Kill()
	if profile != "" {
		go testenv.SaveProfile(ctx, "http://"+cfg.HTTPAddr+"/debug/pprof/profile?seconds=5", profile)
	}
	var peak int64
	for {
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM touchpoints").Scan(&rows); err != nil {
			return 0, 0, err
		}
		if _, pk, err := p.RSS(); err == nil {
			peak = max(peak, pk)
		}
		if rows >= uint64(n) {
			break
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	rate := float64(n) / time.Since(start).Seconds()
	if _, pk, err := p.RSS(); err == nil {
		peak = max(peak, pk)
	}
	return rate, peak, p.Terminate(time.Minute)
}
