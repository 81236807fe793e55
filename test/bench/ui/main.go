// Command ui measures the answers of the web UI's JSON API on generated
// traffic in a real ClickHouse server. It loads the generated touchpoints and
// spend of the pages' default range (the 30 UTC days up to now) into a fresh
// database, converted by the ingest service's own processor, stores an alert
// history as the alerts service would (three rules on five channels, an
// incident fired and resolved per group and day) and segment changes as the
// segments service would (every person entering three segments and leaving
// three days later), and runs `touchline ui`, the
// command users run, as its own process. Then it sends every API request each
// page of the app (pkg/ui/web/app.js) makes with its default parameters,
// (the person page for the person with the most touchpoints), -requests
// times one after the other, and prints the p50, p95 and maximum
// time to the whole answer per endpoint, and whether each p95 is under a
// second. As a baseline in the same run, each request's SQL (the API's own
// sql=1 answer) goes straight to ClickHouse with clickhouse-go and its rows
// are read; the ratio UI/bare shows the UI's own overhead apart from
// ClickHouse's time. UI and bare runs alternate, so both see the same load on
// the machine. It then loads each page -requests times as a browser does (the
// requests of a page at once, as its Promise.all sends them) and prints the
// same figures per page.
//
// Timings are printed, never asserted: it exits non-zero only when a request
// fails (an HTTP status other than 200, or a failed bare query).
//
//	go run ./test/bench/ui [-events 1000000] [-requests 20]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/analytics/request"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/test/testenv"
)

const (
	// seed is the generator seed, that of the other benchmarks.
	seed = 7
	// aim is the time every page's answer should come in under.
	aim = time.Second
	// requestTimeout bounds one request, to the UI or to ClickHouse.
	requestTimeout = 2 * time.Minute
)

func main() {
	events := flag.Int("events", 1_000_000, "generated events to load")
	requests := flag.Int("requests", 20, "measured requests per endpoint and page loads per page")
	flag.Parse()
	var err error
	switch {
	case *events < 1:
		err = fmt.Errorf("-events must be at least 1, got %d", *events)
	case *requests < 1:
		err = fmt.Errorf("-requests must be at least 1, got %d", *requests)
	default:
		err = run(*events, *requests)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench ui:", err)
		os.Exit(1)
	}
}

// endpoint is one API request of a page: its path and query under /api/.
type endpoint struct {
	name string
	// path is relative to /api/, with the query the page sends.
	path string
	// noSQL marks an answer that runs no query (the index, the rules of
	// alerts.yaml): it has no bare baseline.
	noSQL bool
	// sql is the request's SQL, as the API's sql=1 gives it; empty when
	// noSQL.
	sql string
	// rows is the number of rows the SQL returns.
	rows int
}

// page is a page of the app: the requests it sends, in stages; a stage's
// requests go at once, and a stage starts when the one before is answered.
type page struct {
	name   string
	stages [][]*endpoint
}

// appRequests returns the API requests of the pages of pkg/ui/web/app.js
// with their default parameters (an empty parameter is left out, as the
// app's apiURL does), and the pages that send them.
func appRequests(person, segment string) ([]*endpoint, []page) {
	ep := func(name, path string) *endpoint { return &endpoint{name: name, path: path} }
	overview, byDay := ep("overview", "overview"), ep("overview by day", "overview?by-day=true")
	index := &endpoint{name: "index (/api/)", noSQL: true}
	var models []*endpoint
	// The attribution page compares every model, the data-driven ones too.
	for _, m := range append(append([]analytics.Model{}, analytics.Models...), analytics.DataDrivenModels...) {
		models = append(models, ep("attribution "+string(m), "attribution?model="+string(m)))
	}
	romi := ep("romi", "romi")
	funnel := ep("funnel", "funnel?"+url.Values{"steps": {"page_view,add_to_cart,purchase"}, "window": {"24h"}}.Encode())
	cohort := ep("cohort", "cohort?"+url.Values{"period": {"month"}, "periods": {"6"}, "by": {"first_purchase"}, "activity": {"purchase"}}.Encode())
	state, history := ep("alert-state", "alert-state"), ep("alert-history", "alert-history")
	rules := &endpoint{name: "alert-rules", path: "alert-rules", noSQL: true}
	counts, segmentHistory := ep("segments", "segments"), ep("segment-history", "segment-history")
	members := ep("segment-members", "segment-members?"+url.Values{"segment": {segment}}.Encode())
	var personal []*endpoint
	for _, name := range []string{"person-identifiers", "person-merges", "person-touches", "person-segments"} {
		personal = append(personal, ep(name, name+"?"+url.Values{"person": {person}}.Encode()))
	}
	all := append([]*endpoint{overview, byDay, index}, models...)
	all = append(all, romi, funnel, cohort, rules, state, history, counts, segmentHistory, members)
	all = append(all, personal...)
	pages := []page{
		{"overview", [][]*endpoint{{overview, byDay}}},
		// The attribution page reads the index for the defaults first.
		{"attribution & ROMI", [][]*endpoint{{index}, append(slices.Clone(models), romi)}},
		{"funnel", [][]*endpoint{{funnel}}},
		{"cohorts", [][]*endpoint{{cohort}}},
		{"alerts", [][]*endpoint{{rules, state, history}}},
		// The segments page reads the member counts first.
		{"segments", [][]*endpoint{{counts}, {segmentHistory, members}}},
		{"person", [][]*endpoint{personal}},
	}
	return all, pages
}

func run(events, requests int) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	env, err := testenv.StartClickHouseTemp(ctx, "touchline-bench-ui-")
	if err != nil {
		return err
	}
	defer env.Stop()
	srv, dir := env.Server, env.Dir
	fmt.Printf("clickhouse server version %s on %s; load average %s\n", env.Version, srv.Addr(), loadAverage())

	cfg := env.Config
	cfg.ClickHouse.Database = "bench_ui"
	conn, err := load(ctx, cfg, events)
	if err != nil {
		return err
	}
	defer conn.Close()

	bin, err := testenv.Build(ctx, dir, "touchline")
	if err != nil {
		return err
	}
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// The UI's address has no flag, only its setting and environment
	// variable; the child inherits this process's environment.
	if err := os.Setenv("TOUCHLINE_UI_LISTEN", addr); err != nil {
		return err
	}
	// The UI's log is kept when the run fails, outside dir, which goes.
	logFile, err := os.CreateTemp("", "touchline-bench-ui-*.log")
	if err != nil {
		return fmt.Errorf("making the ui's log file: %w", err)
	}
	logPath := logFile.Name()
	logFile.Close()
	defer func() {
		if err == nil {
			os.Remove(logPath)
		}
	}()
	proc, err := testenv.StartProcess(bin, logPath, "ui", "--clickhouse-addr", srv.Addr(), "--database", cfg.ClickHouse.Database,
		"--pipelines", cfg.Pipelines, "--http-addr", "127.0.0.1:0", "--log-level", "warn")
	if err != nil {
		return err
	}
	defer func() { _ = proc.Terminate(30 * time.Second) }()
	base := "http://" + addr
	if err := testenv.WaitReady(ctx, proc, base, logPath); err != nil {
		return err
	}
	api := &uiClient{base: base + "/api/", http: &http.Client{Timeout: requestTimeout}}

	person, err := busiestPerson(ctx, conn)
	if err != nil {
		return err
	}
	all, pages := appRequests(person, benchSegments[0])
	for _, ep := range all {
		if ep.noSQL {
			continue
		}
		sql, err := api.get(ctx, ep.path+sep(ep.path)+"sql=1")
		if err != nil {
			return fmt.Errorf("the SQL of %s (log %s): %w", ep.name, logPath, err)
		}
		ep.sql = string(sql)
		if ep.rows, err = bareQuery(ctx, conn, ep.sql); err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
	}
	bare := func(ctx context.Context, ep *endpoint) error {
		if ep.sql == "" {
			return nil
		}
		_, err := bareQuery(ctx, conn, ep.sql)
		return err
	}
	ui := func(ctx context.Context, ep *endpoint) error {
		_, err := api.get(ctx, ep.path)
		return err
	}

	single := make([]page, len(all))
	for i, ep := range all {
		single[i] = page{ep.name, [][]*endpoint{{ep}}}
	}
	fmt.Printf("\n%d requests per endpoint, one at a time after one unmeasured request of each; time to the whole answer\n", requests)
	if err := measurePages(ctx, "endpoint", single, requests, ui, bare); err != nil {
		return fmt.Errorf("%w (log %s)", err, logPath)
	}
	fmt.Printf("\n%d loads per page, its requests at once as the page sends them, until its last answer\n", requests)
	if err := measurePages(ctx, "page", pages, requests, ui, bare); err != nil {
		return fmt.Errorf("%w (log %s)", err, logPath)
	}
	if _, peak, err := proc.RSS(); err == nil {
		fmt.Printf("\ntouchline ui peak RSS: %d MiB\n", peak>>20)
	}
	fmt.Printf("load average at the end: %s\n", loadAverage())
	fmt.Println("UI: a GET on touchline ui until its whole JSON answer is read; bare: the same SQL with clickhouse-go, every row scanned; UI/bare: ratio of the p50s")
	return nil
}

// load fills the database of cfg with events generated events over the
// pages' default range (the last 30 UTC days, today's up to now) and the
// spend of that traffic, and an alert history over
// the same days, and returns a connection to it.
func load(ctx context.Context, cfg config.Config, events int) (driver.Conn, error) {
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return nil, err
	}
	persons := max(events/20, 1)
	// The pages' default range, which ends at the next UTC midnight; the
	// generator ends the period a minute ago.
	days := analytics.LastDays(time.Now(), request.DefaultDays)
	gen, err := generate.New(generate.Config{Events: events, Persons: persons, Days: request.DefaultDays, Start: days.From, Seed: seed})
	if err != nil {
		return nil, err
	}
	if _, err := clickhouse.Migrate(ctx, cfg.ClickHouse, nil); err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, nil)
	if err != nil {
		return nil, err
	}
	from, to := gen.Period()
	start := time.Now()
	tps, spend, err := testenv.LoadGenerated(ctx, conn, proc, gen)
	if err == nil {
		err = storeAlerts(ctx, conn, from, to)
	}
	if err == nil {
		err = storeSegmentChanges(ctx, conn, from, to)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	fmt.Printf("loaded %d touchpoints of %d persons (%s to %s) and %d spend rows in %s\n", tps, persons,
		from.Format(time.DateTime), to.Format(time.DateTime), spend, time.Since(start).Round(time.Second))
	settled, err := testenv.Settle(ctx, conn, cfg.ClickHouse.Database)
	if err != nil {
		conn.Close()
		return nil, err
	}
	fmt.Println(settled)
	return conn, nil
}

// alertRules and alertChannels are the groups of the stored alert history.
var (
	alertRules    = []rules.KPI{rules.ROAS, rules.Spend, rules.CPA}
	alertChannels = []string{"paid_search", "paid_social", "display", "video", "affiliate"}
)

// storeAlerts stores, with the alerts service's own store, an incident per
// rule, channel and day of [from, to) that fired at 09:00 and resolved at
// 15:00 (on the days whose 15:00 lies before to), and the state of each rule and channel: the last incident of every
// second channel still firing.
func storeAlerts(ctx context.Context, conn driver.Conn, from, to time.Time) error {
	var states []*alerts.State
	var history []*rules.Notification
	for _, kpi := range alertRules {
		rule := string(kpi) + "-watch"
		for c, channel := range alertChannels {
			var incident string
			var fired, resolved time.Time
			for day := from; day.Add(15 * time.Hour).Before(to); day = day.AddDate(0, 0, 1) {
				incident = fmt.Sprintf("%s/%s/%s", rule, channel, day.Format(time.DateOnly))
				fired, resolved = day.Add(9*time.Hour), day.Add(15*time.Hour)
				for _, n := range []struct {
					status string
					at     time.Time
				}{{alerts.Firing, fired}, {alerts.Resolved, resolved}} {
					history = append(history, &rules.Notification{Key: incident + "/" + n.status, Incident: incident, Status: n.status,
						Rule: rule, KPI: kpi, Severity: "warning", Channel: channel, Value: 1.5, Reference: 1, Score: 3,
						WindowStart: n.at.Add(-time.Hour), WindowEnd: n.at, At: n.at, Message: rule + " " + n.status + " on " + channel})
				}
			}
			state := &alerts.State{Rule: rule, Group: alerts.Group{Channel: channel}, Status: alerts.StatusOK,
				FiredAt: fired, ResolvedAt: resolved, EvaluatedAt: to, Value: 1, Defined: true}
			if c%2 == 1 {
				state.Status, state.Incident, state.PendingSince, state.ResolvedAt = alerts.StatusFiring, incident, fired, time.Time{}
			}
			states = append(states, state)
		}
	}
	store := alerts.NewStore(conn)
	if err := store.Save(ctx, states); err != nil {
		return fmt.Errorf("storing %d alert states: %w", len(states), err)
	}
	if err := store.Record(ctx, history); err != nil {
		return fmt.Errorf("storing %d alert notifications: %w", len(history), err)
	}
	return nil
}

// benchSegments are the segments of the stored segment changes; the
// segments page shows the first one's members.
var benchSegments = []string{"cart_abandoners", "lapsed_buyers", "vip"}

// storeSegmentChanges stores, with the segments service's own writer, the
// changes of every person with a touchpoint in [from, to): each enters
// every segment at a time spread over the range, and leaves it again
// three days later when that is still before to.
func storeSegmentChanges(ctx context.Context, conn driver.Conn, from, to time.Time) error {
	rows, err := conn.Query(ctx, "SELECT DISTINCT person_id FROM touchpoints WHERE person_id != '' ORDER BY person_id")
	if err != nil {
		return fmt.Errorf("reading the persons: %w", err)
	}
	var persons []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("reading the persons: %w", err)
		}
		persons = append(persons, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the persons: %w", err)
	}
	var changes []clickhouse.SegmentChangeRow
	span := to.Sub(from)
	for i, id := range persons {
		for s, segment := range benchSegments {
			entered := from.Add(time.Duration((i*len(benchSegments)+s)%len(persons)) * (span / time.Duration(max(len(persons), 1)))).Truncate(time.Second)
			changes = append(changes, clickhouse.SegmentChangeRow{Segment: segment, PersonID: id, Entered: 1, ChangedAt: entered, Features: "{}", WrittenAt: entered})
			if left := entered.Add(72 * time.Hour); left.Before(to) {
				changes = append(changes, clickhouse.SegmentChangeRow{Segment: segment, PersonID: id, ChangedAt: left, Features: "{}", WrittenAt: left})
			}
		}
	}
	if err := clickhouse.InsertSegmentChanges(ctx, conn, changes); err != nil {
		return fmt.Errorf("storing %d segment changes: %w", len(changes), err)
	}
	fmt.Printf("stored %d segment changes of %d persons in %d segments\n", len(changes), len(persons), len(benchSegments))
	return nil
}

// busiestPerson returns the person with the most touchpoints, the one the
// person page is measured on.
func busiestPerson(ctx context.Context, conn driver.Conn) (string, error) {
	var id string
	if err := conn.QueryRow(ctx, "SELECT person_id FROM touchpoints WHERE person_id != '' GROUP BY person_id ORDER BY count() DESC, person_id LIMIT 1").Scan(&id); err != nil {
		return "", fmt.Errorf("finding the busiest person: %w", err)
	}
	return id, nil
}

// uiClient sends GET requests to the UI's API.
type uiClient struct {
	base string
	http *http.Client
}

// get returns the body of the answer to path, an error unless it is a 200.
func (c *uiClient) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer to /api/%s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/api/%s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// sep returns the separator before another query parameter of path.
func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

// bareQuery runs sql with clickhouse-go, scans every row into values of the
// columns' own types and returns the number of rows.
func bareQuery(ctx context.Context, conn driver.Conn, sql string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return 0, fmt.Errorf("bare query: %w", err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	dest := make([]any, len(types))
	for i, t := range types {
		dest[i] = reflect.New(t.ScanType()).Interface()
	}
	n := 0
	for ; rows.Next(); n++ {
		if err := rows.Scan(dest...); err != nil {
			return 0, fmt.Errorf("bare query: scanning a row: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("bare query: %w", err)
	}
	return n, nil
}

// loadPage sends the requests of p with do, each stage's at once.
func loadPage(ctx context.Context, p page, do func(context.Context, *endpoint) error) error {
	for _, stage := range p.stages {
		g, gctx := errgroup.WithContext(ctx)
		for _, ep := range stage {
			g.Go(func() error { return do(gctx, ep) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// measurePages loads each page n times through the UI (with ui) and
// straight from ClickHouse (with bare), after one unmeasured load of each,
// alternating, and prints a table row per page.
func measurePages(ctx context.Context, what string, pages []page, n int, ui, bare func(context.Context, *endpoint) error) error {
	fmt.Printf("%-30s %6s %9s %9s %9s   %9s %9s %9s   %8s  %s\n", what, "rows", "UI p50", "p95", "max", "bare p50", "p95", "max", "UI/bare", "p95 < 1s")
	for _, p := range pages {
		var times [2][]time.Duration
		for i := -1; i < n; i++ {
			for j, do := range []func(context.Context, *endpoint) error{ui, bare} {
				start := time.Now()
				if err := loadPage(ctx, p, do); err != nil {
					return fmt.Errorf("%s %s: %w", what, p.name, err)
				}
				if i >= 0 {
					times[j] = append(times[j], time.Since(start))
				}
			}
		}
		printRow(p, times[0], times[1])
	}
	return nil
}

// printRow prints the rows of p's answers, the p50, p95 and maximum of the
// UI's and the bare times, the ratio of their p50s, and whether the UI's
// p95 is under the aim. Without a bare query (the index), the bare columns
// are dashes.
func printRow(p page, ui, bare []time.Duration) {
	rows, withBare := 0, false
	for _, stage := range p.stages {
		for _, ep := range stage {
			rows += ep.rows
			withBare = withBare || ep.sql != ""
		}
	}
	slices.Sort(ui)
	slices.Sort(bare)
	u50, u95, umax := quantile(ui, 0.5), quantile(ui, 0.95), ui[len(ui)-1]
	verdict := "yes"
	if u95 >= aim {
		verdict = "NO"
	}
	f := testenv.FormatDuration
	b50, b95, bmax, ratio := "-", "-", "-", "-"
	if withBare {
		b50, b95, bmax = f(quantile(bare, 0.5)), f(quantile(bare, 0.95)), f(bare[len(bare)-1])
		ratio = fmt.Sprintf("%.2f", u50.Seconds()/quantile(bare, 0.5).Seconds())
	}
	fmt.Printf("%-30s %6d %9s %9s %9s   %9s %9s %9s   %8s  %s\n", p.name, rows, f(u50), f(u95), f(umax), b50, b95, bmax, ratio, verdict)
}

// quantile returns the q quantile of sorted by the nearest-rank method: the
// smallest time at least a fraction q of the times are at or under.
func quantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(float64(len(sorted)) * q))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// loadAverage returns the 1, 5 and 15 minute load averages of the machine,
// as uptime prints them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}
