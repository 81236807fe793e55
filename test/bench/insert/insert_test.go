// Package insert benchmarks touchpoint inserts on a real ClickHouse server:
// the CPU the inserting process spends per row (getrusage) and the CPU the
// server spends per row (its /proc/<pid>/stat), at several insert sizes.
// The server is started only when a benchmark runs:
//
//	go test -run '^$' -bench . -benchtime 200000x ./test/bench/insert
package insert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// generatedRows is the number of distinct rows the benchmarks insert,
// over and over.
const generatedRows = 200_000

var (
	setupOnce sync.Once
	setupErr  error
	server    *testenv.ClickHouseOnly
	conn      driver.Conn
	// bareConn is connected to a database without the materialised views
	// on touchpoints, to tell the views' share of the server's CPU.
	bareConn  driver.Conn
	serverPid int
	rows      []clickhouse.TouchpointRow
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		conn.Close()
		bareConn.Close()
		server.Stop()
	}
	os.Exit(code)
}

// setup starts ClickHouse, migrates it and generates the rows, once.
func setup(b *testing.B) {
	setupOnce.Do(func() { setupErr = start() })
	if errors.Is(setupErr, testenv.ErrUnavailable) && os.Getenv("CI") != "true" {
		b.Skip(setupErr)
	}
	if setupErr != nil {
		b.Fatal(setupErr)
	}
}

func start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if server, err = testenv.StartClickHouseTemp(ctx, "touchline-bench-insert-"); err != nil {
		return err
	}
	if conn, err = migrated(ctx, "bench_insert"); err != nil {
		return err
	}
	if bareConn, err = migrated(ctx, "bench_insert_bare"); err != nil {
		return err
	}
	for _, view := range []string{"channel_kpis_daily_mv", "channel_revenue_daily_mv"} {
		if err := bareConn.Exec(ctx, "DROP TABLE "+view); err != nil {
			return fmt.Errorf("dropping the materialised view %s: %w", view, err)
		}
	}
	serverPid = server.Server.Pid()
	proc, err := app.NewIngestProcessor(server.Config)
	if err != nil {
		return fmt.Errorf("making the ingest processor: %w", err)
	}
	gen, err := generate.New(generate.Config{Events: generatedRows, Persons: generatedRows / 20, Days: 30, Seed: 1})
	if err != nil {
		return fmt.Errorf("making the generator: %w", err)
	}
	rows = make([]clickhouse.TouchpointRow, 0, generatedRows)
	return gen.Touchpoints(func(t *touchpoint.Touchpoint) error {
		tp, rej := proc.TouchpointRow(t)
		if rej != nil {
			return fmt.Errorf("generated touchpoint %s rejected (%s): %w", t.EventID, rej.Reason, rej.Err)
		}
		rows = append(rows, tp.Row)
		return nil
	})
}

// migrated migrates the database named database and connects to it.
func migrated(ctx context.Context, database string) (driver.Conn, error) {
	cfg := server.Config.ClickHouse
	cfg.Database = database
	if _, err := clickhouse.Migrate(ctx, cfg, zap.NewNop()); err != nil {
		return nil, fmt.Errorf("migrating %s: %w", database, err)
	}
	c, err := clickhouse.Open(ctx, cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", database, err)
	}
	return c, nil
}

// serverCPU returns the CPU time (user and system) the server process has
// used.
func serverCPU() (time.Duration, error) { return testenv.CPUTime(serverPid) }

// selfCPU returns the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInsertTouchpoints inserts b.N rows in inserts of 20,000, 50,000,
// 100,000 and 200,000 rows, the way the ingest service does, and reports
// client-cpu-ns/row (this process, mostly clickhouse-go building and sending
// the blocks) and server-cpu-ns/row (ClickHouse, including the materialised
// views of channel_kpis_daily and channel_revenue_daily, excluding
// background merges that end after the last insert). Run it with
// -benchtime Nx: N is rows.
func BenchmarkInsertTouchpoints(b *testing.B) {
	benchmarkInserts(b, func() driver.Conn { return conn })
}

// BenchmarkInsertTouchpointsWithoutKPIView is BenchmarkInsertTouchpoints
// into a database without the materialised views on touchpoints: the
// difference of server-cpu-ns/row is the views' cost.
func BenchmarkInsertTouchpointsWithoutKPIView(b *testing.B) {
	benchmarkInserts(b, func() driver.Conn { return bareConn })
}

// benchmarkInserts measures inserts of several sizes into the database of
// the connection target returns once the server is set up.
func benchmarkInserts(b *testing.B, target func() driver.Conn) {
	for _, size := range []int{20_000, 50_000, 100_000, 200_000} {
		b.Run(fmt.Sprintf("rows=%d", size), func(b *testing.B) {
			setup(b)
			ctx := context.Background()
			b.ReportAllocs()
			server0, err := serverCPU()
			if err != nil {
				b.Fatal(err)
			}
			self0 := selfCPU()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(size, b.N-done, len(rows))
				if err := insertTouchpoints(ctx, target(), rows[:n]); err != nil {
					b.Fatal(err)
				}
				done += n
			}
			b.StopTimer()
			server1, err := serverCPU()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(selfCPU()-self0)/float64(b.N), "client-cpu-ns/row")
			b.ReportMetric(float64(server1-server0)/float64(b.N), "server-cpu-ns/row")
		})
	}
}

// columns are kept from one insert to the next, as the ingest service keeps
// them.
var columns clickhouse.TouchpointColumns

// insertTouchpoints is the insert being measured.
func insertTouchpoints(ctx context.Context, conn driver.Conn, rows []clickhouse.TouchpointRow) error {
	return columns.Insert(ctx, conn, rows)
}
