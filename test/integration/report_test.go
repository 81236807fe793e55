package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
