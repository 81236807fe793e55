package analyticscases

import (
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
)

// may is the range of the retail KPI and stage cases.
var may = analytics.Range{From: day(2026, 5, 1), To: day(2026, 6, 1)}

// order is a purchase with an order id; refund refunds amount of one.
func order(id, person, orderID string, t time.Time, revenue float64) Event {
	e := purchase(id, person, t, revenue)
	e.OrderID = orderID
	return e
}

func refund(id, person, orderID string, t time.Time, amount float64) Event {
	return Event{ID: id, Person: person, Type: analytics.RefundType, Channel: "web", OrderID: orderID, At: t, Revenue: amount}
}

// customers are the retail fixture: orders in May 2026 of customers
// acquired through different channels, with refunds, a customer stitched
// after their first purchase and one whose orders span two cohorts.
func customers() Fixture {
	noon := func(m time.Month, d int) time.Time { return at(2026, m, d, 12, 0, 0) }
	return Fixture{
		Events: []Event{
			// k1: acquired by paid_search in April, first order in April
			// (cohort 2026-04), two orders in May 10 days apart; the May
			// email click is no acquisition.
			ev("k1-1", "k1", "click", "paid_search", "brand", noon(4, 20)),
			order("k1-2", "k1", "K1-A", noon(4, 25), 100),
			order("k1-3", "k1", "K1-B", noon(5, 3), 200),
			ev("k1-4", "k1", "email_click", "email", "newsletter", noon(5, 10)),
			order("k1-5", "k1", "K1-C", noon(5, 13), 100),
			// k2: acquired by email; 30 of the 80 order refunded in May,
			// 10 more in June (after the range: not netted).
			ev("k2-1", "k2", "email_click", "email", "newsletter", noon(5, 1)),
			order("k2-2", "k2", "K2-A", noon(5, 2), 80),
			refund("k2-3", "k2", "K2-A", noon(5, 5), 30),
			refund("k2-4", "k2", "K2-A", noon(6, 2), 10),
			// k3: the anonymous k3-anon clicked a social ad and bought;
			// after that purchase she was stitched into k3-cust, who
			// bought again after a paid_search click. One customer,
			// acquired by social, two orders 15 days apart.
			ev("k3-1", "k3-anon", "click", "social", "prospecting", noon(5, 4)),
			order("k3-2", "k3-anon", "K3-A", noon(5, 5), 60),
			ev("k3-3", "k3-cust", "click", "paid_search", "brand", noon(5, 19)),
			order("k3-4", "k3-cust", "K3-B", noon(5, 20), 40),
			// k4: no touch; a refund without an order id nets nothing; the
			// June order lies after the range.
			order("k4-1", "k4", "K4-A", noon(5, 7), 50),
			refund("k4-2", "k4", "", noon(5, 8), 50),
			order("k4-3", "k4", "K4-B", noon(6, 1), 500),
			// k5: acquired by paid_search; three orders over 2 days, the
			// last refunded in full.
			ev("k5-1", "k5", "click", "paid_search", "brand", noon(5, 9)),
			order("k5-2", "k5", "K5-A", noon(5, 10), 120),
			order("k5-3", "k5", "K5-B", noon(5, 11), 30),
			order("k5-4", "k5", "K5-C", noon(5, 12), 50),
			refund("k5-5", "k5", "K5-C", noon(5, 15), 50),
			// k6: the May refund is of an April order: k6 is no customer
			// of May and the refund nets nothing.
			order("k6-1", "k6", "K6-A", noon(4, 28), 70),
			refund("k6-2", "k6", "K6-A", noon(5, 2), 70),
		},
		Overrides: []Override{{Person: "k3-anon", Survivor: "k3-cust", Version: 1}},
	}
}

var retailColumns = []string{"customers", "orders", "revenue", "refunds", "net_revenue", "aov", "purchase_frequency",
	"repeat_rate", "avg_days_between_orders", "expected_lifetime", "projected_clv"}

// retailCases: the retail KPIs of May. Per customer (orders, gross, refunds,
// days spanned): k1 2, 300, 0, 10; k2 1, 80, 30, 0; k3 2, 100, 0, 15; k4
// 1, 50, 0, 0; k5 3, 200, 50, 2.
func retailCases() []spec {
	settings := analytics.DefaultAttribution()
	query := func(by string) analytics.RetailKPIsQuery {
		return analytics.RetailKPIsQuery{Range: may, Attribution: settings, By: by}
	}
	return []spec{
		{
			// 5 customers, 9 orders, 730 - 80 = 650; aov 650/9, frequency
			// 1.8, repeat 3/5, 27 days over 4 gaps, lifetime 1/(1-0.6).
			name:    "retail kpis: all customers, refunds netted by order id, stitched customer",
			fixture: customers(),
			query:   query(analytics.KPIsTotal),
			columns: retailColumns, key: 1,
			want: [][]any{{5.0, 9.0, 730.0, 80.0, 650.0, 650.0 / 9, 1.8, 0.6, 6.75, 2.5, 325.0}},
		},
		{
			// paid_search: k1, k5; email: k2; social: k3 (through
			// k3-anon's click before her first purchase); (none): k4.
			name:    "retail kpis: by acquisition channel",
			fixture: customers(),
			query:   query(analytics.KPIsByChannel),
			columns: append([]string{"channel"}, retailColumns...), key: 1,
			want: [][]any{
				{"(none)", 1.0, 1.0, 50.0, 0.0, 50.0, 50.0, 1.0, 0.0, nil, 1.0, 50.0},
				{"email", 1.0, 1.0, 80.0, 30.0, 50.0, 50.0, 1.0, 0.0, nil, 1.0, 50.0},
				{"paid_search", 2.0, 5.0, 500.0, 50.0, 450.0, 90.0, 2.5, 1.0, 4.0, nil, nil},
				{"social", 1.0, 2.0, 100.0, 0.0, 100.0, 50.0, 2.0, 1.0, 15.0, nil, nil},
			},
		},
		{
			name:    "retail kpis: by acquisition campaign",
			fixture: customers(),
			query:   query(analytics.KPIsByCampaign),
			columns: append([]string{"channel", "campaign"}, retailColumns...), key: 2,
			want: [][]any{
				{"(none)", "(none)", 1.0, 1.0, 50.0, 0.0, 50.0, 50.0, 1.0, 0.0, nil, 1.0, 50.0},
				{"email", "newsletter", 1.0, 1.0, 80.0, 30.0, 50.0, 50.0, 1.0, 0.0, nil, 1.0, 50.0},
				{"paid_search", "brand", 2.0, 5.0, 500.0, 50.0, 450.0, 90.0, 2.5, 1.0, 4.0, nil, nil},
				{"social", "prospecting", 1.0, 2.0, 100.0, 0.0, 100.0, 50.0, 2.0, 1.0, 15.0, nil, nil},
			},
		},
		{
			// k1's first order was in April: her May orders count for
			// the April cohort. 2026-05: k2..k5, 7 orders, 430 - 80,
			// repeat 2/4, 17 days over 3 gaps, 50 x 1.75 x 2.
			name:    "retail kpis: by cohort, a customer whose orders span cohorts",
			fixture: customers(),
			query:   query(analytics.KPIsByCohort),
			columns: append([]string{"cohort"}, retailColumns...), key: 1,
			want: [][]any{
				{"2026-04-01", 1.0, 2.0, 300.0, 0.0, 300.0, 150.0, 2.0, 1.0, 10.0, nil, nil},
				{"2026-05-01", 4.0, 7.0, 430.0, 80.0, 350.0, 50.0, 1.75, 0.5, 17.0 / 3, 2.0, 175.0},
			},
		},
		{
			// The orders of the currency cases in USD: x1 110, x2 25, x4
			// 240 less a refund of 50 EUR at 1.20 (60), x6 25; x3's order
			// has a refund in JPY without a rate and x5's order itself has
			// none: both left out of the money and of aov's orders.
			// Net 400 - 60 = 340 over 4 orders.
			name:    "retail kpis: in a reporting currency, orders and refunds without a rate left out",
			fixture: currencyRetail(),
			query:   analytics.RetailKPIsQuery{Range: april, Attribution: settings, Currency: usd},
			columns: append([]string{"currency"}, append(retailColumns, "unconverted_orders")...), key: 1,
			want: [][]any{{"USD", 6.0, 6.0, 400.0, 60.0, 340.0, 85.0, 1.0, 0.0, nil, 1.0, 85.0, 2.0}},
		},
		{
			// Linear credit of May's orders: K1-C and K3-B are shared
			// half and half (paid_search with email, and with social);
			// the refunds of K2-A (email) and K5-C (paid_search) follow
			// their orders' credit. The customers' KPIs stay those of
			// the acquisition channels above.
			name:    "retail kpis: orders and revenue credited by the linear model",
			fixture: customers(),
			query:   analytics.RetailKPIsQuery{Range: may, Attribution: settings, By: analytics.KPIsByChannel, Model: analytics.Linear},
			columns: append([]string{"channel"}, retailColumns...), key: 1,
			want: [][]any{
				{"(none)", 1.0, 1.0, 50.0, 0.0, 50.0, 50.0, 1.0, 0.0, nil, 1.0, 50.0},
				{"email", 1.0, 1.5, 130.0, 30.0, 100.0, 100 / 1.5, 1.0, 0.0, nil, 1.0, 50.0},
				{"paid_search", 2.0, 5.0, 470.0, 50.0, 420.0, 84.0, 2.5, 1.0, 4.0, nil, nil},
				{"social", 1.0, 1.5, 80.0, 0.0, 80.0, 80 / 1.5, 2.0, 1.0, 15.0, nil, nil},
			},
		},
		{
			// Last touch: K1-C goes to the May email click, K3-B to
			// paid_search.
			name:    "retail kpis: orders and revenue credited by the last touch model, by campaign",
			fixture: customers(),
			query:   analytics.RetailKPIsQuery{Range: may, Attribution: settings, By: analytics.KPIsByCampaign, Model: analytics.LastTouch},
			columns: append([]string{"channel", "campaign"}, retailColumns...), key: 2,
			want: [][]any{
				{"(none)", "(none)", 1.0, 1.0, 50.0, 0.0, 50.0, 50.0, 1.0, 0.0, nil, 1.0, 50.0},
				{"email", "newsletter", 1.0, 2.0, 180.0, 30.0, 150.0, 75.0, 1.0, 0.0, nil, 1.0, 50.0},
				{"paid_search", "brand", 2.0, 5.0, 440.0, 50.0, 390.0, 78.0, 2.5, 1.0, 4.0, nil, nil},
				{"social", "prospecting", 1.0, 1.0, 60.0, 0.0, 60.0, 60.0, 2.0, 1.0, 15.0, nil, nil},
			},
		},
		{
			// Without k2, email acquires nobody but earns K1-C under last
			// touch: its credited orders, and no customer KPIs.
			name:    "retail kpis: a channel credited with orders that acquired no customer",
			fixture: without(customers(), "k2"),
			query:   analytics.RetailKPIsQuery{Range: may, Attribution: settings, By: analytics.KPIsByChannel, Model: analytics.LastTouch},
			columns: append([]string{"channel"}, retailColumns...), key: 1,
			want: [][]any{
				{"(none)", 1.0, 1.0, 50.0, 0.0, 50.0, 50.0, 1.0, 0.0, nil, 1.0, 50.0},
				{"email", 0.0, 1.0, 100.0, 0.0, 100.0, 100.0, nil, nil, nil, nil, nil},
				{"paid_search", 2.0, 5.0, 440.0, 50.0, 390.0, 78.0, 2.5, 1.0, 4.0, nil, nil},
				{"social", 1.0, 1.0, 60.0, 0.0, 60.0, 60.0, 2.0, 1.0, 15.0, nil, nil},
			},
		},
		{
			// Linear in USD: x2's order (25) is shared by paid_search
			// and social; x3's (refund without a rate) and x5's (no
			// rate) orders keep their credit in orders and
			// unconverted_orders, out of the money and aov. Social's
			// only customer, x5, has no converted order: no CLV.
			name:    "retail kpis: linear credit in a reporting currency, orders without a rate left out",
			fixture: currencyRetail(),
			query:   analytics.RetailKPIsQuery{Range: april, Attribution: settings, By: analytics.KPIsByChannel, Model: analytics.Linear, Currency: usd},
			columns: append([]string{"channel", "currency"}, append(retailColumns, "unconverted_orders")...), key: 1,
			want: [][]any{
				{"(none)", "USD", 1.0, 1.0, 25.0, 0.0, 25.0, 25.0, 1.0, 0.0, nil, 1.0, 25.0, 0.0},
				{"email", "USD", 2.0, 2.0, 350.0, 60.0, 290.0, 145.0, 1.0, 0.0, nil, 1.0, 145.0, 0.0},
				{"paid_search", "USD", 2.0, 1.5, 12.5, 0.0, 12.5, 25.0, 1.0, 0.0, nil, 1.0, 25.0, 1.0},
				{"social", "USD", 1.0, 1.5, 12.5, 0.0, 12.5, 25.0, 1.0, 0.0, nil, 1.0, nil, 1.0},
			},
		},
		{
			name:    "retail kpis: no orders, no rows",
			fixture: customers(),
			query:   analytics.RetailKPIsQuery{Range: analytics.Range{From: day(2026, 3, 1), To: day(2026, 4, 1)}, Attribution: settings},
			columns: retailColumns, key: 1,
			want: [][]any{},
		},
	}
}

// without returns f without the events of person.
func without(f Fixture, person string) Fixture {
	events := f.Events[:0]
	for _, e := range f.Events {
		if e.Person != person {
			events = append(events, e)
		}
	}
	f.Events = events
	return f
}

// currencyRetail is the currency cases' fixture with order ids and refunds:
// 50 EUR of x4's order on 04-15 and 1,000 JPY of x3's on 04-17.
func currencyRetail() Fixture {
	f := currencyFixture()
	for i, e := range f.Events {
		if e.Type == "purchase" {
			f.Events[i].OrderID = "X-" + e.Person
		}
	}
	refundIn := func(id, person string, d int, amount float64, currency string) Event {
		e := refund(id, person, "X-"+person, at(2026, 4, d, 13, 0, 0), amount)
		e.Currency = currency
		return e
	}
	f.Events = append(f.Events, refundIn("x4-r", "x4", 15, 50, "EUR"), refundIn("x3-r", "x3", 17, 1000, "JPY"))
	return f
}
