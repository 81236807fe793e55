package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/touchline-io/touchline/test/analyticscases"
)

// TestHTMLReport loads generated traffic into ClickHouse, writes
// `touchline report --html` over uiRange and opens the file in headless
// Chromium: it loads nothing but itself (every request the page makes is
// for the file or a data: URL), logs no error, and every figure of its
// overview, ROMI per channel under each model, attributed revenue per
// model, funnel (the default steps and window) and cohorts equals what
// `touchline query --format json` answers for the same range, to the
// displayed rounding; its SQL views show what --sql prints.
func TestHTMLReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, _ := trafficDatabase(ctx, t, 6000, 400, 17)
	file := filepath.Join(t.TempDir(), "report.html")
	out := touchlineOn(ctx, t, cfg, append([]string{"report", "--html", file}, uiRange...)...)
	if want := "wrote " + file + "\n"; string(out) != want {
		t.Errorf("touchline report printed %q, want %q", out, want)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("the report: %v %v, want a file of mode 0644", info, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*")); len(left) != 0 {
		t.Errorf("the report left %v beside it", left)
	}

	b := newBrowser(ctx, t)
	p := b.show(t, "file://"+file, filepath.Join(artifacts(t), "report.png"))
	b.mu.Lock()
	for _, u := range b.requests {
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the report requested %s", u)
		}
	}
	if len(b.requests) == 0 {
		t.Error("no request seen, not even the file's: the check of the report's requests proves nothing")
	}
	b.mu.Unlock()

	sameOverview(ctx, t, cfg, p)
	var queries [][]string
	for _, m := range models {
		args := []string{"romi", "--model", m}
		sameRows(t, "ROMI, "+m, p.Tables["romi-"+m], cliRows(ctx, t, cfg, append(args, uiRange...)...))
	}
	sameAttribution(ctx, t, cfg, p.Tables["attribution-revenue"])
	funnel := []string{"funnel", "--steps", "page_view,add_to_cart,purchase", "--window", "24h"}
	sameRows(t, "funnel", p.Tables["funnel"], cliRows(ctx, t, cfg, append(funnel, uiRange...)...))
	cohort := []string{"cohort", "--period", "month", "--periods", "6", "--by", "first_purchase", "--activity", "purchase"}
	sameRows(t, "cohorts", p.Tables["cohort"], cliRows(ctx, t, cfg, append(cohort, uiRange...)...))
	if p.Charts != 5 {
		t.Errorf("%d charts drawn, want 5: the overview's, the models', the funnel's, the heatmap and the LTV curves", p.Charts)
	}

	// The SQL views, in the order of the sections and their queries.
	queries = append(queries, []string{"overview"}, []string{"overview", "--by-day"})
	for _, m := range models {
		queries = append(queries, []string{"attribution", "--model", m})
	}
	for _, m := range models {
		queries = append(queries, []string{"romi", "--model", m})
	}
	queries = append(queries, funnel, cohort)
	shown, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('details.sql pre')].map(p => p.textContent)`))
	if err != nil {
		t.Fatalf("reading the SQL views: %v", err)
	}
	if len(shown) != len(queries) {
		t.Fatalf("the report shows %d queries' SQL, want %d", len(shown), len(queries))
	}
	for i, args := range queries {
		if want := string(cliQuery(ctx, t, cfg, append(append(args, uiRange...), "--sql")...)); shown[i] != want {
			t.Errorf("the report shows for %v:\n%s\nbut touchline query --sql prints:\n%s", args, shown[i], want)
		}
	}
}

// TestHTMLReportInAReportingCurrency writes `touchline report --html
// --currency USD` over April of the hand-computed currency fixture of
// test/analyticscases (revenue in HUF, ILS, EUR, JPY and USD, spend in GBP
// and USD; rates with a missing day, a restatement, a direct and a cross
// rate, and one too old) and opens it in headless Chromium: every money
// figure of the overview, the ROMI tables of every model, the attributed
// revenue per model and the cohorts equals `touchline query ... --currency
// USD --format json`, with the money that had no rate counted apart; the
// overview and the ROMI of the linear and first-touch models equal the
// cases' hand figures; and every money title, card and the header say USD.
func TestHTMLReportInAReportingCurrency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := servers(t).Config(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	cases := casesByName(t)
	overview := cases["currency: overview per channel in USD"]
	if err := overview.Fixture.Load(ctx, conn); err != nil {
		t.Fatal(err)
	}
	april := []string{"--from", "2026-04-01", "--to", "2026-05-01"}
	usd := append([]string{"--currency", "USD"}, april...)
	file := filepath.Join(t.TempDir(), "report.html")
	touchlineOn(ctx, t, cfg, append([]string{"report", "--html", file}, usd...)...)

	b := newBrowser(ctx, t)
	p := b.show(t, "file://"+file, filepath.Join(artifacts(t), "report-usd.png"))
	query := func(args ...string) []map[string]any { return cliRows(ctx, t, cfg, append(args, usd...)...) }
	sameRows(t, "overview in USD", p.Tables["overview-channels"], query("overview"))
	sameCaseRows(t, p.Tables["overview-channels"], overview)
	for _, m := range models {
		sameRows(t, "ROMI in USD, "+m, p.Tables["romi-"+m], query("romi", "--model", m))
	}
	sameCaseRows(t, p.Tables["romi-linear"], cases["currency: ROMI per channel in USD, linear"])
	sameCaseRows(t, p.Tables["romi-first_touch"], cases["currency: ROMI per channel in USD, first touch"])
	sameAttribution(ctx, t, cfg, p.Tables["attribution-revenue"], usd...)
	sameRows(t, "cohorts in USD", p.Tables["cohort"], query("cohort", "--period", "month", "--periods", "6", "--by", "first_purchase", "--activity", "purchase"))
	if rows := p.Tables["overview-channels"]; len(rows) == 0 || rows[0]["unconverted_purchases"] == "" {
		t.Errorf("the overview in USD does not show the money without a rate: %v", rows)
	}

	labels, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('header, h2, [data-card] .label')].map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("reading the report's titles: %v", err)
	}
	var inUSD []string
	for _, l := range labels {
		if strings.Contains(l, "USD") {
			inUSD = append(inUSD, l)
		}
	}
	// The header (1); the overview's revenue and spend cards, its revenue
	// chart and table (4); the models' chart, the 8 ROMI tables and the
	// revenue per model (10); the LTV curves and the cohorts table (2).
	if len(inUSD) != 17 || !strings.Contains(inUSD[0], "money in USD at each day's exchange rate") {
		t.Errorf("%d titles say USD, want 17 starting with the header's:\n%s", len(inUSD), strings.Join(inUSD, "\n"))
	}
}

// casesByName returns the analytics cases of test/analyticscases by name.
func casesByName(t *testing.T) map[string]analyticscases.Case {
	t.Helper()
	all, err := analyticscases.All()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]analyticscases.Case{}
	for _, c := range all {
		out[c.Name] = c
	}
	return out
}

// sameCaseRows checks a table of a page against the hand-computed rows of
// an analytics case, matched by the case's first column, in the columns
// both have.
func sameCaseRows(t *testing.T, shown []map[string]string, c analyticscases.Case) {
	t.Helper()
	if len(shown) != len(c.Want) {
		t.Errorf("%s: the page shows %d rows, the case has %d", c.Name, len(shown), len(c.Want))
		return
	}
	for _, row := range shown {
		var want []any
		for _, w := range c.Want {
			if w[0] == row[c.Columns[0]] {
				want = w
			}
		}
		if want == nil {
			t.Errorf("%s: the page shows %v, which the case has not", c.Name, row)
			continue
		}
		for i, col := range c.Columns {
			if text, ok := row[col]; ok {
				if err := displayed(text, want[i]); err != nil {
					t.Errorf("%s, %v, %s: %v", c.Name, want[0], col, err)
				}
			}
		}
	}
}
