// Command queries measures touchline's analytics queries on a real ClickHouse
// server at several sizes of generated traffic. For each size it loads the
// generated touchpoints and spend into a fresh database, converted to rows by
// the ingest service's own processor and inserted in batches, waits for the
// background merges the load started, and then times every query: funnels,
// attribution under each model, ROMI, cohorts, retail KPIs and funnel stages. It prints the median wall
// time and the rows returned of each query at each size and the growth of the
// time from the smallest to the largest size (about 10 from 1M to 10M events
// means linear). With -chdb it also loads the same rows into a current
// ClickHouse engine (chDB, through test/bench/queries/chdb_timings.py), times the
// same queries there and compares the rows each query returns on both engines
// (numbers within a relative 1e-9). Timings and differences are printed, never
// asserted.
//
//	go run ./test/bench/queries [-sizes 1000000,10000000] [-runs 3] [-chdb]
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/test/testenv"
)

const (
	// seed is the generator seed of every size.
	seed = 7
	// queryTimeout bounds one query run (and one insert).
	queryTimeout = 30 * time.Minute
)

func main() {
	sizes := flag.String("sizes", "1000000,10000000", "comma-separated numbers of generated events, one database each")
	runs := flag.Int("runs", 3, "runs of each query; the median is reported")
	withChDB := flag.Bool("chdb", false, "also time every query on a current ClickHouse engine (chDB, pip install chdb) loaded with the same rows")
	flag.Parse()
	ns, err := parseSizes(*sizes)
	if err == nil && *runs < 1 {
		err = fmt.Errorf("-runs must be at least 1, got %d", *runs)
	}
	if err == nil {
		err = run(ns, *runs, *withChDB)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench queries:", err)
		os.Exit(1)
	}
}

// parseSizes parses the -sizes flag.
func parseSizes(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sizes: %q is not a positive number of events", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// timing is the outcome of one query at one size.
type timing struct {
	median time.Duration
	rows   int
	err    error
}

func run(sizes []int, runs int, withChDB bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Hour)
	defer cancel()
	env, err := testenv.StartClickHouseTemp(ctx, "touchline-bench-queries-")
	if err != nil {
		return err
	}
	defer env.Stop()
	fmt.Printf("clickhouse server version %s on %s\n", env.Version, env.Server.Addr())

	cfg := env.Config
	cfg.ClickHouse.QueryTimeout = queryTimeout
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return err
	}

	server, current := newTimings(), newTimings()
	var version string
	for _, n := range sizes {
		chCfg := cfg.ClickHouse
		chCfg.Database = fmt.Sprintf("bench_%d", n)
		qs, queries, err := measure(ctx, chCfg, proc, n, runs)
		if err != nil {
			return fmt.Errorf("%d events: %w", n, err)
		}
		server.add(qs)
		if withChDB {
			fmt.Println("copying the rows into chDB and timing the queries there ...")
			var cs []namedTiming
			var rows []string
			version, cs, rows, err = timeOnChDB(ctx, env.Server, chCfg.Database, env.Dir, queries, runs)
			if err != nil {
				return fmt.Errorf("%d events on chDB: %w", n, err)
			}
			current.add(cs)
			compared, diffs, err := compareRows(ctx, env.Server, chCfg.Database, queries, cs, rows)
			if err != nil {
				return fmt.Errorf("%d events, comparing the rows: %w", n, err)
			}
			fmt.Printf("rows of chDB and of the server: the same for %d of the %d queries both answered\n", compared-len(diffs), compared)
			for _, d := range diffs {
				fmt.Println("  DIFFERENT:", d)
			}
		}
	}
	fmt.Printf("\nClickHouse server %s: median wall time of %d runs per query (rows returned in brackets)\n", env.Version, runs)
	report(sizes, server)
	if withChDB {
		fmt.Printf("\nchDB %s (the same rows; the data-driven models without Go's step on the rows): median wall time of %d runs per query\n", version, runs)
		report(sizes, current)
	}
	if peak, err := testenv.PeakRSS(); err == nil {
		fmt.Printf("\nbench process peak RSS: %d MiB\n", peak>>20)
	}
	return nil
}

// timings are the timings of each query at each size, with the queries'
// names in the order they were first timed.
type timings struct {
	names []string
	by    map[string][]timing
}

func newTimings() *timings { return &timings{by: map[string][]timing{}} }

// add appends the timings of one size.
func (t *timings) add(qs []namedTiming) {
	for _, q := range qs {
		if _, ok := t.by[q.name]; !ok {
			t.names = append(t.names, q.name)
		}
		t.by[q.name] = append(t.by[q.name], q.timing)
	}
}

// namedTiming is a query's name and its timing at one size.
type namedTiming struct {
	name string
	timing
}

// measure loads n generated events into the database of chCfg and times
// every query on it. It returns the timings and the queries.
func measure(ctx context.Context, chCfg clickhouse.Config, proc *enrich.Processor, n, runs int) ([]namedTiming, []query, error) {
	gen, err := generate.New(generate.Config{Events: n, Persons: max(n/20, 1), Days: 30, Seed: seed})
	if err != nil {
		return nil, nil, err
	}
	from, to := gen.Period()
	queries, err := buildQueries(analytics.Range{From: from, To: to})
	if err != nil {
		return nil, nil, err
	}
	if _, err := clickhouse.Migrate(ctx, chCfg, nil); err != nil {
		return nil, nil, err
	}
	conn, err := clickhouse.Open(ctx, chCfg, nil)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()

	fmt.Printf("\n== %d events (%d persons, %s to %s) in database %s\n", n, max(n/20, 1),
		from.Format(time.DateTime), to.Format(time.DateTime), chCfg.Database)
	start := time.Now()
	tps, spend, err := testenv.LoadGenerated(ctx, conn, proc, gen)
	if err != nil {
		return nil, nil, err
	}
	took := time.Since(start)
	fmt.Printf("loaded %d touchpoints and %d spend rows in %s: %.0f events/s (generation, conversion and insert)\n",
		tps, spend, took.Round(time.Millisecond), float64(tps)/took.Seconds())
	settled, err := testenv.Settle(ctx, conn, chCfg.Database)
	if err != nil {
		return nil, nil, err
	}
	fmt.Println(settled)
	var rows, final uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM touchpoints").Scan(&rows); err != nil {
		return nil, nil, err
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM touchpoints FINAL").Scan(&final); err != nil {
		return nil, nil, err
	}
	fmt.Printf("rows in touchpoints: %d (%d with FINAL)\n", rows, final)

	out := make([]namedTiming, 0, len(queries))
	for _, q := range queries {
		t := timeQuery(ctx, conn, q, runs)
		if t.err != nil {
			fmt.Printf("  %-34s FAILED: %v\n", q.name, t.err)
		} else {
			fmt.Printf("  %-34s %10s  %6d rows\n", q.name, testenv.FormatDuration(t.median), t.rows)
		}
		out = append(out, namedTiming{q.name, t})
	}
	return out, queries, nil
}

// query is a named analytics query, with the step that computes its
// result from its rows when Go does (the data-driven models).
type query struct {
	name, sql string
	finish    func(*table.Result) (*table.Result, error)
}

// buildQueries returns the queries to time over r.
func buildQueries(r analytics.Range) ([]query, error) {
	steps, err := analytics.ParseSteps("page_view,add_to_cart,purchase")
	if err != nil {
		return nil, err
	}
	var qs []query
	var errs []error
	build := func(name string, b interface{ SQL() (string, error) }) {
		sql, err := b.SQL()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		q := query{name: name, sql: sql}
		if f, ok := b.(interface {
			Finish(*table.Result) (*table.Result, error)
		}); ok {
			q.finish = f.Finish
		}
		qs = append(qs, q)
	}
	funnel := analytics.FunnelQuery{Range: r, Steps: steps, Window: 24 * time.Hour}
	build("funnel (3 steps, 24h)", funnel)
	funnel.Breakdown = "channel"
	build("funnel by channel", funnel)
	for _, m := range analytics.Models {
		a := analytics.DefaultAttribution()
		a.Model = m
		build("attribution "+string(m), analytics.AttributionQuery{Range: r, Attribution: a})
	}
	dd := analytics.DefaultAttribution()
	for order := 1; order <= analytics.MaxMarkovOrder; order += analytics.MaxMarkovOrder - 1 {
		build(fmt.Sprintf("attribution markov order %d", order), analytics.DataDrivenQuery{Range: r, Attribution: dd, Model: analytics.Markov, Order: order})
	}
	build("attribution shapley", analytics.DataDrivenQuery{Range: r, Attribution: dd, Model: analytics.Shapley})
	a := analytics.DefaultAttribution()
	a.Model = analytics.TimeDecay
	build("romi time_decay", analytics.ROMIQuery{Range: r, Attribution: a})
	build("romi markov", analytics.DataDrivenQuery{Range: r, Attribution: dd, Model: analytics.Markov, ROMI: true})
	build("paths top 20", analytics.PathsQuery{Range: r, Attribution: dd, Collapse: true, Top: 20})
	build("paths all by campaign", analytics.PathsQuery{Range: r, Attribution: dd, By: "campaign", All: true, Collapse: true, Top: 20})
	build("path lengths", analytics.PathsQuery{Range: r, Attribution: dd, Collapse: true, Report: analytics.LengthsReport})
	build("days to convert", analytics.PathsQuery{Range: r, Attribution: dd, Collapse: true, Report: analytics.TimesReport})
	build("cohort week x4 first_purchase", analytics.CohortQuery{Range: r, Period: analytics.Week, Periods: 4,
		By: analytics.FirstPurchase, Activity: analytics.PurchaseActivity, PurchaseType: a.ConversionType})
	build("cohort day x7 first_seen any", analytics.CohortQuery{Range: r, Period: analytics.Day, Periods: 7,
		By: analytics.FirstSeen, Activity: analytics.AnyActivity, PurchaseType: a.ConversionType})
	for _, by := range []string{analytics.KPIsTotal, analytics.KPIsByChannel, analytics.KPIsByCampaign, analytics.KPIsByCohort} {
		build("retail kpis by "+cmp.Or(by, "all"), analytics.RetailKPIsQuery{Range: r, Attribution: a, By: by})
	}
	build("retail kpis by channel, linear", analytics.RetailKPIsQuery{Range: r, Attribution: a, By: analytics.KPIsByChannel, Model: analytics.Linear})
	build("stages by channel", analytics.StagesQuery{Range: r, Stages: analytics.DefaultStages(), Attribution: a, ByChannel: true})
	return qs, errors.Join(errs...)
}

// timeQuery runs q runs times and returns the median wall time, including
// reading the result and computing it from the rows where Go does, and the
// number of rows of the last run.
func timeQuery(ctx context.Context, conn driver.Conn, q query, runs int) timing {
	times := make([]time.Duration, 0, runs)
	var rows int
	for range runs {
		start := time.Now()
		res, err := table.Run(ctx, conn, q.sql)
		if err == nil && q.finish != nil {
			res, err = q.finish(res)
		}
		if err != nil {
			return timing{err: err}
		}
		times = append(times, time.Since(start))
		rows = len(res.Rows)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	m := times[len(times)/2]
	if len(times)%2 == 0 {
		m = (times[len(times)/2-1] + m) / 2
	}
	return timing{median: m, rows: rows}
}

// report prints the table of median times per query and size, and the
// growth from the first size to the last.
func report(sizes []int, t *timings) {
	fmt.Printf("%-34s", "query")
	for _, n := range sizes {
		fmt.Printf(" %20s", sizeLabel(n)+" median")
	}
	growth := len(sizes) > 1
	if growth {
		fmt.Printf(" %16s", fmt.Sprintf("growth (%s/%s)", sizeLabel(sizes[len(sizes)-1]), sizeLabel(sizes[0])))
	}
	fmt.Println()
	var failures []string
	for _, name := range t.names {
		ts := t.by[name]
		fmt.Printf("%-34s", name)
		for i, t := range ts {
			if t.err != nil {
				fmt.Printf(" %20s", "FAILED")
				failures = append(failures, fmt.Sprintf("%s at %s events: %v", name, sizeLabel(sizes[i]), t.err))
				continue
			}
			fmt.Printf(" %20s", fmt.Sprintf("%s (%d)", testenv.FormatDuration(t.median), t.rows))
		}
		if growth {
			first, last := ts[0], ts[len(ts)-1]
			if first.err != nil || last.err != nil {
				fmt.Printf(" %16s", "-")
			} else {
				fmt.Printf(" %16.2f", last.median.Seconds()/first.median.Seconds())
			}
		}
		fmt.Println()
	}
	if growth {
		fmt.Printf("growth: time at %s / time at %s; %.0f means linear\n", sizeLabel(sizes[len(sizes)-1]), sizeLabel(sizes[0]),
			float64(sizes[len(sizes)-1])/float64(sizes[0]))
	}
	for _, f := range failures {
		fmt.Println("FAILED:", f)
	}
}

// sizeLabel writes n events as 100k, 1M, 10M or the plain number.
func sizeLabel(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return strconv.Itoa(n)
}
