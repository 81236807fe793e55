package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// uiRange is the range of the generated traffic of the UI test, and of
// every page and query it compares.
var uiRange = []string{"--from", "2026-09-01", "--to", "2026-09-29"}

// trafficDatabase returns the configuration of a new, migrated database
// holding generated traffic of the 28 days of uiRange, and a connection to
// it.
func trafficDatabase(ctx context.Context, t *testing.T, events, persons int, seed int64) (config.Config, driver.Conn) {
	t.Helper()
	cfg := servers(t).Config(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	loadTraffic(ctx, t, cfg, conn, generate.Config{Events: events, Persons: persons, Days: 28, Seed: seed,
		Start: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)})
	return cfg, conn
}

// loadTraffic writes generated traffic and its spend into the database of
// cfg, validated and normalised as the ingest service would.
func loadTraffic(ctx context.Context, t *testing.T, cfg config.Config, conn driver.Conn, traffic generate.Config) {
	t.Helper()
	gen, err := generate.New(traffic)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var rows []clickhouse.TouchpointRow
	if err := gen.Touchpoints(func(tp *touchpoint.Touchpoint) error {
		row, rej := proc.TouchpointRow(tp)
		if rej != nil {
			return fmt.Errorf("generated touchpoint %s rejected: %v", tp.EventID, rej)
		}
		if row != nil {
			rows = append(rows, row.Row)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var spend []clickhouse.SpendRow
	if err := gen.Spend(func(s *touchpoint.Spend) error {
		row, rej := proc.SpendRow(s)
		if rej != nil {
			return fmt.Errorf("generated spend rejected: %v", rej)
		}
		spend = append(spend, *row)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.InsertTouchpoints(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.InsertSpend(ctx, conn, spend); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d generated touchpoints and %d spend rows", len(rows), len(spend))
}

// startUI runs `touchline ui` on the database of cfg and returns its URL
// once it is ready.
func startUI(ctx context.Context, t *testing.T, cfg config.Config, env ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	log, err := os.Create(logPath(t))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, touchlineBin, "ui", "--clickhouse-addr", cfg.ClickHouse.Addr[0], "--database", cfg.ClickHouse.Database,
		"--pipelines", cfg.Pipelines, "--http-addr", "127.0.0.1:0")
	cmd.Env = append(append(os.Environ(), "TOUCHLINE_UI_LISTEN="+addr), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		_ = log.Close()
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("touchline ui at %s not ready after 30s: %v", base, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cliQuery runs `touchline query` on the database of cfg and returns its
// standard output.
func cliQuery(ctx context.Context, t *testing.T, cfg config.Config, args ...string) []byte {
	t.Helper()
	return touchlineOn(ctx, t, cfg, append([]string{"query"}, args...)...)
}

// touchlineOn runs touchline with args on the database of cfg and returns
// its standard output.
func touchlineOn(ctx context.Context, t *testing.T, cfg config.Config, args ...string) []byte {
	t.Helper()
	args = append(args, "--clickhouse-addr", cfg.ClickHouse.Addr[0], "--database", cfg.ClickHouse.Database,
		"--pipelines", cfg.Pipelines)
	out, err := exec.CommandContext(ctx, touchlineBin, args...).Output()
	if err != nil {
		t.Fatalf("touchline %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
	}
	return out
}

// cliRows runs a query with --format json and returns its rows.
func cliRows(ctx context.Context, t *testing.T, cfg config.Config, args ...string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	out := cliQuery(ctx, t, cfg, append(args, "--format", "json")...)
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("touchline query %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	if len(rows) == 0 {
		t.Fatalf("touchline query %s: no rows; the comparison would prove nothing", strings.Join(args, " "))
	}
	return rows
}

// durationPart is one part of a displayed duration: 2m, 49s, 45.2s.
var durationPart = regexp.MustCompile(`^(\d+(?:\.\d+)?)([dhms])$`)

// displayed checks that text, as a page shows it, is value to the
// displayed rounding: text exactly, null as a dash, numbers with thousands
// separators to their decimals, percentages to theirs, and durations
// (2m 49s, 3h 05m, 45.2s) to their smallest unit.
func displayed(text string, value any) error {
	switch v := value.(type) {
	case nil:
		if text != "—" {
			return fmt.Errorf("shows %q for null", text)
		}
		return nil
	case string:
		if text != v {
			return fmt.Errorf("shows %q, want %q", text, v)
		}
		return nil
	case float64:
		got, unit, err := readDisplayed(text)
		if err != nil {
			return err
		}
		if strings.HasSuffix(text, "%") {
			v *= 100
		}
		if math.Abs(got-v) > unit/2+1e-9*math.Max(1, math.Abs(v)) {
			return fmt.Errorf("shows %q, want %v (to the displayed rounding)", text, value)
		}
		return nil
	}
	return fmt.Errorf("unexpected JSON value %#v", value)
}

// readDisplayed reads a displayed number and the unit of its last digit.
func readDisplayed(text string) (float64, float64, error) {
	units := map[string]float64{"d": 86400, "h": 3600, "m": 60, "s": 1}
	if parts := strings.Fields(text); len(parts) > 0 && durationPart.MatchString(parts[len(parts)-1]) {
		total, unit := 0.0, 0.0
		for _, p := range parts {
			m := durationPart.FindStringSubmatch(p)
			if m == nil {
				return 0, 0, fmt.Errorf("%q is not a duration", text)
			}
			n, _ := strconv.ParseFloat(m[1], 64)
			total += n * units[m[2]]
			unit = units[m[2]] * decimalUnit(m[1])
		}
		return total, unit, nil
	}
	s := strings.TrimSuffix(strings.ReplaceAll(text, ",", ""), "%")
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a number", text)
	}
	return n, decimalUnit(s), nil
}

// decimalUnit is the value of the last digit of a decimal number.
func decimalUnit(s string) float64 {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return math.Pow(10, -float64(len(s)-i-1))
	}
	return 1
}

// page is what the browser read from one page of the UI.
type page struct {
	State  string                         `json:"state"`
	Error  string                         `json:"error"`
	Tables map[string][]map[string]string `json:"tables"`
	Cards  map[string]string              `json:"cards"`
	Charts int                            `json:"charts"`
}

// readPage is the script that reads a page's tables (per table, its rows as
// column -> displayed text), cards and drawn charts.
const readPage = `(() => {
  const main = document.getElementById('main');
  const tables = {};
  for (const t of document.querySelectorAll('table[data-table]')) {
    tables[t.dataset.table] = [...t.querySelectorAll('tbody tr')].map(tr =>
      Object.fromEntries([...tr.querySelectorAll('td')].map(td => [td.dataset.col, td.textContent])));
  }
  const cards = Object.fromEntries([...document.querySelectorAll('[data-card]')].map(c => [c.dataset.card, c.querySelector('.value').textContent]));
  const charts = [...document.querySelectorAll('[data-chart]')].filter(d => d.querySelector('canvas')).length;
  const err = document.getElementById('error');
  return {state: main.dataset.state, error: err ? err.textContent : '', tables, cards, charts};
})()`

// browser is a headless Chromium that records every console error,
// uncaught exception and error log entry (a blocked script, a failed
// load) of the pages it shows.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
	// requests are the URLs of every request the pages made.
	requests []string
}

func newBrowser(ctx context.Context, t *testing.T) *browser {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (scripts/install-deps.sh installs it)")
		}
		t.Skip("chromium is not installed")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1400, 1000))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: bctx}
	if err := chromedp.Listen(bctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.mu.Lock()
			b.requests = append(b.requests, ev.Request.URL)
			b.mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				msg = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// show opens url, waits for the page to finish, checks that it logged no
// error, writes its screenshot to shot and returns what it shows.
func (b *browser) show(t *testing.T, url, shot string) page {
	t.Helper()
	err := chromedp.Do(b.ctx,
		chromedp.Navigate(url),
		chromedp.Poll[chromedp.Void](`(() => { const s = document.getElementById('main').dataset.state; return s === 'done' || s === 'error'; })()`,
			chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	p, err := chromedp.Run(b.ctx, chromedp.Evaluate[page](readPage))
	if err != nil {
		t.Fatalf("%s: reading the page: %v", url, err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: screenshot: %v", url, err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Errorf("%s logged errors:\n%s", url, strings.Join(b.errors, "\n"))
		b.errors = nil
	}
	if p.State != "done" {
		t.Fatalf("%s: page state %q: %s", url, p.State, p.Error)
	}
	return p
}

// sameRows checks a table of a page against the rows of the CLI's JSON,
// row by row in the CLI's order, in the columns the table shows.
func sameRows(t *testing.T, what string, shown []map[string]string, want []map[string]any) {
	t.Helper()
	if len(shown) != len(want) {
		t.Errorf("%s: the page shows %d rows, touchline query gives %d", what, len(shown), len(want))
		return
	}
	for i, row := range shown {
		if len(row) == 0 {
			t.Errorf("%s row %d: no cells", what, i+1)
		}
		for col, text := range row {
			v, ok := want[i][col]
			if !ok {
				t.Errorf("%s: column %s is not in the CLI's JSON", what, col)
				continue
			}
			if err := displayed(text, v); err != nil {
				t.Errorf("%s row %d, %s: %v", what, i+1, col, err)
			}
		}
	}
}

// artifacts returns the directory of the test's screenshots:
// $TOUCHLINE_ARTIFACTS/ui when set, else a new temporary directory, which
// the test keeps and names in its log.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TOUCHLINE_ARTIFACTS")
	var err error
	if dir != "" {
		dir = filepath.Join(dir, "ui")
		err = os.MkdirAll(dir, 0o755)
	} else {
		dir, err = os.MkdirTemp("", "touchline-ui-screenshots-")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of the pages in %s", dir)
	return dir
}

// TestWebUI loads generated traffic into ClickHouse, runs `touchline ui` on
// it and drives headless Chromium over every page: no page logs an error,
// and every figure its tables and cards show equals what `touchline query
// --format json` answers for the same parameters, to the displayed
// rounding; each page's SQL view shows what --sql prints.
func TestWebUI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, conn := trafficDatabase(ctx, t, 6000, 400, 17)
	base := startUI(ctx, t, cfg)
	b := newBrowser(ctx, t)
	shots := artifacts(t)
	hashRange := "from=2026-09-01&to=2026-09-29"

	t.Run("overview", func(t *testing.T) {
		p := b.show(t, base+"/#/overview?"+hashRange, filepath.Join(shots, "overview.png"))
		sameOverview(ctx, t, cfg, p)
		if p.Charts != 1 {
			t.Errorf("%d charts drawn, want the per-day chart", p.Charts)
		}
		b.sqlView(ctx, t, cfg, [][]string{append([]string{"overview"}, uiRange...), append([]string{"overview", "--by-day"}, uiRange...)})
		// The channel filter reaches the query.
		p = b.show(t, base+"/#/overview?"+hashRange+"&channel=email", filepath.Join(shots, "overview-email.png"))
		sameRows(t, "overview of email", p.Tables["overview-channels"], cliRows(ctx, t, cfg, append([]string{"overview", "--channel", "email"}, uiRange...)...))
		// In a reporting currency the table is the CLI's, converted, with
		// the money that had no rate counted apart.
		p = b.show(t, base+"/#/overview?"+hashRange+"&currency=USD", filepath.Join(shots, "overview-usd.png"))
		sameRows(t, "overview in USD", p.Tables["overview-channels"], cliRows(ctx, t, cfg, append([]string{"overview", "--currency", "USD"}, uiRange...)...))
		if rows := p.Tables["overview-channels"]; len(rows) == 0 || rows[0]["unconverted_purchases"] == "" || rows[0]["unconverted_spend"] == "" {
			t.Errorf("the overview in USD does not show the money without a rate: %v", rows)
		}
	})

	t.Run("attribution", func(t *testing.T) {
		p := b.show(t, base+"/#/attribution?"+hashRange+"&model=linear&lookback=14d", filepath.Join(shots, "attribution.png"))
		sameRows(t, "ROMI, linear", p.Tables["romi"], cliRows(ctx, t, cfg, append([]string{"romi", "--model", "linear", "--lookback", "14d"}, uiRange...)...))
		sameAttribution(ctx, t, cfg, p.Tables["attribution-revenue"], "--lookback", "14d")
		// In a reporting currency the ROMI table is the CLI's, converted, with
		// the money that had no rate counted apart.
		p = b.show(t, base+"/#/attribution?"+hashRange+"&model=linear&currency=USD", filepath.Join(shots, "attribution-usd.png"))
		sameRows(t, "ROMI, linear, in USD", p.Tables["romi"], cliRows(ctx, t, cfg, append([]string{"romi", "--model", "linear", "--currency", "USD"}, uiRange...)...))
		if rows := p.Tables["romi"]; len(rows) == 0 || rows[0]["unconverted_conversions"] == "" || rows[0]["unconverted_spend"] == "" {
			t.Errorf("the ROMI table in USD does not show the money without a rate: %v", rows)
		}
		if p.Charts != 1 {
			t.Errorf("%d charts drawn, want the grouped bars", p.Charts)
		}
		// The markov model's order reaches its queries (and only its), and
		// the ROMI table of a data-driven model is the CLI's.
		p = b.show(t, base+"/#/attribution?"+hashRange+"&model=markov&order=2", filepath.Join(shots, "attribution-markov-order-2.png"))
		sameModel(ctx, t, cfg, p.Tables["attribution-revenue"], "markov", "--order", "2")
		sameModel(ctx, t, cfg, p.Tables["attribution-revenue"], "shapley")
		sameRows(t, "ROMI, markov of order 2", p.Tables["romi"], cliRows(ctx, t, cfg, append([]string{"romi", "--model", "markov", "--order", "2"}, uiRange...)...))
		// Without a model, the ROMI table is the one of attribution.yaml's.
		p = b.show(t, base+"/#/attribution?"+hashRange+"&by-campaign=true", filepath.Join(shots, "attribution-default-by-campaign.png"))
		sameRows(t, "ROMI per campaign, default model", p.Tables["romi"], cliRows(ctx, t, cfg, append([]string{"romi", "--by-campaign"}, uiRange...)...))
	})

	t.Run("funnel", func(t *testing.T) {
		args := append([]string{"funnel", "--steps", "page_view,add_to_cart,purchase", "--window", "24h"}, uiRange...)
		p := b.show(t, base+"/#/funnel?"+hashRange+"&steps=page_view,add_to_cart,purchase&window=24h", filepath.Join(shots, "funnel.png"))
		sameRows(t, "funnel", p.Tables["funnel"], cliRows(ctx, t, cfg, args...))
		if p.Charts != 1 {
			t.Errorf("%d charts drawn, want the steps", p.Charts)
		}
		b.sqlView(ctx, t, cfg, [][]string{args})
		p = b.show(t, base+"/#/funnel?"+hashRange+"&steps=page_view,add_to_cart,purchase&window=24h&breakdown=channel", filepath.Join(shots, "funnel-by-channel.png"))
		sameRows(t, "funnel by channel", p.Tables["funnel"], cliRows(ctx, t, cfg, append(args, "--breakdown", "channel")...))
		p = b.show(t, base+"/#/funnel?"+hashRange+"&steps=page_view,purchase&window=7d&property=category", filepath.Join(shots, "funnel-by-property.png"))
		sameRows(t, "funnel by a property", p.Tables["funnel"], cliRows(ctx, t, cfg,
			append([]string{"funnel", "--steps", "page_view,purchase", "--window", "7d", "--breakdown", "property:category"}, uiRange...)...))
	})

	t.Run("cohorts", func(t *testing.T) {
		p := b.show(t, base+"/#/cohorts?"+hashRange+"&period=week&periods=4&by=first_seen&activity=any", filepath.Join(shots, "cohorts.png"))
		sameRows(t, "cohorts", p.Tables["cohort"], cliRows(ctx, t, cfg, append([]string{"cohort", "--period", "week", "--periods", "4", "--by", "first_seen", "--activity", "any"}, uiRange...)...))
		if p.Charts != 2 {
			t.Errorf("%d charts drawn, want the heatmap and the LTV curves", p.Charts)
		}
		p = b.show(t, base+"/#/cohorts?"+hashRange+"&period=month&periods=2&by-channel=true", filepath.Join(shots, "cohorts-by-channel.png"))
		sameRows(t, "cohorts by channel", p.Tables["cohort"], cliRows(ctx, t, cfg, append([]string{"cohort", "--period", "month", "--periods", "2", "--by-channel"}, uiRange...)...))
		p = b.show(t, base+"/#/cohorts?"+hashRange+"&period=week&periods=3&currency=USD", filepath.Join(shots, "cohorts-usd.png"))
		sameRows(t, "cohorts in USD", p.Tables["cohort"], cliRows(ctx, t, cfg, append([]string{"cohort", "--period", "week", "--periods", "3", "--currency", "USD"}, uiRange...)...))
		if rows := p.Tables["cohort"]; len(rows) == 0 || rows[0]["unconverted_purchases"] == "" {
			t.Errorf("the cohorts in USD do not show the purchases without a rate: %v", rows)
		}
	})

	t.Run("api", func(t *testing.T) {
		// A bad parameter is a 400 with a message on the real server too.
		resp, err := http.Get(base + "/api/funnel?steps=" + url.QueryEscape("page_view',purchase") + "&window=0")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"error":`) {
			t.Errorf("bad steps: %d %s", resp.StatusCode, body)
		}
		// The queries run read-only and time-bounded: the index says what
		// ClickHouse answered to the UI's own query of its settings.
		var index struct {
			Settings map[string]string `json:"clickhouse_settings"`
		}
		getJSON(t, base+"/api/", &index)
		if index.Settings["readonly"] != "1" || index.Settings["max_execution_time"] != "30" {
			t.Errorf("the queries' settings: %v, want readonly 1 and max_execution_time 30", index.Settings)
		}
		// RunMax, the bound on an answer's rows, stops at the row after it.
		if _, err := table.RunMax(ctx, conn, "SELECT number FROM system.numbers LIMIT 10", 3); !errors.Is(err, table.ErrTooManyRows) {
			t.Errorf("10 rows under a bound of 3: %v", err)
		}
		if res, err := table.RunMax(ctx, conn, "SELECT number FROM system.numbers LIMIT 10", 10); err != nil || len(res.Rows) != 10 {
			t.Errorf("10 rows under a bound of 10: %v", err)
		}
	})
}

// sameOverview checks the overview's channel table and cards against
// `touchline query overview` over uiRange: the cards add up its rows.
func sameOverview(ctx context.Context, t *testing.T, cfg config.Config, p page) {
	t.Helper()
	rows := cliRows(ctx, t, cfg, append([]string{"overview"}, uiRange...)...)
	sameRows(t, "overview per channel", p.Tables["overview-channels"], rows)
	var revenue, spend, touchpoints, purchases float64
	for _, r := range rows {
		revenue += r["revenue"].(float64)
		spend += r["spend"].(float64)
		touchpoints += r["touchpoints"].(float64)
		purchases += r["purchases"].(float64)
	}
	for card, want := range map[string]any{"revenue": revenue, "spend": spend, "touchpoints": touchpoints, "purchases": purchases, "roas": revenue / spend} {
		if err := displayed(p.Cards[card], want); err != nil {
			t.Errorf("card %s: %v", card, err)
		}
	}
}

// models are the attribution models, in the order of the pages: the six
// rule-based ones and the two data-driven ones.
var models = []string{"first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay", "markov", "shapley"}

// sameAttribution checks the table of attributed revenue per channel and
// model against `touchline query attribution --model M` over uiRange with
// the extra flags, which come last: a --from or --to among them replaces
// uiRange's.
func sameAttribution(ctx context.Context, t *testing.T, cfg config.Config, shown []map[string]string, flags ...string) {
	t.Helper()
	for _, m := range models {
		sameModel(ctx, t, cfg, shown, m, flags...)
	}
}

// sameModel checks the column of model m in the table of attributed
// revenue per channel against `touchline query attribution --model m`
// over uiRange with the extra flags.
func sameModel(ctx context.Context, t *testing.T, cfg config.Config, shown []map[string]string, m string, flags ...string) {
	t.Helper()
	byChannel := map[string]any{}
	for _, r := range cliRows(ctx, t, cfg, append(append([]string{"attribution", "--model", m}, uiRange...), flags...)...) {
		byChannel[r["channel"].(string)] = r["revenue"]
	}
	// The page shows every channel any model credits; a model that
	// credits none of a channel's revenue shows 0.
	onPage := map[string]bool{}
	for _, row := range shown {
		onPage[row["key"]] = true
	}
	for channel := range byChannel {
		if !onPage[channel] {
			t.Errorf("%s: the page does not show channel %q", m, channel)
		}
	}
	for _, row := range shown {
		want, ok := byChannel[row["key"]]
		if !ok {
			want = 0.0
		}
		if err := displayed(row[m], want); err != nil {
			t.Errorf("%s, %s: %v", m, row["key"], err)
		}
	}
}

// sqlView opens the SQL view of the page shown and checks that it shows,
// query by query, what `touchline query <args> --sql` prints.
func (b *browser) sqlView(ctx context.Context, t *testing.T, cfg config.Config, queries [][]string) {
	t.Helper()
	err := chromedp.Do(b.ctx,
		chromedp.Click(chromedp.CSS("#sql summary")),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('#sql pre').length === %d`, len(queries)), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("SQL view: %v", err)
	}
	shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#sql pre')].map(p => p.textContent)`))
	if err != nil {
		t.Fatalf("SQL view: %v", err)
	}
	for i, args := range queries {
		if want := string(cliQuery(ctx, t, cfg, append(args, "--sql")...)); shown[i] != want {
			t.Errorf("SQL view shows for %v:\n%s\nbut touchline query --sql prints:\n%s", args, shown[i], want)
		}
	}
}

// TestWebUIReadOnlyUser runs the UI as a ClickHouse user whose profile has
// readonly = 2, as docs/ui.md advises: the UI still bounds its queries'
// time, answers as the default user's `touchline query` does, and the user
// cannot write.
func TestWebUIReadOnlyUser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, _ := trafficDatabase(ctx, t, 1000, 100, 3)
	base := startUI(ctx, t, cfg, "TOUCHLINE_UI_CLICKHOUSE_USER="+testenv.ReadOnlyUser, "TOUCHLINE_UI_CLICKHOUSE_PASSWORD="+testenv.ReadOnlyPassword)

	var index struct {
		Settings map[string]string `json:"clickhouse_settings"`
	}
	getJSON(t, base+"/api/", &index)
	if index.Settings["readonly"] != "2" || index.Settings["max_execution_time"] != "30" {
		t.Errorf("the queries' settings as %s: %v, want readonly 2 and max_execution_time 30", testenv.ReadOnlyUser, index.Settings)
	}
	var rows []map[string]any
	getJSON(t, base+"/api/overview?from=2026-09-01&to=2026-09-29", &rows)
	want := cliRows(ctx, t, cfg, append([]string{"overview"}, uiRange...)...)
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("the API as %s:\n%v\ntouchline query:\n%v", testenv.ReadOnlyUser, rows, want)
	}

	reader := cfg.ClickHouse
	reader.User, reader.Password = testenv.ReadOnlyUser, testenv.ReadOnlyPassword
	rconn, err := clickhouse.Open(ctx, reader, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rconn.Close()
	if err := rconn.Exec(ctx, "CREATE TABLE ui_must_not_write (a UInt8) ENGINE = Memory"); err == nil {
		t.Errorf("%s created a table", testenv.ReadOnlyUser)
	}
}

// getJSON decodes the JSON answer of a GET of url, which must be 200.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
