package analyticscases

import (
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
)

// usd is the reporting currency of the currency cases, with the default
// maximum rate age of 7 days.
var usd = analytics.Currency{Code: "USD", MaxRateAge: analytics.DefaultMaxRateAge}

// currencyFixture: revenue in HUF, ILS, EUR, JPY and USD, spend in GBP and
// USD, and rates quoted as the ECB quotes them (units per euro) plus one
// direct USD/ILS pair. Converted into USD:
//
//   - x1 (email) buys 38,000 HUF on 04-10: no HUF/USD pair, so the cross
//     rate through EUR: 38000 / 380 * 1.10 = 110 USD;
//   - x2 (paid_search, then social) buys 100 ILS on 04-11: the direct pair
//     USD/ILS 4.0 wins over the cross through EUR (which would give 22):
//     25 USD, 12.5 to each touch under linear;
//   - x3 (paid_search) buys 50 EUR on 04-13, a day without rates: the
//     latest earlier rate, 1.10 of 04-11 (2 days old): 55 USD;
//   - x4 (email) buys 200 EUR on 04-15, whose EUR/USD 1.10 is restated to
//     1.20: 240 USD;
//   - x5 (social) buys 1,000 JPY on 04-17: the only EUR/JPY rate is of
//     04-01, 16 days old, past the maximum age: unconvertible;
//   - x6 (no touch) buys 25 USD on 04-18: 25 USD.
//
// Spend: paid_search 85 GBP on 04-10 (85 / 0.85 * 1.10 = 110 USD); email
// 17 GBP on 04-15 (GBP of 04-10, 5 days old, and EUR/USD of 04-15: 17 /
// 0.85 * 1.20 = 24 USD); social 10 GBP on 04-20 (the GBP rate is 10 days
// old: unconvertible); display 30 USD on 04-12.
func currencyFixture() Fixture {
	noon := func(d int) time.Time { return at(2026, 4, d, 12, 0, 0) }
	buy := func(id, person string, d int, revenue float64, currency string) Event {
		e := purchase(id, person, noon(d), revenue)
		e.Currency = currency
		return e
	}
	return Fixture{
		Events: []Event{
			ev("x1-1", "x1", "email_click", "email", "newsletter", noon(9)),
			buy("x1-p", "x1", 10, 38000, "HUF"),
			ev("x2-1", "x2", "click", "paid_search", "brand", noon(9)),
			ev("x2-2", "x2", "click", "social", "prospecting", noon(10)),
			buy("x2-p", "x2", 11, 100, "ILS"),
			ev("x3-1", "x3", "click", "paid_search", "brand", noon(12)),
			buy("x3-p", "x3", 13, 50, "EUR"),
			ev("x4-1", "x4", "email_click", "email", "newsletter", noon(14)),
			buy("x4-p", "x4", 15, 200, "EUR"),
			ev("x5-1", "x5", "click", "social", "prospecting", noon(16)),
			buy("x5-p", "x5", 17, 1000, "JPY"),
			buy("x6-p", "x6", 18, 25, "USD"),
		},
		Spend: []Spend{
			{Date: day(2026, 4, 10), Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 85, Currency: "GBP", Version: 1},
			{Date: day(2026, 4, 15), Channel: "email", Campaign: "newsletter", Source: "esp", Cost: 17, Currency: "GBP", Version: 1},
			{Date: day(2026, 4, 20), Channel: "social", Campaign: "prospecting", Source: "meta_ads", Cost: 10, Currency: "GBP", Version: 1},
			{Date: day(2026, 4, 12), Channel: "display", Campaign: "retarget", Source: "criteo", Cost: 30, Currency: "USD", Version: 1},
		},
		Rates: []Rate{
			{Date: day(2026, 4, 1), Base: "EUR", Quote: "JPY", Rate: 160, Version: 1},
			{Date: day(2026, 4, 10), Base: "EUR", Quote: "USD", Rate: 1.10, Version: 1},
			{Date: day(2026, 4, 10), Base: "EUR", Quote: "HUF", Rate: 380, Version: 1},
			{Date: day(2026, 4, 10), Base: "EUR", Quote: "GBP", Rate: 0.85, Version: 1},
			{Date: day(2026, 4, 11), Base: "EUR", Quote: "USD", Rate: 1.10, Version: 1},
			{Date: day(2026, 4, 11), Base: "EUR", Quote: "ILS", Rate: 5.0, Version: 1},
			{Date: day(2026, 4, 11), Base: "USD", Quote: "ILS", Rate: 4.0, Version: 1},
			{Date: day(2026, 4, 15), Base: "EUR", Quote: "USD", Rate: 1.10, Version: 1},
			{Date: day(2026, 4, 15), Base: "EUR", Quote: "USD", Rate: 1.20, Version: 2}, // the restatement
		},
	}
}

var currencyROMIColumns = []string{"channel", "currency", "conversions", "revenue", "spend", "roas", "romi", "cpa",
	"unconverted_conversions", "unconverted_spend"}

// currencyCases: attribution and ROMI per channel in USD under two models,
// and the journey paths in USD.
// A channel with money that has no rate states it, and has no ratios.
func currencyCases() []spec {
	linear := analytics.DefaultAttribution()
	linear.Model = analytics.Linear
	first := analytics.DefaultAttribution()
	first.Model = analytics.FirstTouch
	return []spec{
		{
			name:    "currency: linear attribution in USD",
			fixture: currencyFixture(),
			query:   analytics.AttributionQuery{Range: april, Attribution: linear, Currency: usd},
			columns: []string{"channel", "currency", "conversions", "revenue", "unconverted_conversions"}, key: 1,
			want: [][]any{
				{"(none)", "USD", 1.0, 25.0, 0.0},
				{"email", "USD", 2.0, 350.0, 0.0},      // x1 110 + x4 240
				{"paid_search", "USD", 1.5, 67.5, 0.0}, // x2 12.5 + x3 55
				{"social", "USD", 1.5, 12.5, 1.0},      // x2 12.5; x5 has no rate
			},
		},
		{
			name:    "currency: ROMI per channel in USD, linear",
			fixture: currencyFixture(),
			query:   analytics.ROMIQuery{Range: april, Attribution: linear, Currency: usd},
			columns: currencyROMIColumns, key: 1,
			want: [][]any{
				{"(none)", "USD", 1.0, 25.0, 0.0, nil, nil, nil, 0.0, 0.0},
				{"email", "USD", 2.0, 350.0, 24.0, 350 / 24.0, 326 / 24.0, 12.0, 0.0, 0.0},
				{"paid_search", "USD", 1.5, 67.5, 110.0, 67.5 / 110, -42.5 / 110, 110 / 1.5, 0.0, 0.0},
				{"social", "USD", 1.5, 12.5, 0.0, nil, nil, nil, 1.0, 1.0},
				{"display", "USD", 0.0, 0.0, 30.0, 0.0, -1.0, nil, 0.0, 0.0},
			},
		},
		{
			name:    "currency: ROMI per channel in USD, first touch",
			fixture: currencyFixture(),
			query:   analytics.ROMIQuery{Range: april, Attribution: first, Currency: usd},
			columns: currencyROMIColumns, key: 1,
			want: [][]any{
				{"(none)", "USD", 1.0, 25.0, 0.0, nil, nil, nil, 0.0, 0.0},
				{"email", "USD", 2.0, 350.0, 24.0, 350 / 24.0, 326 / 24.0, 12.0, 0.0, 0.0},
				{"paid_search", "USD", 2.0, 80.0, 110.0, 80 / 110.0, -30 / 110.0, 55.0, 0.0, 0.0}, // x2 25 + x3 55
				{"social", "USD", 1.0, 0.0, 0.0, nil, nil, nil, 1.0, 1.0},                         // x5 only
				{"display", "USD", 0.0, 0.0, 30.0, 0.0, -1.0, nil, 0.0, 0.0},
			},
		},
		{
			name:    "currency: journey paths in USD",
			fixture: currencyFixture(),
			query:   analytics.PathsQuery{Range: april, Attribution: analytics.DefaultAttribution(), Collapse: true, Top: 20, Currency: usd},
			columns: []string{"path", "currency", "conversions", "revenue", "avg_touches", "median_seconds_to_convert", "unconverted_conversions"}, key: 1,
			want: [][]any{
				{"email", "USD", 2.0, 350.0, 1.0, 86400.0, 0.0},                // x1 110 + x4 240, each a day after its touch
				{"", "USD", 1.0, 25.0, 0.0, nil, 0.0},                          // x6
				{"paid_search", "USD", 1.0, 55.0, 1.0, 86400.0, 0.0},           // x3
				{"paid_search > social", "USD", 1.0, 25.0, 2.0, 172800.0, 0.0}, // x2, two days from its first touch
				{"social", "USD", 1.0, 0.0, 1.0, 86400.0, 1.0},                 // x5 has no rate
			},
		},
	}
}
