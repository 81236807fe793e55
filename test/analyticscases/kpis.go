package analyticscases

import "github.com/touchline-io/touchline/pkg/analytics"

// kpiCases: the base queries of alert rules, on an hour of touchpoints, the
// spend reports of the ROMI cases, and first purchases of stitched persons.
func kpiCases() []spec {
	hour := analytics.Range{From: at(2026, 4, 10, 10, 0, 0), To: at(2026, 4, 10, 11, 0, 0)}
	events := Fixture{Events: []Event{
		ev("i1", "a", "impression", "email", "newsletter", at(2026, 4, 10, 10, 0, 0)),
		ev("i2", "b", "impression", "email", "newsletter", at(2026, 4, 10, 10, 59, 59)),
		ev("i3", "c", "impression", "email", "newsletter", at(2026, 4, 10, 11, 0, 0)), // after the hour
		ev("c1", "a", "email_click", "email", "newsletter", at(2026, 4, 10, 10, 30, 0)),
		ev("c2", "d", "click", "paid_search", "brand", at(2026, 4, 10, 10, 15, 0)),
		ev("c3", "e", "sms_click", "sms", "promo", at(2026, 4, 10, 9, 59, 59)), // before the hour
		purchase("p1", "a", at(2026, 4, 10, 10, 45, 0), 120.5),
		purchase("p2", "d", at(2026, 4, 10, 10, 50, 0), 30),
		ev("v1", "b", "page_view", "web", "", at(2026, 4, 10, 10, 10, 0)),
	}}
	countColumns := []string{"channel", "campaign", "impressions", "clicks", "conversions", "revenue_units", "events"}
	spendColumns := []string{"channel", "campaign", "spend_units"}
	// Persons' first purchases: a before April, b on the 5th (d, stitched
	// into b, bought on the 7th), c on the 10th and again on the 20th, e
	// in May.
	customers := Fixture{
		Events: []Event{
			purchase("a1", "a", at(2026, 3, 30, 12, 0, 0), 10),
			purchase("a2", "a", at(2026, 4, 2, 12, 0, 0), 10),
			purchase("b1", "b", at(2026, 4, 5, 12, 0, 0), 10),
			purchase("d1", "d", at(2026, 4, 7, 12, 0, 0), 10),
			purchase("c1", "c", at(2026, 4, 10, 12, 0, 0), 10),
			purchase("c2", "c", at(2026, 4, 20, 12, 0, 0), 10),
			purchase("e1", "e", at(2026, 5, 1, 0, 0, 0), 10),
			ev("f1", "f", "click", "email", "newsletter", at(2026, 4, 3, 0, 0, 0)),
		},
		Overrides: []Override{{Person: "d", Survivor: "b", Version: 1}},
	}
	return []spec{
		{
			name:    "kpis: touchpoint counts of an hour, ends exclusive",
			fixture: events,
			query:   analytics.TouchpointCountsQuery{Range: hour, ConversionType: "purchase"},
			columns: countColumns, key: 2,
			want: [][]any{
				{"email", "newsletter", 2.0, 1.0, 0.0, 0.0, 3.0},
				{"paid_search", "brand", 0.0, 1.0, 0.0, 0.0, 1.0},
				{"web", "", 0.0, 0.0, 2.0, 150.5, 3.0},
			},
		},
		{
			name:    "kpis: touchpoint counts of chosen event types",
			fixture: events,
			query:   analytics.TouchpointCountsQuery{Range: hour, ConversionType: "purchase", EventTypes: []string{"page_view", "purchase"}},
			columns: countColumns, key: 2,
			want: [][]any{{"web", "", 0.0, 0.0, 2.0, 150.5, 3.0}},
		},
		{
			name:    "kpis: spend of whole days, restated",
			fixture: Fixture{Spend: spendReports()},
			query:   analytics.SpendQuery{Range: analytics.Range{From: day(2026, 4, 10), To: day(2026, 4, 13)}},
			columns: spendColumns, key: 2,
			want: [][]any{{"affiliate", "partners", 80.0}, {"paid_search", "brand", 250.0}},
		},
		{
			name:    "kpis: spend of the days whose start lies in a range of half days",
			fixture: Fixture{Spend: spendReports()},
			query:   analytics.SpendQuery{Range: analytics.Range{From: at(2026, 4, 9, 12, 0, 0), To: at(2026, 4, 11, 12, 0, 0)}},
			columns: spendColumns, key: 2,
			want: [][]any{{"paid_search", "brand", 250.0}},
		},
		{
			name:    "kpis: new customers are resolved persons with a first purchase in the range",
			fixture: customers,
			query:   analytics.NewCustomersQuery{Range: april, ConversionType: "purchase"},
			columns: []string{"new_customers"}, key: 1,
			want: [][]any{{2.0}},
		},
		{
			name:    "kpis: no new customers in a range after every first purchase",
			fixture: customers,
			query:   analytics.NewCustomersQuery{Range: analytics.Range{From: day(2026, 4, 11), To: day(2026, 4, 30)}, ConversionType: "purchase"},
			columns: []string{"new_customers"}, key: 1,
			want: [][]any{{0.0}},
		},
	}
}
