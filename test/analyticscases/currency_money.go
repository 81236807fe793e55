package analyticscases

import "github.com/touchline-io/touchline/pkg/analytics"

// currencyCohortFixture is currencyFixture with two returning customers:
// x1 buys again 38,000 HUF on 04-15, through EUR at the HUF rate of 04-10
// (5 days old) and the restated EUR/USD 1.20 of 04-15: 38000 / 380 * 1.20 =
// 120 USD; x2 buys again 100 ILS on 04-22, whose ILS rates of 04-11 are 11
// days old: unconvertible.
func currencyCohortFixture() Fixture {
	f := currencyFixture()
	again := func(id, person string, d int, revenue float64, currency string) Event {
		e := purchase(id, person, at(2026, 4, d, 12, 0, 0), revenue)
		e.Currency = currency
		return e
	}
	f.Events = append(f.Events, again("x1-p2", "x1", 15, 38000, "HUF"), again("x2-p2", "x2", 22, 100, "ILS"))
	return f
}

// currencyMoneyCases: cohorts revenue and LTV, the overview, and the
// touchpoint counts and spend behind the alerts' revenue, spend and CAC in
// USD, on the fixture of the attribution and ROMI currency cases (see
// currencyFixture for each amount in USD). A currency that needs no rate
// gives the figures of the cases without a reporting currency.
func currencyMoneyCases() []spec {
	cohortWeekly := analytics.CohortQuery{Range: april, Period: analytics.Week, Periods: 3, By: analytics.FirstPurchase,
		Activity: analytics.PurchaseActivity, PurchaseType: "purchase", Currency: usd}
	cohortCurrencyColumns := append(append([]string{"cohort", "period", "currency"}, cohortColumns[2:]...), "unconverted_purchases")
	overviewColumns := []string{"channel", "currency", "touchpoints", "persons", "purchases", "revenue", "spend", "roas",
		"unconverted_purchases", "unconverted_spend"}

	// The monthly cohorts of cohortCases, every purchase in USD and no rates.
	monthly := cohortCases()[0]
	for i := range monthly.fixture.Events {
		monthly.fixture.Events[i].Currency = "USD"
	}
	monthlyUSD := monthly.query.(analytics.CohortQuery)
	monthlyUSD.Currency = usd
	var monthlyWant [][]any
	for _, row := range monthly.want {
		monthlyWant = append(monthlyWant, append(append(append([]any{}, row[:2]...), "USD"), append(row[2:], 0.0)...))
	}

	return append([]spec{
		{
			name:    "currency: weekly cohorts revenue and LTV in USD",
			fixture: currencyCohortFixture(),
			query:   cohortWeekly,
			columns: cohortCurrencyColumns, key: 2,
			// Week of 04-06: x1 (110 USD) and x2 (25 USD), x1 again in
			// week 1 (120 USD), x2 again in week 2 without a rate. Week
			// of 04-13: x3 55, x4 240, x5 without a rate, x6 25.
			want: [][]any{
				{"2026-04-06", 0.0, "USD", 2.0, 2.0, 1.0, 135.0, 67.5, 67.5, 0.0},
				{"2026-04-06", 1.0, "USD", 2.0, 1.0, 0.5, 120.0, 60.0, 127.5, 0.0},
				{"2026-04-06", 2.0, "USD", 2.0, 1.0, 0.5, 0.0, 0.0, 127.5, 1.0},
				{"2026-04-13", 0.0, "USD", 4.0, 4.0, 1.0, 320.0, 80.0, 80.0, 1.0},
				{"2026-04-13", 1.0, "USD", 4.0, 0.0, 0.0, 0.0, 0.0, 80.0, 0.0},
				{"2026-04-13", 2.0, "USD", 4.0, 0.0, 0.0, 0.0, 0.0, 80.0, 0.0},
			},
		},
		{
			name:    "currency: monthly cohorts in USD of purchases in USD, without rates, as without a currency",
			fixture: monthly.fixture,
			query:   monthlyUSD,
			columns: cohortCurrencyColumns, key: 2,
			want: monthlyWant,
		},
		{
			name:    "currency: overview per channel in USD",
			fixture: currencyFixture(),
			query:   analytics.OverviewQuery{Range: april, PurchaseType: "purchase", Currency: usd},
			columns: overviewColumns, key: 1,
			// web's purchases: 110 + 25 + 55 + 240 + 25, x5's JPY
			// without a rate; social's GBP spend of 04-20 without one.
			want: [][]any{
				{"display", "USD", 0.0, 0.0, 0.0, 0.0, 30.0, 0.0, 0.0, 0.0},
				{"email", "USD", 2.0, 2.0, 0.0, 0.0, 24.0, 0.0, 0.0, 0.0},
				{"paid_search", "USD", 2.0, 2.0, 0.0, 0.0, 110.0, 0.0, 0.0, 0.0},
				{"social", "USD", 2.0, 2.0, 0.0, 0.0, 0.0, nil, 0.0, 1.0},
				{"web", "USD", 6.0, 6.0, 6.0, 455.0, 0.0, nil, 1.0, 0.0},
			},
		},
		{
			name:    "currency: overview per day in USD, each purchase at its day's rate",
			fixture: currencyFixture(),
			query:   analytics.OverviewQuery{Range: april, PurchaseType: "purchase", Channel: "web", ByDay: true, Currency: usd},
			columns: append([]string{"day"}, overviewColumns...), key: 2,
			want: [][]any{
				{"2026-04-10", "web", "USD", 1.0, 1.0, 1.0, 110.0, 0.0, nil, 0.0, 0.0},
				{"2026-04-11", "web", "USD", 1.0, 1.0, 1.0, 25.0, 0.0, nil, 0.0, 0.0},
				{"2026-04-13", "web", "USD", 1.0, 1.0, 1.0, 55.0, 0.0, nil, 0.0, 0.0},
				{"2026-04-15", "web", "USD", 1.0, 1.0, 1.0, 240.0, 0.0, nil, 0.0, 0.0},
				{"2026-04-17", "web", "USD", 1.0, 1.0, 1.0, 0.0, 0.0, nil, 1.0, 0.0},
				{"2026-04-18", "web", "USD", 1.0, 1.0, 1.0, 25.0, 0.0, nil, 0.0, 0.0},
			},
		},
		{
			name:    "currency: touchpoint counts and revenue in USD (the alerts' revenue)",
			fixture: currencyFixture(),
			query:   analytics.TouchpointCountsQuery{Range: april, ConversionType: "purchase", Currency: usd},
			columns: []string{"channel", "campaign", "currency", "impressions", "clicks", "conversions", "revenue_units", "events",
				"unconverted_conversions"}, key: 2,
			want: [][]any{
				{"email", "newsletter", "USD", 0.0, 2.0, 0.0, 0.0, 2.0, 0.0},
				{"paid_search", "brand", "USD", 0.0, 2.0, 0.0, 0.0, 2.0, 0.0},
				{"social", "prospecting", "USD", 0.0, 2.0, 0.0, 0.0, 2.0, 0.0},
				{"web", "", "USD", 0.0, 0.0, 6.0, 455.0, 6.0, 1.0},
			},
		},
		{
			name:    "currency: spend in USD (the alerts' spend and cac)",
			fixture: currencyFixture(),
			query:   analytics.SpendQuery{Range: april, Currency: usd},
			columns: []string{"channel", "campaign", "currency", "spend_units", "unconverted_spend"}, key: 2,
			want: [][]any{
				{"display", "retarget", "USD", 30.0, 0.0},
				{"email", "newsletter", "USD", 24.0, 0.0},
				{"paid_search", "brand", "USD", 110.0, 0.0},
				{"social", "prospecting", "USD", 0.0, 1.0},
			},
		},
	}, channelMoneyCases()...)
}
