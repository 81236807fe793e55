// Command bench measures the ingest service end to end on a real Kafka broker
// and a real ClickHouse server against, on the same data in the same run,
// two bare baselines (a franz-go consume of the topic and a clickhouse-go
// batch insert of the same rows) and the peer users would pick instead:
// ClickHouse's own Kafka engine loading the same rows, already normalised,
// as JSONEachRow into the same tables and views, with its default single
// consumer and with one consumer per core. It prints events/s of each, the CPU
// time per event of each process taking part (this process for the
// baselines, the ingest service, ClickHouse and Kafka, from /proc), the
// ratios against the aims, and the ingest process's peak RSS.
//
//	go run ./test/bench [-events 1000000] [-batch 20000]
package main

import (
	"context"
	"errors"
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
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/test/testenv"
)

func main() {
	events := flag.Int("events", 1_000_000, "touchpoints to publish and ingest")
	batch := flag.Int("batch", 20_000, "ingest batch size, also the insert baseline's and the Kafka engine's block size")
	profile := flag.String("cpuprofile", "", "write a 5-second CPU profile of the ingest process to this file")
	onCluster := flag.Bool("cluster", false, "also ingest the same touchpoints into a ClickHouse cluster of 2 shards x 2 replicas")
	flag.Parse()
	if err := run(*events, *batch, *profile, *onCluster); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// partitions is the partition count of the touchpoints topic and of the
// Kafka engine's topic.
const partitions = 4

// The processes whose CPU time a measurement counts, by role. The client
// is this process for the baselines and the ingest service end to end.
const (
	client = iota
	server // ClickHouse
	broker // Kafka
	roles
)

// measurement is the outcome of one way of loading the touchpoints.
type measurement struct {
	name string
	rate float64 // events/s
	// cpu is the CPU time per event of each role; zero for a role not
	// counted, which report prints as "-".
	cpu     [roles]time.Duration
	counted [roles]bool
	// upkeep is the part of the broker's CPU time per event that its
	// JVM spent collecting garbage and compiling (testenv.JVMUpkeepTime).
	upkeep time.Duration
}

// box is the CPU time per event of every process counted (a role not
// counted has none).
func (m measurement) box() time.Duration {
	var sum time.Duration
	for _, c := range m.cpu {
		sum += c
	}
	return sum
}

// meter reads the CPU time of processes around a measurement.
type meter struct {
	pids   [roles]int // 0: not counted
	start  [roles]time.Duration
	upkeep time.Duration // the broker's JVM upkeep at the start
}

// startMeter reads the CPU time of the processes of pids (by role; 0 for
// a role not taking part) at the start of a measurement.
func startMeter(pids [roles]int) (*meter, error) {
	m := &meter{pids: pids}
	for r, pid := range pids {
		if pid == 0 {
			continue
		}
		var err error
		if m.start[r], err = testenv.CPUTime(pid); err != nil {
			return nil, err
		}
	}
	if pid := pids[broker]; pid != 0 {
		var err error
		if m.upkeep, err = testenv.JVMUpkeepTime(pid); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// finish returns the measurement of n events loaded in elapsed, with the
// CPU time each process used since startMeter.
func (m *meter) finish(name string, n int, elapsed time.Duration) (measurement, error) {
	out := measurement{name: name, rate: float64(n) / elapsed.Seconds()}
	for r, pid := range m.pids {
		if pid == 0 {
			continue
		}
		end, err := testenv.CPUTime(pid)
		if err != nil {
			return measurement{}, err
		}
		out.cpu[r], out.counted[r] = (end-m.start[r])/time.Duration(n), true
	}
	if pid := m.pids[broker]; pid != 0 {
		end, err := testenv.JVMUpkeepTime(pid)
		if err != nil {
			return measurement{}, err
		}
		out.upkeep = (end - m.upkeep) / time.Duration(n)
	}
	return out, nil
}

func run(n, batch int, profile string, onCluster bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir, err := testenv.BenchDir("touchline-bench-")
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
	conn, err := testenv.Prepare(ctx, cfg, partitions)
	if err != nil {
		return err
	}
	defer conn.Close()

	fmt.Printf("publishing %d generated touchpoints to %s ...\n", n, cfg.Kafka.Topics.Touchpoints)
	if _, err := testenv.PublishGenerated(ctx, cfg, n, 7, 0, nil); err != nil {
		return err
	}

	self, ch, kf := os.Getpid(), srv.ClickHouse.Pid(), srv.Kafka.Pid()
	records, consume, err := bareConsume(ctx, cfg, n, [roles]int{client: self, broker: kf})
	if err != nil {
		return err
	}
	rows, err := touchpointRows(ctx, cfg, records)
	if err != nil {
		return err
	}
	insert, err := bareInsert(ctx, cfg, rows, batch, [roles]int{client: self, server: ch})
	if err != nil {
		return err
	}
	// Each measurement starts once the merges of the one before have
	// ended, so that the server's CPU time is its own.
	if _, err := testenv.Settle(ctx, conn, cfg.ClickHouse.Database+"_baseline"); err != nil {
		return err
	}
	ingest, peak, err := endToEnd(ctx, cfg, conn, dir, n, profile, [roles]int{server: ch, broker: kf})
	if err != nil {
		return err
	}
	if _, err := testenv.Settle(ctx, conn, cfg.ClickHouse.Database); err != nil {
		return err
	}
	topic := cfg.Kafka.Topics.Touchpoints + ".json"
	if err := publishJSON(ctx, cfg, topic, rows); err != nil {
		return err
	}
	var engines []measurement
	for _, consumers := range engineConsumers() {
		var engine measurement
		attempt := 1
		for ; ; attempt++ {
			engine, err = kafkaEngine(ctx, cfg, topic, len(rows), batch, consumers, attempt, [roles]int{server: ch, broker: kf})
			if !errors.Is(err, errRedelivered) || attempt == engineAttempts {
				break
			}
			fmt.Printf("%v (attempt %d of %d); loading it again, into a fresh database by a fresh consumer group\n", err, attempt, engineAttempts)
			if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.ClickHouse.Database+engineSuffix(consumers, attempt)); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		if _, err := testenv.Settle(ctx, conn, cfg.ClickHouse.Database+engineSuffix(consumers, attempt)); err != nil {
			return err
		}
		engines = append(engines, engine)
	}
	var cluster measurement
	var clusterPeak int64
	if onCluster {
		if cluster, clusterPeak, err = endToEndOnCluster(ctx, cfg, dir, n, kf); err != nil {
			return err
		}
	}
	report(append([]measurement{consume, insert, ingest}, engines...))
	fmt.Printf("\nratio ingest / slower baseline: %.2f (aim: >= 0.5)\n", ingest.rate/min(consume.rate, insert.rate))
	for _, engine := range engines {
		fmt.Printf("ratio ingest / %s: %.2f (aim: >= 2); its box %s\n", engine.name, ingest.rate/engine.rate, micros(engine.box()))
	}
	fmt.Printf("CPU per event: ingest process %s (aim: <= 12µs), whole box %s (aim: <= 20µs)\n",
		micros(ingest.cpu[client]), micros(ingest.box()))
	fmt.Printf("ingest peak RSS: %d MiB (aim: <= 500 MiB)\n", peak>>20)
	if onCluster {
		fmt.Printf("\n%-44s %12.0f\n", "ingest end to end, 2 x 2 ClickHouse cluster", cluster.rate)
		fmt.Printf("ratio cluster / one server: %.2f; ingest peak RSS on the cluster: %d MiB\n", cluster.rate/ingest.rate, clusterPeak>>20)
	}
	return nil
}

// report prints events/s and the CPU time per event of each process of
// every measurement.
func report(ms []measurement) {
	fmt.Printf("\n%-44s %10s   %s\n", "", "", "CPU time per event")
	fmt.Printf("%-44s %10s %10s %10s %10s %10s\n", "measurement", "events/s", "client", "ClickHouse", "Kafka", "box")
	for _, m := range ms {
		fmt.Printf("%-44s %10.0f", m.name, m.rate)
		for r := range roles {
			if m.counted[r] {
				fmt.Printf(" %10s", micros(m.cpu[r]))
			} else {
				fmt.Printf(" %10s", "-")
			}
		}
		fmt.Printf(" %10s\n", micros(m.box()))
	}
	fmt.Println("client: this process for the baselines, the ingest process end to end; box: the sum of the row")
	fmt.Println("of the Kafka column, what the broker's JVM spent collecting garbage and compiling:")
	for _, m := range ms {
		if m.counted[broker] {
			fmt.Printf("  %-42s %10s of %s\n", m.name, micros(m.upkeep), micros(m.cpu[broker]))
		}
	}
}

// micros writes d in microseconds with one decimal.
func micros(d time.Duration) string {
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}

// endToEndOnCluster starts ZooKeeper and a ClickHouse cluster of 2 shards x
// 2 replicas and times the ingest service on the same touchpoints topic,
// with a group of its own, into the cluster; it counts the CPU of the
// ingest service and of Kafka (kafkaPid), not of the four servers.
func endToEndOnCluster(ctx context.Context, cfg config.Config, dir string, n, kafkaPid int) (measurement, int64, error) {
	fmt.Println("starting a ClickHouse cluster of 2 shards x 2 replicas ...")
	c, err := testenv.StartCluster(ctx, dir, 2, 2)
	if err != nil {
		return measurement{}, 0, err
	}
	defer c.Stop()
	ccfg := cfg
	ccfg.ClickHouse = c.ClickHouseConfig(cfg.ClickHouse.Database)
	ccfg.Ingest.Group += ".cluster"
	ccfg.StateDir += "-cluster"
	ccfg.PProf = false
	conn, err := testenv.Prepare(ctx, ccfg, partitions)
	if err != nil {
		return measurement{}, 0, err
	}
	defer conn.Close()
	return endToEnd(ctx, ccfg, conn, dir, n, "", [roles]int{broker: kafkaPid})
}

// bareConsume reads the whole topic with a plain franz-go consumer.
func bareConsume(ctx context.Context, cfg config.Config, n int, pids [roles]int) ([]*kgo.Record, measurement, error) {
	cl, err := kafka.NewClient(cfg.Kafka, nil, kgo.ConsumeTopics(cfg.Kafka.Topics.Touchpoints),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, measurement{}, err
	}
	defer cl.Close()
	records := make([]*kgo.Record, 0, n)
	m, err := startMeter(pids)
	if err != nil {
		return nil, measurement{}, err
	}
	start := time.Now()
	for len(records) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, measurement{}, err
		}
		fs.EachRecord(func(r *kgo.Record) { records = append(records, r) })
	}
	out, err := m.finish("baseline: bare franz-go consume", n, time.Since(start))
	return records, out, err
}

// touchpointRows converts records to rows with the ingest service's own
// processor.
func touchpointRows(ctx context.Context, cfg config.Config, records []*kgo.Record) ([]clickhouse.TouchpointRow, error) {
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return nil, err
	}
	rows := make([]clickhouse.TouchpointRow, 0, len(records))
	for _, r := range records {
		var tp enrich.Touchpoint
		if ok, rej, err := proc.Touchpoint(ctx, r, &tp); !ok {
			return nil, fmt.Errorf("building baseline rows: %v %v", err, rej)
		}
		rows = append(rows, tp.Row)
	}
	return rows, nil
}

// bareInsert inserts rows into a touchpoints table of its own with plain
// clickhouse-go batches of batch rows, column by column as ingest does.
func bareInsert(ctx context.Context, cfg config.Config, rows []clickhouse.TouchpointRow, batch int, pids [roles]int) (measurement, error) {
	// The baseline writes to a database of its own, so the ingest run
	// starts from an empty table.
	bconn, err := openFresh(ctx, cfg, "_baseline")
	if err != nil {
		return measurement{}, err
	}
	defer bconn.Close()
	m, err := startMeter(pids)
	if err != nil {
		return measurement{}, err
	}
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		if err := clickhouse.InsertTouchpoints(ctx, bconn, rows[i:min(i+batch, len(rows))]); err != nil {
			return measurement{}, err
		}
	}
	return m.finish("baseline: bare clickhouse-go batch insert", len(rows), time.Since(start))
}

// openFresh migrates the database named after cfg's with suffix and opens
// a connection to it.
func openFresh(ctx context.Context, cfg config.Config, suffix string) (driver.Conn, error) {
	ccfg := cfg.ClickHouse
	ccfg.Database += suffix
	if _, err := clickhouse.Migrate(ctx, ccfg, nil); err != nil {
		return nil, err
	}
	return clickhouse.Open(ctx, ccfg, nil)
}

// endToEnd runs the ingest service as its own process and times it from
// start until every touchpoint is in ClickHouse; pids are the servers
// whose CPU it counts besides the service's (the client).
func endToEnd(ctx context.Context, cfg config.Config, conn driver.Conn, dir string, n int, profile string, pids [roles]int) (measurement, int64, error) {
	bin, err := testenv.Build(ctx, dir, "ingest")
	if err != nil {
		return measurement{}, 0, err
	}
	cfgPath := filepath.Join(dir, "bench.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		return measurement{}, 0, err
	}
	m, err := startMeter(pids)
	if err != nil {
		return measurement{}, 0, err
	}
	start := time.Now()
	p, err := testenv.StartProcess(bin, filepath.Join(dir, "ingest.log"), "--config", cfgPath)
	if err != nil {
		return measurement{}, 0, err
	}
	defer p.Kill()
	// The service's CPU time counts from its start, from zero.
	m.pids[client] = p.Pid()
	if profile != "" {
		go testenv.SaveProfile(ctx, "http://"+cfg.HTTPAddr+"/debug/pprof/profile?seconds=5", profile)
	}
	var peak int64
	if err := waitRows(ctx, conn, n, func() {
		if _, pk, err := p.RSS(); err == nil {
			peak = max(peak, pk)
		}
	}); err != nil {
		return measurement{}, 0, err
	}
	out, err := m.finish("ingest service end to end", n, time.Since(start))
	if err != nil {
		return measurement{}, 0, err
	}
	if _, pk, err := p.RSS(); err == nil {
		peak = max(peak, pk)
	}
	return out, peak, p.Terminate(time.Minute)
}

// stallTimeout bounds how long waitRows waits without a new row.
const stallTimeout = time.Minute

// waitRows polls the touchpoints table of conn every 50 ms until it holds
// at least n rows, calling each (when not nil) at every poll. It fails when
// the count has not grown for stallTimeout.
func waitRows(ctx context.Context, conn driver.Conn, n int, each func()) error {
	var last uint64
	grew := time.Now()
	for {
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM touchpoints").Scan(&rows); err != nil {
			return err
		}
		if each != nil {
			each()
		}
		if rows >= uint64(n) {
			return nil
		}
		if rows > last {
			last, grew = rows, time.Now()
		} else if time.Since(grew) > stallTimeout {
			return fmt.Errorf("no new touchpoints row for %s: %d of %d loaded", stallTimeout, rows, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
