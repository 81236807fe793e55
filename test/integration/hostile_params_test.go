package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/analytics/request"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// hostileCampaigns are campaign names that break SQL written by hand: quotes
// and backslashes in every order, injections, control characters, the
// placeholders of clickhouse-go's parameter binding and LIKE's wildcards.
var hostileCampaigns = []string{
	`a'`, `a\`, `a\'`, `a''`, `'`, `\`, `\\'`, `a\'\`,
	`x'); DROP TABLE touchpoints; --`, "a\x00b", "a\nb\r\t", "a\x1b[31m", "\u00e9t\u00e9\u2028",
	"{p:String}", "?", "@p", "$1", "a%_b", "a' || 'b",
}

// TestHostileParametersReadAsThemselves stores, for each of
// hostileCampaigns, as many touchpoints as its place in the list plus one,
// all in one channel, and asks the web UI's API and `touchline query` for
// the channel KPIs of each campaign: each answers exactly that campaign's
// count. Parameters that would match everything if they reached the SQL
// unquoted, or match by pattern, answer no rows; so does a campaign that is
// not valid UTF-8. A value at the bound of a parameter's length runs; one
// past it is refused with the parameter's name. The funnel, broken down by a property holding the
// campaign's name or with the name as a step's filter, counts each alone.
func TestHostileParametersReadAsThemselves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg := servers(t).Config(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 9, 3, 10, 0, 0, 0, time.UTC)
	var rows []clickhouse.TouchpointRow
	for k, campaign := range hostileCampaigns {
		for j := range k + 1 {
			tp := &touchpoint.Touchpoint{EventID: fmt.Sprintf("ev-%d-%d", k, j), EventType: "page_view",
				EventTime: t0.Add(time.Duration(k*100+j) * time.Minute), UTMSource: "newsletter", UTMMedium: "email", UTMCampaign: campaign,
				Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": fmt.Sprintf("dev-%d-%d", k, j)}),
				Properties:  touchpoint.AttrsOf(map[string]string{"tag": campaign})}
			row, rej := proc.TouchpointRow(tp)
			if rej != nil || row == nil {
				t.Fatalf("campaign %q: %v", campaign, rej)
			}
			rows = append(rows, row.Row)
		}
	}
	if err := clickhouse.InsertTouchpoints(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	base := startUI(ctx, t, cfg)
	const from, to = "2026-09-01", "2026-09-29"

	// touchpoints sums the touchpoints of overview rows, checking that every
	// row is of the email channel.
	touchpoints := func(what string, rows []map[string]any) int {
		t.Helper()
		n := 0
		for _, r := range rows {
			if r["channel"] != "email" {
				t.Errorf("%s: a row of channel %v", what, r["channel"])
			}
			v, ok := r["touchpoints"].(float64)
			if !ok {
				t.Fatalf("%s: touchpoints %v is not a number", what, r["touchpoints"])
			}
			n += int(v)
		}
		return n
	}
	api := func(params url.Values) int {
		t.Helper()
		params.Set("from", from)
		params.Set("to", to)
		var rows []map[string]any
		getJSON(t, base+"/api/overview?"+params.Encode(), &rows)
		return touchpoints("GET /api/overview?"+params.Encode(), rows)
	}
	cli := func(flag, value string) int {
		t.Helper()
		out := cliQuery(ctx, t, cfg, "overview", "--"+flag, value, "--from", from, "--to", to, "--format", "json")
		var rows []map[string]any
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("touchline query overview --%s %q: not JSON: %v\n%s", flag, value, err, out)
		}
		return touchpoints(fmt.Sprintf("touchline query overview --%s %q", flag, value), rows)
	}

	if got, want := api(url.Values{}), len(hostileCampaigns)*(len(hostileCampaigns)+1)/2; got != want {
		t.Fatalf("all campaigns: %d touchpoints, want %d", got, want)
	}
	for k, campaign := range hostileCampaigns {
		if got := api(url.Values{"campaign": {campaign}}); got != k+1 {
			t.Errorf("API, campaign %q: %d touchpoints, want %d", campaign, got, k+1)
		}
		if strings.IndexByte(campaign, 0) >= 0 {
			continue // no command line carries a NUL
		}
		if got := cli("campaign", campaign); got != k+1 {
			t.Errorf("touchline query, campaign %q: %d touchpoints, want %d", campaign, got, k+1)
		}
	}
	for _, p := range []struct{ name, value string }{
		{"campaign", `a' OR '1'='1`}, {"campaign", `a\' OR 1=1 OR campaign = \'`}, {"campaign", "a%"}, {"campaign", "a_"},
		{"campaign", "a\xff"}, {"campaign", "A'"}, {"channel", `email' OR '1'='1`}, {"channel", "e%"},
	} {
		if got := api(url.Values{p.name: {p.value}}); got != 0 {
			t.Errorf("API, %s %q: %d touchpoints, want none", p.name, p.value, got)
		}
		if got := cli(p.name, p.value); got != 0 {
			t.Errorf("touchline query, %s %q: %d touchpoints, want none", p.name, p.value, got)
		}
	}

	// At the bound of a parameter's length the query runs (and matches
	// nothing); past it the request is refused with the parameter's name,
	// before any SQL reaches ClickHouse.
	long := strings.Repeat(`\'`, request.MaxValueBytes/2)
	if got := api(url.Values{"campaign": {long}}); got != 0 {
		t.Errorf("API, a campaign of %d bytes: %d touchpoints, want none", len(long), got)
	}
	resp, err := http.Get(base + "/api/overview?" + url.Values{"campaign": {long + "x"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("campaign: %d bytes: at most %d", len(long)+1, request.MaxValueBytes); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), want) {
		t.Errorf("API, a campaign of %d bytes: %d %s, want 400 %q", len(long)+1, resp.StatusCode, body, want)
	}

	// The funnel of page views broken down by a property holding the
	// campaign's name: one row per name, with its count of persons; and
	// each name as a step's filter, on the property and on the field.
	funnel := func(params url.Values) []map[string]any {
		t.Helper()
		params.Set("from", from)
		params.Set("to", to)
		var rows []map[string]any
		getJSON(t, base+"/api/funnel?"+params.Encode(), &rows)
		return rows
	}
	got := map[string]int{}
	for _, r := range funnel(url.Values{"steps": {"page_view"}, "breakdown": {"property:tag"}}) {
		v, _ := r["tag"].(string)
		n, _ := r["persons"].(float64)
		got[v] += int(n)
	}
	for k, campaign := range hostileCampaigns {
		if got[campaign] != k+1 {
			t.Errorf("funnel by property, %q: %d persons, want %d", campaign, got[campaign], k+1)
		}
	}
	if len(got) != len(hostileCampaigns) {
		t.Errorf("funnel by property: %d values, want %d: %v", len(got), len(hostileCampaigns), got)
	}
	for k, campaign := range hostileCampaigns {
		if strings.ContainsAny(campaign, ";\n") || strings.TrimSpace(campaign) != campaign {
			continue // a step's filters are separated by semicolons and trimmed
		}
		for _, name := range []string{"tag", "campaign"} {
			step := "page_view[" + name + "=" + campaign + "]"
			rows := funnel(url.Values{"steps": {step}})
			if len(rows) != 1 || rows[0]["persons"] != float64(k+1) {
				t.Errorf("funnel of %q: %v, want one step of %d persons", step, rows, k+1)
			}
		}
	}
}
