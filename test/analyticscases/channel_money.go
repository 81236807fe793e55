package analyticscases

// viewQuery is a case's SQL written by hand against a view of the
// migrations, as an analyst or a Grafana panel would write it.
type viewQuery string

// SQL returns the query.
func (q viewQuery) SQL() (string, error) { return string(q), nil }

// channelMoneyFixture: on 04-10 email sells for 120.50 USD and for 40 and
// 20 EUR, and buys 20 USD and 15 EUR of ads; paid_search sells for 30 USD
// and reports 50 USD of spend, restated to 60; on 04-11 sms sells for 5
// with no currency recorded. The EUR purchase of 40 is ingested twice, as
// a replay would.
func channelMoneyFixture() Fixture {
	buy := func(id, person, channel, campaign string, d int, revenue float64, currency string) Event {
		e := purchase(id, person, at(2026, 4, d, 12, 0, 0), revenue)
		e.Channel, e.Campaign, e.Currency = channel, campaign, currency
		return e
	}
	return Fixture{
		Events: []Event{
			buy("m1", "a", "email", "newsletter", 10, 120.5, "USD"),
			buy("m2", "b", "email", "newsletter", 10, 40, "EUR"),
			buy("m2", "b", "email", "newsletter", 10, 40, "EUR"),
			buy("m3", "c", "email", "newsletter", 10, 20, "EUR"),
			buy("m4", "d", "paid_search", "brand", 10, 30, "USD"),
			buy("m5", "e", "sms", "promo", 11, 5, ""),
			ev("m6", "a", "email_click", "email", "newsletter", at(2026, 4, 10, 11, 0, 0)),
		},
		Spend: []Spend{
			{Date: day(2026, 4, 10), Channel: "email", Campaign: "newsletter", Source: "esp", Cost: 20, Currency: "USD", Version: 1},
			{Date: day(2026, 4, 10), Channel: "email", Campaign: "newsletter", Source: "esp_eu", Cost: 15, Currency: "EUR", Version: 1},
			{Date: day(2026, 4, 10), Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 50, Currency: "USD", Version: 1},
			{Date: day(2026, 4, 10), Channel: "paid_search", Campaign: "brand", Source: "google_ads", Cost: 60, Currency: "USD", Version: 2},
		},
	}
}

// channelMoneyCases: the channel_money view keeps each currency's money
// apart: two currencies on one channel and day are two rows, never one
// sum; and the money table of the Grafana channel dashboard (per channel
// and currency, ROAS only of amounts in one currency).
func channelMoneyCases() []spec {
	return []spec{
		{
			name:    "channel_money: two currencies on one channel and day are two rows",
			fixture: channelMoneyFixture(),
			query: viewQuery(`SELECT toString(date) AS day, channel, campaign, currency, conversions, revenue, spend
FROM channel_money
WHERE date >= toDate('2026-04-01') AND date < toDate('2026-05-01')
ORDER BY day, channel, campaign, currency`),
			columns: []string{"day", "channel", "campaign", "currency", "conversions", "revenue", "spend"}, key: 4,
			want: [][]any{
				{"2026-04-10", "email", "newsletter", "EUR", 2.0, 60.0, 15.0}, // 40 (once) + 20
				{"2026-04-10", "email", "newsletter", "USD", 1.0, 120.5, 20.0},
				{"2026-04-10", "paid_search", "brand", "USD", 1.0, 30.0, 60.0}, // the restated spend
				{"2026-04-11", "sms", "promo", "", 1.0, 5.0, 0.0},
			},
		},
		{
			name:    "channel_money: per channel and currency, ROAS of one currency's amounts",
			fixture: channelMoneyFixture(),
			query: viewQuery(`SELECT
    channel,
    currency,
    sum(conversions) AS conversion_count,
    sum(revenue) AS revenue_units,
    sum(spend) AS spend_units,
    if(sum(spend) = 0, NULL, sum(revenue) / sum(spend)) AS roas
FROM channel_money
WHERE date >= toDate('2026-04-01') AND date <= toDate('2026-04-30')
GROUP BY channel, currency
ORDER BY channel, currency`),
			columns: []string{"channel", "currency", "conversion_count", "revenue_units", "spend_units", "roas"}, key: 2,
			want: [][]any{
				{"email", "EUR", 2.0, 60.0, 15.0, 4.0},
				{"email", "USD", 1.0, 120.5, 20.0, 6.025},
				{"paid_search", "USD", 1.0, 30.0, 60.0, 0.5},
				{"sms", "", 1.0, 5.0, 0.0, nil},
			},
		},
	}
}
