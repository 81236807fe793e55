package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/deploy/grafana"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/test/analyticscases"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestGrafanaClickHousePanels runs the SQL of every ClickHouse panel of
// the Grafana dashboards, its macros expanded as Grafana's ClickHouse data
// source expands them for April 2026 and the channel variable's values as
// Grafana fills them in, on a migrated database with a month of
// touchpoints, spend, segment changes and a notification: the variable
// lists the channels, each panel runs and gives rows, and the channel
// tables give the hand-computed KPIs (a spend restatement replaces the
// first report; March's impression is outside the range; email's revenue
// and spend in USD and in EUR on one day are two rows, never one sum), and
// only email's when the variable is email.
func TestGrafanaClickHousePanels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	at := func(day, hour int) time.Time { return time.Date(2026, 4, day, hour, 0, 0, 0, time.UTC) }
	event := func(id, person, typ, channel, campaign string, t time.Time, revenue float64) analyticscases.Event {
		e := analyticscases.Event{ID: id, Person: person, Type: typ, Channel: channel, Campaign: campaign, At: t, Revenue: revenue}
		if typ == "purchase" {
			e.Currency = "USD"
		}
		return e
	}
	inEUR := func(e analyticscases.Event) analyticscases.Event { e.Currency = "EUR"; return e }
	fixture := analyticscases.Fixture{
		Events: []analyticscases.Event{
			event("i0", "a", "impression", "email", "newsletter", time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC), 0),
			event("i1", "a", "impression", "email", "newsletter", at(10, 9), 0),
			event("i2", "b", "impression", "email", "newsletter", at(10, 9), 0),
			event("c1", "a", "email_click", "email", "newsletter", at(10, 10), 0),
			event("p1", "a", "purchase", "email", "newsletter", at(10, 11), 120.5),
			inEUR(event("p3", "b", "purchase", "email", "newsletter", at(10, 12), 45)),
			event("c2", "d", "click", "paid_search", "brand", at(11, 8), 0),
			event("c3", "e", "click", "paid_search", "brand", at(12, 8), 0),
			event("p2", "d", "purchase", "paid_search", "brand", at(11, 9), 30),
		},
		Spend: []analyticscases.Spend{
			{Date: at(10, 0), Channel: "email", Campaign: "newsletter", Source: "esp", Cost: 20, Currency: "USD", Version: 1},
			{Date: at(10, 0), Channel: "email", Campaign: "newsletter", Source: "esp_eu", Cost: 15, Currency: "EUR", Version: 1},
			{Date: at(11, 0), Channel: "paid_search", Campaign: "brand", Source: "ads", Cost: 50, Currency: "USD", Version: 1},
			{Date: at(11, 0), Channel: "paid_search", Campaign: "brand", Source: "ads", Cost: 60, Currency: "USD", Version: 2},
		},
		Changes: []analyticscases.SegmentChange{{Segment: "buyers", Person: "a", Entered: true, At: at(10, 11)}},
	}
	conn := loadFixture(ctx, t, servers(t).Config(uniqueName(t)), fixture)
	if err := conn.Exec(ctx, `INSERT INTO alert_notifications (idempotency_key, incident, status, rule, severity, kpi, channel, campaign,
		value, reference, score, window_start, window_end, notified_at, message)
		SELECT 'k1', 'i1', 'firing', 'roas-low', 'warning', 'roas', 'paid_search', 'brand', 0.5, 1, 0,
			toDateTime('2026-04-11 00:00:00', 'UTC'), toDateTime('2026-04-12 00:00:00', 'UTC'), toDateTime('2026-04-12 00:05:00', 'UTC'), 'ROAS 0.5'`); err != nil {
		t.Fatal(err)
	}

	queries, err := grafana.Queries(filepath.Join(testenv.RepoRoot(), "deploy", "grafana", "dashboards"))
	if err != nil {
		t.Fatal(err)
	}
	r := grafana.Range{From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC),
		Vars: map[string][]string{}}
	run := func(q grafana.Query, r grafana.Range) []string {
		t.Helper()
		sql, err := grafana.ExpandMacros(q.SQL, r)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			return nil
		}
		res, err := table.Run(ctx, conn, sql)
		if err != nil {
			t.Errorf("%s: %v\n%s", q, err, sql)
			return nil
		}
		if len(res.Rows) == 0 {
			t.Errorf("%s gives no rows: it would pass whatever it computes\n%s", q, sql)
		}
		rows := []string{strings.Join(res.Columns, " ")}
		for _, row := range res.Rows {
			rows = append(rows, strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(row), "["), "]"))
		}
		return rows
	}
	// The variables first: their values are what Grafana's "All" fills in.
	for _, q := range queries {
		if q.Variable != "" {
			rows := run(q, r)
			if len(rows) > 0 {
				r.Vars[q.Variable] = rows[1:]
			}
		}
	}
	if got := strings.Join(r.Vars["channel"], " "); got != "email paid_search" {
		t.Errorf("the channel variable lists %q, want the channels of touchpoints and spend", got)
	}
	// email: 2 impressions, 1 click, 2 purchases: 120.5 USD and 45 EUR,
	// spend 20 USD and 15 EUR; paid_search: 2 clicks, 1 purchase of 30
	// USD, spend 60 USD (restated from 50), no impression, so no CTR.
	// Per panel: every row, and the rows of email alone.
	tables := map[string]struct{ all, email []string }{
		"Channels: volume and conversions": {
			all:   []string{"channel impression_count click_count conversion_count ctr cvr", "email 2 1 2 0.5 2", "paid_search 0 2 1 <nil> 0.5"},
			email: []string{"channel impression_count click_count conversion_count ctr cvr", "email 2 1 2 0.5 2"},
		},
		"Channels: money per currency": {
			all: []string{"channel currency conversion_count revenue_units spend_units roas",
				"email EUR 1 45 15 3", "email USD 1 120.5 20 6.025", "paid_search USD 1 30 60 0.5"},
			email: []string{"channel currency conversion_count revenue_units spend_units roas",
				"email EUR 1 45 15 3", "email USD 1 120.5 20 6.025"},
		},
		"Revenue": {
			all:   []string{"currency revenue_units", "EUR 45", "USD 150.5"},
			email: []string{"currency revenue_units", "EUR 45", "USD 120.5"},
		},
	}
	ran, checked := 0, 0
	for _, q := range queries {
		if q.Datasource != grafana.ClickHouse || q.Variable != "" {
			continue
		}
		ran++
		rows := run(q, r)
		want, ok := tables[q.Panel]
		if !ok {
			continue
		}
		checked++
		if strings.Join(rows, "\n") != strings.Join(want.all, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", q, strings.Join(rows, "\n"), strings.Join(want.all, "\n"))
		}
		// One channel chosen: only its rows.
		emailOnly := r
		emailOnly.Vars = map[string][]string{"channel": {"email"}}
		if rows := run(q, emailOnly); strings.Join(rows, "\n") != strings.Join(want.email, "\n") {
			t.Errorf("%s with the channel email:\n%s", q, strings.Join(rows, "\n"))
		}
	}
	if checked != len(tables) {
		t.Errorf("%d of the %d panels with hand-computed rows were found", checked, len(tables))
	}
	if ran < 11 {
		t.Errorf("%d ClickHouse panels ran, want every panel of the channel-KPI dashboard", ran)
	}
}
