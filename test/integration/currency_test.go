package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/rates"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestROMIInAReportingCurrencyEndToEnd publishes touchpoints, spend and
// exchange rates to Kafka with the publisher `touchline produce` and `rates
// load` use, lets the ingest service write them, and runs `touchline query
// romi --currency USD`: it equals the hand-computed figures. Publishing
// everything again and replaying the topics from the start changes nothing.
//
// Rates are the ECB's kind, units per euro: on 03-09 USD 1.10, HUF 400, GBP
// 0.80, ILS 4.0; on 03-12 USD 1.10, restated to 1.25. Converted into USD:
//
//   - c1 (paid_search) buys 40,000 HUF on 03-10, a day without rates: the
//     rates of 03-09, through EUR: 40000 / 400 * 1.10 = 110;
//   - c2 (email) buys 200 EUR on 03-12 at the restated 1.25: 250;
//   - c3 (paid_search) buys 80 ILS on 03-13: ILS of 03-09, USD of 03-12:
//     80 / 4 * 1.25 = 25;
//   - spend: paid_search 40 GBP on 03-10: 40 / 0.8 * 1.10 = 55; email 20 GBP
//     on 03-12: 20 / 0.8 * 1.25 = 31.25.
func TestROMIInAReportingCurrencyEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, _, cfgPath := setup(ctx, t, 2, nil)
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	money := func(units int64) *touchpoint.Money { m := touchpoint.Money(units * 1_000_000); return &m }
	touch := func(id, customer, typ, channel string, t time.Time) *touchpoint.Touchpoint {
		return &touchpoint.Touchpoint{EventID: id, EventTime: t, EventType: typ, Channel: channel, Campaign: "spring",
			Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": customer})}
	}
	buy := func(id, customer string, t time.Time, units int64, currency string) *touchpoint.Touchpoint {
		p := touch(id, customer, "purchase", "direct", t)
		p.Revenue, p.Currency, p.OrderID = money(units), currency, "o-"+id
		return p
	}
	rate := func(d int, quote, value string) *rates.ExchangeRate {
		r, ok := new(big.Rat).SetString(value)
		if !ok {
			t.Fatalf("rate %s", value)
		}
		return &rates.ExchangeRate{Date: touchpoint.DayOf(at(d, 0)), Base: "EUR", Quote: quote, Rate: r, Source: "ecb"}
	}
	spend := func(d int, channel, source string, units int64) *touchpoint.Spend {
		return &touchpoint.Spend{Date: touchpoint.DayOf(at(d, 0)), Channel: channel, Campaign: "spring", Cost: *money(units),
			Currency: "GBP", Source: source}
	}
	publishAll := func() {
		t.Helper()
		p, err := publish.Dial(ctx, cfg.Kafka)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, tp := range []*touchpoint.Touchpoint{
			touch("c1-1", "c1", "click", "paid_search", at(9, 10)),
			buy("c1-p", "c1", at(10, 12), 40000, "HUF"),
			touch("c2-1", "c2", "email_click", "email", at(11, 10)),
			buy("c2-p", "c2", at(12, 12), 200, "EUR"),
			touch("c3-1", "c3", "click", "paid_search", at(12, 10)),
			buy("c3-p", "c3", at(13, 12), 80, "ILS"),
		} {
			if err := p.Touchpoint(ctx, tp); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range []*touchpoint.Spend{spend(10, "paid_search", "google_ads", 40), spend(12, "email", "esp", 20)} {
			if err := p.Spend(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range []*rates.ExchangeRate{
			rate(9, "USD", "1.10"), rate(9, "HUF", "400"), rate(9, "GBP", "0.80"), rate(9, "ILS", "4.0"),
			rate(12, "USD", "1.10"), rate(12, "USD", "1.25"), // the restatement
		} {
			if err := p.ExchangeRate(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	topics := []string{cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend, cfg.Kafka.Topics.Rates()}
	// channel -> conversions, revenue, spend, roas, romi, cpa, unconverted conversions and spend.
	want := map[string][]float64{
		"paid_search": {2, 135, 55, 135 / 55.0, 80 / 55.0, 27.5, 0, 0},
		"email":       {1, 250, 31.25, 8, 7, 31.25, 0, 0},
	}
	check := func(stage string) {
		t.Helper()
		out, err := runTouchline(ctx, "query", "romi", "--config", cfgPath, "--model", "last_touch", "--currency", "USD",
			"--from", "2026-03-01", "--to", "2026-04-01", "--format", "json")
		if err != nil {
			t.Fatalf("%s: touchline query romi: %v\n%s", stage, err, out)
		}
		var rows []map[string]any
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", stage, err, out)
		}
		if len(rows) != len(want) {
			t.Fatalf("%s: rows %v, want the channels of %v", stage, rows, want)
		}
		for _, row := range rows {
			w, ok := want[row["channel"].(string)]
			if !ok || row["currency"] != "USD" {
				t.Fatalf("%s: unexpected row %v", stage, row)
			}
			for i, col := range []string{"conversions", "revenue", "spend", "roas", "romi", "cpa", "unconverted_conversions", "unconverted_spend"} {
				got, ok := row[col].(float64)
				if !ok || math.Abs(got-w[i]) > 1e-9*math.Max(1, math.Abs(w[i])) {
					t.Errorf("%s: %s %s = %v, want %v", stage, row["channel"], col, row[col], w[i])
				}
			}
		}
	}
	publishAll()
	proc := startIngest(t, cfgPath, logPath(t))
	waitTopicsCommitted(ctx, t, cfg, topics...)
	check("first pass")
	if err := proc.Terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
	// The same records again, and the ingest group back at the start.
	publishAll()
	resetGroup(ctx, t, cfg, cfg.Ingest.Group, topics...)
	proc = startIngest(t, cfgPath, logPath(t))
	waitTopicsCommitted(ctx, t, cfg, topics...)
	check("after republishing and a replay")
	if err := proc.Terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
}

// bigDayRule is the revenue rule of the currency alerts: a channel's
// revenue of a day above 220.
const bigDayRule = `  - name: big-day
    kpi: revenue
    scope: channel
    window: 1d
    every: 1d
    threshold: {above: 220}
`

// TestAlertsInAReportingCurrency evaluates revenue and ROAS rules with the
// reporting currency USD in attribution.yaml, on the hand-computed fixture
// of the currency cases (test/analyticscases): a rule fires exactly where
// the converted figures breach it, where the amounts summed as stored would
// not (or the other way round), and a group with money without a rate has
// no value.
func TestAlertsInAReportingCurrency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, nil)
	cfg.Pipelines = pipelinesWithCurrency(t, "USD")
	engine, set := caseEngine(ctx, t, cfg, conn, "currency: overview per channel in USD", "rules:\n"+bigDayRule+`  - name: unprofitable
    kpi: roas
    model: linear
    scope: channel
    window: 30d
    every: 1d
    threshold: {below: 1}
`)
	type seen struct {
		value          float64
		defined, fires bool
	}
	currencies := map[string]bool{}
	observe := func(at time.Time, rule *rules.Rule) map[string]seen {
		t.Helper()
		outcomes, err := engine.Plan(ctx, at, []*rules.Rule{rule})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]seen{}
		for _, o := range outcomes {
			got[o.Observation.Group.Key()] = seen{o.Observation.Value, o.Observation.Defined, o.Observation.Breach}
			currencies[o.Observation.Currency] = true
		}
		return got
	}
	expect := func(what string, got map[string]seen, key string, want seen) {
		t.Helper()
		g := got[key]
		if g.defined != want.defined || g.fires != want.fires || math.Abs(g.value-want.value) > 1e-9 {
			t.Errorf("%s: %s = %+v, want %+v (all: %v)", what, key, g, want, got)
		}
	}
	day := func(d int) time.Time { return time.Date(2026, 4, d, 0, 0, 0, 0, time.UTC) }
	// 04-15: 200 EUR at the restated 1.20 is 240 USD, above 220 (as stored:
	// 200, below it).
	expect("revenue of 04-15", observe(day(16), set.Rules[0]), "web", seen{240, true, true})
	// 04-10: 38,000 HUF through EUR is 110 USD, below 220 (as stored: 38,000).
	expect("revenue of 04-10", observe(day(11), set.Rules[0]), "web", seen{110, true, false})
	// 04-17: 1,000 JPY without a rate: no value, no alert.
	expect("revenue of 04-17", observe(day(18), set.Rules[0]), "web", seen{0, false, false})
	// April under linear attribution: paid_search 67.5 / 110 USD (as stored:
	// 100 / 85, above 1), display 0 / 30, email 350 / 24; social's money
	// has no rate.
	roas := observe(day(31), set.Rules[1])
	expect("roas of April", roas, "paid_search", seen{67.5 / 110, true, true})
	expect("roas of April", roas, "display", seen{0, true, true})
	expect("roas of April", roas, "email", seen{350 / 24.0, true, false})
	expect("roas of April", roas, "social", seen{0, false, false})
	if len(currencies) != 1 || !currencies["USD"] {
		t.Errorf("the values are in %v, want USD only", currencies)
	}
	checkAlertRecordCurrencies(ctx, t, cfg, conn, day(16))
}

// checkAlertRecordCurrencies runs the revenue rule of the currency alerts
// and a conversions rule at `at` (the end of 04-15) with the alerts topic
// as sink, and reads the topic: both fire for web, the revenue record with
// 240 in the currency USD, the conversions record with 1 and no currency.
// The notifications and states stored in ClickHouse, as `touchline query
// alert-history` and `alert-state` print them, state the same currencies.
func checkAlertRecordCurrencies(ctx context.Context, t *testing.T, cfg config.Config, conn driver.Conn, at time.Time) {
	t.Helper()
	set, err := rules.ParseRules("alerts.yaml", []byte("rules:\n"+bigDayRule+`  - name: any-purchase
    kpi: conversions
    scope: channel
    window: 1d
    every: 1d
    threshold: {above: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	topic := alertTopic(ctx, t, cfg, alertsClient(ctx, t, cfg))
	engine, err := alertscmd.NewEngine(ctx, cfg, conn, set, []alerts.Sink{topic}, alerts.NewMetrics(prometheus.NewRegistry()), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Step(ctx, at); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		value    float64
		currency any
	}{
		"big-day":      {240, map[string]any{"string": "USD"}},
		"any-purchase": {1, nil},
	}
	for _, rec := range readAlertTopic(ctx, t, cfg, len(want)) {
		w, ok := want[rec["rule"].(string)]
		delete(want, rec["rule"].(string))
		channel, _ := rec["channel"].(map[string]any)
		if !ok || rec["status"] != "firing" || channel["string"] != "web" || math.Abs(rec["value"].(float64)-w.value) > 1e-9 ||
			!reflect.DeepEqual(rec["currency"], w.currency) {
			t.Errorf("alert record %v: want value %v, currency %v", rec, w.value, w.currency)
		}
	}
	history := cliRows(ctx, t, cfg, "alert-history", "--from", at.Add(-time.Hour).Format(time.DateOnly), "--to", at.AddDate(0, 0, 1).Format(time.DateOnly))
	states := cliRows(ctx, t, cfg, "alert-state")
	for what, rows := range map[string][]map[string]any{"alert-history": history, "alert-state": states} {
		got := map[string]any{}
		for _, r := range rows {
			got[fmt.Sprint(r["rule"], "/", r["channel"])] = r["currency"]
		}
		if want := map[string]any{"big-day/web": "USD", "any-purchase/web": ""}; !reflect.DeepEqual(got, want) {
			t.Errorf("touchline query %s: currencies by rule and channel %v, want %v", what, got, want)
		}
	}
}

// pipelinesWithCurrency returns a copy of the shipped pipelines directory
// whose attribution.yaml names code as the reporting currency.
func pipelinesWithCurrency(t *testing.T, code string) string {
	t.Helper()
	src := filepath.Join(testenv.RepoRoot(), "pipelines")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "attribution.yaml" {
			s := strings.Replace(string(b), `reporting_currency: ""`, "reporting_currency: "+code, 1)
			if s == string(b) {
				t.Fatal("attribution.yaml has no empty reporting_currency to replace")
			}
			b = []byte(s)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
