package analyticscases

import (
	"fmt"
	"math"
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/table"
)

// query is what every analysis query of pkg/analytics offers.
type query interface {
	SQL() (string, error)
}

// All returns every case. An error means a query refused its parameters.
func All() ([]Case, error) {
	var out []Case
	for _, group := range [][]spec{funnelCases(), attributionCases(), romiCases(), currencyCases(), currencyMoneyCases(), cohortCases(), stitchedCases(), kpiCases(), overviewCases(), segmentCases(), dataDrivenCases(), retailCases(), stagesCases()} {
		for _, s := range group {
			sql, err := s.query.SQL()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			c := Case{Name: s.name, Fixture: s.fixture, SQL: sql, Columns: s.columns, Key: s.key, Want: s.want}
			if f, ok := s.query.(finisher); ok {
				c.Finish = f.Finish
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// finisher is what the queries whose result Go computes from their rows
// (the data-driven attribution models) offer besides SQL.
type finisher interface {
	Finish(*table.Result) (*table.Result, error)
}

type spec struct {
	name    string
	fixture Fixture
	query   query
	columns []string
	key     int
	want    [][]any
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func at(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

// ev builds an event; ids are unique within a fixture by construction.
func ev(id, person, typ, channel, campaign string, t time.Time) Event {
	return Event{ID: id, Person: person, Type: typ, Channel: channel, Campaign: campaign, At: t}
}

func purchase(id, person string, t time.Time, revenue float64) Event {
	return Event{ID: id, Person: person, Type: "purchase", Channel: "web", At: t, Revenue: revenue}
}

func withProps(e Event, kv ...string) Event {
	e.Props = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Props[kv[i]] = kv[i+1]
	}
	return e
}

var funnelColumns = []string{"step", "step_name", "persons", "conversion_from_first", "conversion_from_previous", "median_seconds_from_first"}

// funnelCases: page_view -> add_to_cart -> purchase within 1 hour, over the
// week of 2026-03-02.
func funnelCases() []spec {
	d := func(dd, hh, mm int) time.Time { return at(2026, 3, dd, hh, mm, 0) }
	week := analytics.Range{From: day(2026, 3, 2), To: day(2026, 3, 9)}
	events := []Event{
		// f1 reaches step 3; the second add_to_cart changes nothing: 600 s, 1200 s.
		ev("f1-1", "f1", "page_view", "web", "", d(3, 10, 0)),
		ev("f1-2", "f1", "add_to_cart", "web", "", d(3, 10, 10)),
		ev("f1-3", "f1", "add_to_cart", "web", "", d(3, 10, 15)),
		purchase("f1-4", "f1", d(3, 10, 20), 10),
		// f2: the purchase comes 2 h after step 1, outside the window: step 2 at 1800 s.
		ev("f2-1", "f2", "page_view", "web", "", d(4, 9, 0)),
		ev("f2-2", "f2", "add_to_cart", "web", "", d(4, 9, 30)),
		purchase("f2-3", "f2", d(4, 11, 0), 10),
		// f3: add_to_cart before page_view is out of order: step 1 only.
		ev("f3-1", "f3", "add_to_cart", "web", "", d(4, 12, 0)),
		ev("f3-2", "f3", "page_view", "web", "", d(4, 12, 5)),
		purchase("f3-3", "f3", d(4, 12, 10), 10),
		// f4: the add_to_cart is 90 min after the first page_view but 40 min
		// after the repeated one, which goes on to step 3: 2400 s, 3000 s.
		ev("f4-1", "f4", "page_view", "web", "", d(5, 8, 0)),
		ev("f4-2", "f4", "page_view", "web", "", d(5, 8, 50)),
		ev("f4-3", "f4", "add_to_cart", "web", "", d(5, 9, 30)),
		purchase("f4-4", "f4", d(5, 9, 40), 10),
		// f5: step 1 only.
		ev("f5-1", "f5", "page_view", "web", "", d(6, 8, 0)),
		// f6: step 1 lies before the range, so f6 is not in the funnel.
		ev("f6-1", "f6", "page_view", "web", "", d(1, 23, 0)),
		ev("f6-2", "f6", "add_to_cart", "web", "", d(2, 0, 10)),
		purchase("f6-3", "f6", d(2, 0, 20), 10),
		// f7: step 2 lies after the range: step 1 only.
		ev("f7-1", "f7", "page_view", "web", "", d(8, 23, 50)),
		ev("f7-2", "f7", "add_to_cart", "web", "", d(9, 0, 5)),
	}
	steps := mustSteps("page_view,add_to_cart,purchase")
	// Step 1: f1 f2 f3 f4 f5 f7 = 6; step 2: f1 f2 f4 = 3; step 3: f1 f4 = 2.
	// Medians: step 2 of {600, 1800, 2400} = 1800; step 3 of {1200, 3000} = 2100.
	want := [][]any{
		{1.0, "page_view", 6.0, 1.0, 1.0, 0.0},
		{2.0, "add_to_cart", 3.0, 0.5, 0.5, 1800.0},
		{3.0, "purchase", 2.0, 2.0 / 6, 2.0 / 3, 2100.0},
	}

	b := func(hh, mm int) time.Time { return at(2026, 3, 3, hh, mm, 0) }
	breakdown := []Event{
		// email: b1 converts after 1 h; b4's first page_view is email.
		ev("b1-1", "b1", "page_view", "email", "", b(8, 0)),
		purchase("b1-2", "b1", b(9, 0), 5),
		ev("b4-1", "b4", "page_view", "email", "", b(8, 0)),
		ev("b4-2", "b4", "page_view", "paid_search", "", b(9, 0)),
		// paid_search: b2 converts after 2 h, b3 does not.
		ev("b2-1", "b2", "page_view", "paid_search", "", b(10, 0)),
		purchase("b2-2", "b2", b(12, 0), 5),
		ev("b3-1", "b3", "page_view", "paid_search", "", b(10, 0)),
		// social: b5 never converts, so its step 2 has no median.
		ev("b5-1", "b5", "page_view", "social", "", b(11, 0)),
	}
	breakdownWant := [][]any{
		{"email", 1.0, "page_view", 2.0, 1.0, 1.0, 0.0},
		{"email", 2.0, "purchase", 1.0, 0.5, 0.5, 3600.0},
		{"paid_search", 1.0, "page_view", 2.0, 1.0, 1.0, 0.0},
		{"paid_search", 2.0, "purchase", 1.0, 0.5, 0.5, 7200.0},
		{"social", 1.0, "page_view", 1.0, 1.0, 1.0, 0.0},
		{"social", 2.0, "purchase", 0.0, 0.0, 0.0, nil},
	}

	filtered := []Event{
		// s1 and s3 convert 1 h after a shoes page_view; s2 saw hats only; s4 does not convert.
		withProps(ev("s1-1", "s1", "page_view", "web", "", b(8, 0)), "category", "shoes"),
		purchase("s1-2", "s1", b(9, 0), 5),
		withProps(ev("s2-1", "s2", "page_view", "web", "", b(8, 0)), "category", "hats"),
		purchase("s2-2", "s2", b(9, 0), 5),
		withProps(ev("s3-1", "s3", "page_view", "web", "", b(8, 0)), "category", "hats"),
		withProps(ev("s3-2", "s3", "page_view", "web", "", b(10, 0)), "category", "shoes"),
		purchase("s3-3", "s3", b(11, 0), 5),
		withProps(ev("s4-1", "s4", "page_view", "web", "", b(8, 0)), "category", "shoes"),
	}
	return []spec{
		{
			name:    "funnel: window expiry, out-of-order and repeated steps, range edges",
			fixture: Fixture{Events: events},
			query:   analytics.FunnelQuery{Range: week, Steps: steps, Window: time.Hour},
			columns: funnelColumns, key: 1, want: want,
		},
		{
			name:    "funnel: breakdown by the channel of the first step-1 event",
			fixture: Fixture{Events: breakdown},
			query:   analytics.FunnelQuery{Range: week, Steps: mustSteps("page_view,purchase"), Window: 24 * time.Hour, Breakdown: "channel"},
			columns: append([]string{"channel"}, funnelColumns...), key: 2, want: breakdownWant,
		},
		{
			// The first step-1 event decides: s3 is hats, though its
			// shoes page_view came before its purchase too; its time to
			// step 2 runs from 8:00 (3 h). hats: {3600, 10800}.
			name:    "funnel: breakdown by a property of the first step-1 event",
			fixture: Fixture{Events: filtered},
			query:   analytics.FunnelQuery{Range: week, Steps: mustSteps("page_view,purchase"), Window: 24 * time.Hour, Breakdown: "property:category"},
			columns: append([]string{"category"}, funnelColumns...), key: 2,
			want: [][]any{
				{"hats", 1.0, "page_view", 2.0, 1.0, 1.0, 0.0},
				{"hats", 2.0, "purchase", 2.0, 1.0, 1.0, 7200.0},
				{"shoes", 1.0, "page_view", 2.0, 1.0, 1.0, 0.0},
				{"shoes", 2.0, "purchase", 1.0, 0.5, 0.5, 3600.0},
			},
		},
		{
			name:    "funnel: a step filtered by a property",
			fixture: Fixture{Events: filtered},
			query:   analytics.FunnelQuery{Range: week, Steps: mustSteps("page_view[category=shoes],purchase"), Window: 24 * time.Hour},
			columns: funnelColumns, key: 1,
			want: [][]any{
				{1.0, "page_view[category=shoes]", 3.0, 1.0, 1.0, 0.0},
				{2.0, "purchase", 2.0, 2.0 / 3, 2.0 / 3, 3600.0},
			},
		},
	}
}

func mustSteps(s string) []analytics.Step {
	steps, err := analytics.ParseSteps(s)
	if err != nil {
		panic(err)
	}
	return steps
}

// april is the range of the attribution and ROMI cases.
var april = analytics.Range{From: day(2026, 4, 1), To: day(2026, 5, 1)}

// journeys are the attribution fixture: conversions in April 2026 with
// 0, 1, 2, 3 and 5 touches, lookback edges, a direct-only journey, a person
// converting twice, and conversions outside the range.
func journeys() []Event {
	t := at(2026, 4, 20, 12, 0, 0) // every conversion is at noon on some day
	before := func(base time.Time, dur time.Duration) time.Time { return base.Add(-dur) }
	const dayLen = 24 * time.Hour
	t2, t3, t5, tl, td := t.AddDate(0, 0, 1), t.AddDate(0, 0, 2), t.AddDate(0, 0, 3), t.AddDate(0, 0, 4), t.AddDate(0, 0, 5)
	tm := t.AddDate(0, 0, 6)
	return []Event{
		// a0: no touch -> (none).
		purchase("a0-p", "a0", t, 100),
		// a1: one touch.
		ev("a1-1", "a1", "email_click", "email", "newsletter", before(t, dayLen)),
		purchase("a1-p", "a1", t, 100),
		// a2: two touches, 3 and 1 days before; the page_view is no touch type.
		ev("a2-1", "a2", "click", "paid_search", "brand", before(t2, 3*dayLen)),
		ev("a2-2", "a2", "page_view", "social", "prospecting", before(t2, 2*dayLen)),
		ev("a2-3", "a2", "email_click", "email", "newsletter", before(t2, dayLen)),
		purchase("a2-p", "a2", t2, 100),
		// a3: three touches, 10, 5 and 1 days before.
		ev("a3-1", "a3", "click", "paid_search", "brand", before(t3, 10*dayLen)),
		ev("a3-2", "a3", "click", "social", "prospecting", before(t3, 5*dayLen)),
		ev("a3-3", "a3", "email_click", "email", "newsletter", before(t3, dayLen)),
		purchase("a3-p", "a3", t3, 300),
		// a5: five touches, 20, 15, 7, 3 days and 1 hour before; the last is direct.
		ev("a5-1", "a5", "click", "paid_search", "brand", before(t5, 20*dayLen)),
		ev("a5-2", "a5", "click", "social", "prospecting", before(t5, 15*dayLen)),
		ev("a5-3", "a5", "sms_click", "sms", "flash", before(t5, 7*dayLen)),
		ev("a5-4", "a5", "push_open", "push", "app", before(t5, 3*dayLen)),
		ev("a5-5", "a5", "click", "direct", "", before(t5, time.Hour)),
		purchase("a5-p", "a5", t5, 500),
		// aL: lookback edges: exactly 30 days before counts, one second more
		// does not, and a touch at the conversion's own time does not.
		ev("aL-1", "aL", "click", "affiliate", "partners", before(tl, 30*dayLen+time.Second)),
		ev("aL-2", "aL", "click", "display", "retarget", before(tl, 30*dayLen)),
		ev("aL-3", "aL", "store_visit", "retail", "store", tl),
		purchase("aL-p", "aL", tl, 200),
		// aD: direct only: every model falls back to direct.
		ev("aD-1", "aD", "click", "direct", "", before(td, 2*dayLen)),
		ev("aD-2", "aD", "click", "direct", "", before(td, dayLen)),
		purchase("aD-p", "aD", td, 100),
		// aM converts twice; both conversions have the email touch, and the
		// first purchase is no touch of the second.
		ev("aM-1", "aM", "email_click", "email", "newsletter", before(tm, 2*dayLen)),
		purchase("aM-p1", "aM", before(tm, dayLen), 100),
		purchase("aM-p2", "aM", tm, 50),
		// aX: conversions before the range and at its end do not count.
		ev("aX-1", "aX", "click", "affiliate", "partners", at(2026, 3, 30, 12, 0, 0)),
		purchase("aX-p1", "aX", at(2026, 3, 31, 12, 0, 0), 1000),
		purchase("aX-p2", "aX", day(2026, 5, 1), 1000),
	}
}

// decay returns time decay shares (half-life 7 days) of touches the given
// number of days before their conversion: 2^(-days/7), normalised.
func decay(days ...float64) []float64 {
	w := make([]float64, len(days))
	sum := 0.0
	for i, d := range days {
		w[i] = math.Pow(2, -d/7)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// attributionCases checks every model on the journeys. Totals are 9
// conversions (aM converts twice) and 1550 of revenue under every model.
func attributionCases() []spec {
	a2 := decay(3, 1)
	a3 := decay(10, 5, 1)
	a5 := decay(20, 15, 7, 3, 1.0/24)
	expected := map[analytics.Model][][]any{
		analytics.FirstTouch: {
			{"(none)", 1.0, 100.0},
			{"email", 3.0, 250.0},       // a1, aM twice
			{"paid_search", 3.0, 900.0}, // a2, a3, a5
			{"display", 1.0, 200.0},     // aL
			{"direct", 1.0, 100.0},      // aD
		},
		analytics.LastTouch: {
			{"(none)", 1.0, 100.0},
			{"email", 5.0, 650.0},  // a1, a2, a3, aM twice
			{"direct", 2.0, 600.0}, // a5, aD
			{"display", 1.0, 200.0},
		},
		analytics.LastNonDirect: {
			{"(none)", 1.0, 100.0},
			{"email", 5.0, 650.0},
			{"push", 1.0, 500.0},   // a5's last non-direct touch
			{"direct", 1.0, 100.0}, // aD falls back to direct
			{"display", 1.0, 200.0},
		},
		analytics.Linear: {
			{"(none)", 1.0, 100.0},
			{"email", 1 + 0.5 + 1.0/3 + 2, 100 + 50 + 100 + 150.0},
			{"paid_search", 0.5 + 1.0/3 + 0.2, 50 + 100 + 100.0},
			{"social", 1.0/3 + 0.2, 100 + 100.0},
			{"sms", 0.2, 100.0},
			{"push", 0.2, 100.0},
			{"direct", 0.2 + 1, 100 + 100.0},
			{"display", 1.0, 200.0},
		},
		analytics.PositionBased: {
			{"(none)", 1.0, 100.0},
			{"email", 1 + 0.5 + 0.4 + 2, 100 + 50 + 120 + 150.0},
			{"paid_search", 0.5 + 0.4 + 0.4, 50 + 120 + 200.0},
			{"social", 0.2 + 0.2/3, 60 + 500*0.2/3},
			{"sms", 0.2 / 3, 500 * 0.2 / 3},
			{"push", 0.2 / 3, 500 * 0.2 / 3},
			{"direct", 0.4 + 1, 200 + 100.0},
			{"display", 1.0, 200.0},
		},
		analytics.TimeDecay: {
			{"(none)", 1.0, 100.0},
			{"email", 1 + a2[1] + a3[2] + 2, 100 + 100*a2[1] + 300*a3[2] + 150},
			{"paid_search", a2[0] + a3[0] + a5[0], 100*a2[0] + 300*a3[0] + 500*a5[0]},
			{"social", a3[1] + a5[1], 300*a3[1] + 500*a5[1]},
			{"sms", a5[2], 500 * a5[2]},
			{"push", a5[3], 500 * a5[3]},
			{"direct", a5[4] + 1, 500*a5[4] + 100},
			{"display", 1.0, 200.0},
		},
	}
	var out []spec
	for _, m := range analytics.Models {
		a := analytics.DefaultAttribution()
		a.Model = m
		out = append(out, spec{
			name:    "attribution: " + string(m),
			fixture: Fixture{Events: journeys()},
			query:   analytics.AttributionQuery{Range: april, Attribution: a},
			columns: []string{"channel", "conversions", "revenue"}, key: 1,
			want: expected[m],
		})
	}
	return out
}

// spendReports: paid_search is restated from 300 to 250; days before and
// after April do not count; affiliate spends without converting.
func spendReports() []Spend {
	return []Spend{
		{Date: day(2026, 4, 10), Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 300, Version: 1},
		{Date: day(2026, 4, 10), Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 250, Version: 2},
		{Date: day(2026, 3, 31), Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 999, Version: 1},
		{Date: day(2026, 5, 1), Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 999, Version: 1},
		{Date: day(2026, 4, 15), Channel: "email", Campaign: "newsletter", Source: "esp", Cost: 50, Version: 1},
		{Date: day(2026, 4, 20), Channel: "display", Campaign: "retarget", Source: "criteo", Cost: 400, Version: 1},
		{Date: day(2026, 4, 12), Channel: "affiliate", Campaign: "partners", Source: "awin", Cost: 80, Version: 1},
	}
}

func romiCases() []spec {
	linear := analytics.DefaultAttribution()
	linear.Model = analytics.Linear
	first := analytics.DefaultAttribution()
	first.Model = analytics.FirstTouch
	emailConv := 1 + 0.5 + 1.0/3 + 2
	psConv := 0.5 + 1.0/3 + 0.2
	fixture := Fixture{Events: journeys(), Spend: spendReports()}
	return []spec{
		{
			name:    "romi: linear per channel, with a spend restatement",
			fixture: fixture,
			query:   analytics.ROMIQuery{Range: april, Attribution: linear},
			columns: []string{"channel", "conversions", "revenue", "spend", "roas", "romi", "cpa"}, key: 1,
			want: [][]any{
				{"(none)", 1.0, 100.0, 0.0, nil, nil, nil},
				{"email", emailConv, 400.0, 50.0, 8.0, 7.0, 50 / emailConv},
				{"paid_search", psConv, 250.0, 250.0, 1.0, 0.0, 250 / psConv},
				{"social", 1.0/3 + 0.2, 200.0, 0.0, nil, nil, nil},
				{"sms", 0.2, 100.0, 0.0, nil, nil, nil},
				{"push", 0.2, 100.0, 0.0, nil, nil, nil},
				{"direct", 1.2, 200.0, 0.0, nil, nil, nil},
				{"display", 1.0, 200.0, 400.0, 0.5, -0.5, 400.0},
				{"affiliate", 0.0, 0.0, 80.0, 0.0, -1.0, nil},
			},
		},
		{
			name:    "romi: first touch per campaign",
			fixture: fixture,
			query:   analytics.ROMIQuery{Range: april, Attribution: first, ByCampaign: true},
			columns: []string{"channel", "campaign", "conversions", "revenue", "spend", "roas", "romi", "cpa"}, key: 2,
			want: [][]any{
				{"(none)", "(none)", 1.0, 100.0, 0.0, nil, nil, nil},
				{"email", "newsletter", 3.0, 250.0, 50.0, 5.0, 4.0, 50.0 / 3},
				{"paid_search", "brand", 3.0, 900.0, 250.0, 3.6, 2.6, 250.0 / 3},
				{"display", "retarget", 1.0, 200.0, 400.0, 0.5, -0.5, 400.0},
				{"direct", "", 1.0, 100.0, 0.0, nil, nil, nil},
				{"affiliate", "partners", 0.0, 0.0, 80.0, 0.0, -1.0, nil},
			},
		},
	}
}

var cohortColumns = []string{"cohort", "period", "cohort_size", "active", "retention", "revenue",
	"revenue_per_person", "cumulative_revenue_per_person"}

func cohortCases() []spec {
	monthly := []Event{
		// c1: cohort 2025-11, buys in periods 0, 1 and 2 (the last second of January).
		purchase("c1-1", "c1", at(2025, 11, 10, 9, 0, 0), 100),
		purchase("c1-2", "c1", at(2025, 12, 5, 9, 0, 0), 50),
		purchase("c1-3", "c1", at(2026, 1, 31, 23, 59, 59), 30),
		// c2: cohort 2025-11 on its last hour; a page_view is no purchase.
		purchase("c2-1", "c2", at(2025, 11, 30, 23, 0, 0), 200),
		ev("c2-2", "c2", "page_view", "web", "", at(2025, 12, 10, 9, 0, 0)),
		// c3: cohort 2025-12 on its last second; buys again at the new year.
		purchase("c3-1", "c3", at(2025, 12, 31, 23, 59, 59), 80),
		purchase("c3-2", "c3", day(2026, 1, 1), 20),
		// c4: cohort 2026-01; its February purchase lies after the range.
		purchase("c4-1", "c4", at(2026, 1, 15, 9, 0, 0), 40),
		purchase("c4-2", "c4", at(2026, 2, 3, 9, 0, 0), 40),
		// c5: first purchase before the range: in no cohort of the result.
		purchase("c5-1", "c5", at(2025, 10, 20, 9, 0, 0), 70),
		purchase("c5-2", "c5", at(2025, 11, 15, 9, 0, 0), 70),
		// c6: never buys.
		ev("c6-1", "c6", "page_view", "web", "", at(2025, 11, 12, 9, 0, 0)),
	}
	weekly := []Event{
		// Week of Monday 2025-12-29: w1 (email) returns the next week; w2
		// (paid_search, first seen on Sunday night) buys in its first week.
		ev("w1-1", "w1", "page_view", "email", "", at(2025, 12, 29, 10, 0, 0)),
		ev("w1-2", "w1", "page_view", "web", "", at(2026, 1, 5, 10, 0, 0)),
		ev("w2-1", "w2", "click", "paid_search", "", at(2026, 1, 4, 23, 59, 0)),
		purchase("w2-2", "w2", at(2026, 1, 4, 23, 59, 30), 10),
		// Week of 2026-01-05: w3 (social) buys on its Sunday.
		ev("w3-1", "w3", "page_view", "social", "", day(2026, 1, 5)),
		purchase("w3-2", "w3", at(2026, 1, 11, 18, 0, 0), 25),
		// w4 was first seen before the range.
		ev("w4-1", "w4", "page_view", "email", "", at(2025, 12, 28, 10, 0, 0)),
		ev("w4-2", "w4", "page_view", "email", "", at(2025, 12, 30, 10, 0, 0)),
	}
	return []spec{
		{
			name:    "cohort: monthly by first purchase across the year boundary",
			fixture: Fixture{Events: monthly},
			query: analytics.CohortQuery{Range: analytics.Range{From: day(2025, 11, 1), To: day(2026, 2, 1)},
				Period: analytics.Month, Periods: 3, By: analytics.FirstPurchase, Activity: analytics.PurchaseActivity,
				PurchaseType: "purchase"},
			columns: cohortColumns, key: 2,
			// 2025-11: c1 and c2; 2025-12: c3; 2026-01: c4. Periods
			// starting on or after 2026-02-01 are not shown.
			want: [][]any{
				{"2025-11-01", 0.0, 2.0, 2.0, 1.0, 300.0, 150.0, 150.0},
				{"2025-11-01", 1.0, 2.0, 1.0, 0.5, 50.0, 25.0, 175.0},
				{"2025-11-01", 2.0, 2.0, 1.0, 0.5, 30.0, 15.0, 190.0},
				{"2025-12-01", 0.0, 1.0, 1.0, 1.0, 80.0, 80.0, 80.0},
				{"2025-12-01", 1.0, 1.0, 1.0, 1.0, 20.0, 20.0, 100.0},
				{"2026-01-01", 0.0, 1.0, 1.0, 1.0, 40.0, 40.0, 40.0},
			},
		},
		{
			name:    "cohort: weekly by first event and its channel, any activity",
			fixture: Fixture{Events: weekly},
			query: analytics.CohortQuery{Range: analytics.Range{From: day(2025, 12, 29), To: day(2026, 1, 12)},
				Period: analytics.Week, Periods: 2, By: analytics.FirstSeen, Activity: analytics.AnyActivity,
				ByChannel: true, PurchaseType: "purchase"},
			columns: append([]string{"cohort", "channel"}, cohortColumns[1:]...), key: 3,
			want: [][]any{
				{"2025-12-29", "email", 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0},
				{"2025-12-29", "email", 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0},
				{"2025-12-29", "paid_search", 0.0, 1.0, 1.0, 1.0, 10.0, 10.0, 10.0},
				{"2025-12-29", "paid_search", 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 10.0},
				{"2026-01-05", "social", 0.0, 1.0, 1.0, 1.0, 25.0, 25.0, 25.0},
			},
		},
	}
}

// stitchedCases: two anonymous persons are merged into a customer after
// their events were stored; every analysis counts one person. Without the
// overrides the funnel would stop at step 1, attribution would credit
// (none), and the cohort would miss the customer's return.
func stitchedCases() []spec {
	events := []Event{
		ev("j-1", "p-anon-a", "click", "paid_search", "brand", at(2026, 6, 1, 9, 0, 0)),
		ev("j-2", "p-anon-b", "email_click", "email", "newsletter", at(2026, 6, 2, 9, 0, 0)),
		ev("j-3", "p-cust", "add_to_cart", "web", "", at(2026, 6, 2, 10, 0, 0)),
		purchase("j-4", "p-cust", at(2026, 6, 2, 11, 0, 0), 120),
		ev("j-5", "p-solo", "click", "social", "prospecting", at(2026, 6, 3, 9, 0, 0)),
	}
	overrides := []Override{
		{Person: "p-anon-a", Survivor: "p-cust", Version: 1},
		// p-anon-b was first linked to another person, then re-pointed.
		{Person: "p-anon-b", Survivor: "p-other", Version: 1},
		{Person: "p-anon-b", Survivor: "p-cust", Version: 2},
	}
	fixture := Fixture{Events: events, Overrides: overrides}
	june := analytics.Range{From: day(2026, 6, 1), To: day(2026, 6, 8)}
	linear := analytics.DefaultAttribution()
	linear.Model = analytics.Linear
	return []spec{
		{
			name:    "stitched: funnel across merged persons",
			fixture: fixture,
			query:   analytics.FunnelQuery{Range: june, Steps: mustSteps("click,add_to_cart,purchase"), Window: 48 * time.Hour},
			columns: funnelColumns, key: 1,
			// p-cust via p-anon-a's click: 25 h and 26 h; p-solo: step 1.
			want: [][]any{
				{1.0, "click", 2.0, 1.0, 1.0, 0.0},
				{2.0, "add_to_cart", 1.0, 0.5, 0.5, 90000.0},
				{3.0, "purchase", 1.0, 0.5, 1.0, 93600.0},
			},
		},
		{
			name:    "stitched: linear attribution across merged persons",
			fixture: fixture,
			query:   analytics.AttributionQuery{Range: june, Attribution: linear},
			columns: []string{"channel", "conversions", "revenue"}, key: 1,
			want: [][]any{
				{"email", 0.5, 60.0},
				{"paid_search", 0.5, 60.0},
			},
		},
		{
			name:    "stitched: daily cohorts by first event across merged persons",
			fixture: fixture,
			query: analytics.CohortQuery{Range: june, Period: analytics.Day, Periods: 3, By: analytics.FirstSeen,
				Activity: analytics.AnyActivity, PurchaseType: "purchase"},
			columns: cohortColumns, key: 2,
			want: [][]any{
				{"2026-06-01", 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0},
				{"2026-06-01", 1.0, 1.0, 1.0, 1.0, 120.0, 120.0, 120.0},
				{"2026-06-01", 2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 120.0},
				{"2026-06-03", 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0},
				{"2026-06-03", 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0},
				{"2026-06-03", 2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0},
			},
		},
	}
}
