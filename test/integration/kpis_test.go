package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestChannelKPIsExactUnderReplays writes touchpoints twice, as a replay
// would, plus spend with a restatement, and checks the channel_kpis and
// channel_money views against hand-computed numbers (channel_money keeps a
// USD and a EUR purchase of one channel and day apart); the backfills run
// again change nothing.
func TestChannelKPIsExactUnderReplays(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := s.Config(uniqueName(t))
	conn, err := testenv.Prepare(ctx, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	day := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	row := func(id, typ, channel, campaign string, at time.Duration, revenue int64) clickhouse.TouchpointRow {
		return clickhouse.TouchpointRow{EventID: id, EventType: typ, Channel: channel, Campaign: campaign,
			EventTime: day.Add(at), Revenue: revenue, IngestedAt: time.Now().UTC().Truncate(time.Second)}
	}
	rows := []clickhouse.TouchpointRow{
		row("i1", "impression", "paid_search", "brand", time.Hour, 0),
		row("i2", "impression", "paid_search", "brand", 2*time.Hour, 0),
		row("c1", "click", "paid_search", "brand", 3*time.Hour, 0),
		row("p1", "purchase", "paid_search", "brand", 4*time.Hour, 10_500_000),
		row("p2", "purchase", "paid_search", "brand", 5*time.Hour, 10_500_000), // same revenue, another order
		row("e1", "email_click", "email", "welcome", 6*time.Hour, 0),
		row("p3", "purchase", "email", "welcome", 26*time.Hour, 7_000_000), // next day
	}
	for i, currency := range []string{"", "", "", "USD", "EUR", "", "USD"} {
		rows[i].Currency = currency
	}
	for i := 0; i < 2; i++ { // the second insert is a replay
		if err := clickhouse.InsertTouchpoints(ctx, conn, rows); err != nil {
			t.Fatal(err)
		}
	}
	clicks := int64(120)
	if err := clickhouse.InsertSpend(ctx, conn, []clickhouse.SpendRow{
		{Date: day, Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 40_000_000, Currency: "USD", Version: 1, Clicks: &clicks},
		{Date: day, Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 42_250_000, Currency: "USD", Version: 2, Clicks: &clicks},
		{Date: day, Channel: "display", Campaign: "retarget", Source: "criteo", Cost: 5_000_000, Currency: "USD", Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	// Hand-computed: date|channel|campaign -> impressions clicks conversions revenue spend platform_clicks.
	want := []string{
		"2026-10-05|display|retarget 0 0 0 0.00 5.00 0",
		"2026-10-05|email|welcome 0 1 0 0.00 0.00 0",
		"2026-10-05|paid_search|brand 2 1 2 21.00 42.25 120",
		"2026-10-06|email|welcome 0 0 1 7.00 0.00 0",
	}
	check := func(stage string) {
		t.Helper()
		res, err := conn.Query(ctx, `SELECT toString(date), channel, campaign, impressions, clicks, conversions, revenue, spend, platform_clicks
FROM channel_kpis ORDER BY date, channel, campaign`)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		var got []string
		for res.Next() {
			var (
				d, ch, camp                string
				imp, clk, conv, platClicks uint64
				rev, spend                 float64
			)
			if err := res.Scan(&d, &ch, &camp, &imp, &clk, &conv, &rev, &spend, &platClicks); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s|%s|%s %d %d %d %.2f %.2f %d", d, ch, camp, imp, clk, conv, rev, spend, platClicks))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s:\n%s\nwant:\n%s", stage, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// date channel campaign currency conversions revenue spend.
		money, err := table.Run(ctx, conn, `SELECT toString(date), channel, campaign, currency, conversions, toString(revenue), toString(spend)
FROM channel_money ORDER BY date, channel, campaign, currency`)
		if err != nil {
			t.Fatal(err)
		}
		wantMoney := "[[2026-10-05 display retarget USD 0 0 5] [2026-10-05 paid_search brand EUR 1 10.5 0] " +
			"[2026-10-05 paid_search brand USD 1 10.5 42.25] [2026-10-06 email welcome USD 1 7 0]]"
		if fmt.Sprint(money.Rows) != wantMoney {
			t.Fatalf("%s: channel_money\n%v\nwant\n%s", stage, money.Rows, wantMoney)
		}
	}
	check("after a replay")
	// Run the backfill statements of the migrations again.
	ms, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, stmt := range m.Statements {
			if strings.HasPrefix(stmt, "INSERT INTO channel_kpis_daily") || strings.HasPrefix(stmt, "INSERT INTO channel_revenue_daily") {
				if err := conn.Exec(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	check("after a second backfill")
}
