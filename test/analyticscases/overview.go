package analyticscases

import (
	"fmt"

	"github.com/touchline-io/touchline/pkg/analytics"
)

// overviewCases: the channel KPIs of two days. Person d is stitched into b
// after both were stored, so web's purchasers a and d and its visitor b are
// two persons; a purchase at the range's end and spend outside its days do
// not count.
func overviewCases() []spec {
	twoDays := analytics.Range{From: day(2026, 4, 10), To: day(2026, 4, 12)}
	fixture := Fixture{
		Events: []Event{
			ev("e1", "a", "impression", "email", "newsletter", at(2026, 4, 10, 10, 0, 0)),
			ev("e2", "a", "email_click", "email", "newsletter", at(2026, 4, 10, 11, 0, 0)),
			ev("e3", "b", "email_click", "email", "newsletter", at(2026, 4, 11, 9, 0, 0)),
			purchase("p1", "a", at(2026, 4, 10, 12, 0, 0), 100),
			ev("v1", "b", "page_view", "web", "", at(2026, 4, 11, 8, 0, 0)),
			purchase("p2", "d", at(2026, 4, 11, 12, 0, 0), 50),
			purchase("p3", "a", day(2026, 4, 12), 999), // at the end: outside
		},
		// paid_search spends 250 (restated) on the 10th; the others
		// spend on days outside the range.
		Spend:     spendReports(),
		Overrides: []Override{{Person: "d", Survivor: "b", Version: 1}},
	}
	columns := []string{"channel", "touchpoints", "persons", "purchases", "revenue", "spend", "roas"}
	specs := []spec{
		{
			name:    "overview: per channel, stitched persons, spend without touchpoints",
			fixture: fixture,
			query:   analytics.OverviewQuery{Range: twoDays, PurchaseType: "purchase"},
			columns: columns, key: 1,
			want: [][]any{
				{"email", 3.0, 2.0, 0.0, 0.0, 0.0, nil},
				{"paid_search", 0.0, 0.0, 0.0, 0.0, 250.0, 0.0},
				{"web", 3.0, 2.0, 2.0, 150.0, 0.0, nil},
			},
		},
		{
			name:    "overview: per day and channel",
			fixture: fixture,
			query:   analytics.OverviewQuery{Range: twoDays, PurchaseType: "purchase", ByDay: true},
			columns: append([]string{"day"}, columns...), key: 2,
			want: [][]any{
				{"2026-04-10", "email", 2.0, 1.0, 0.0, 0.0, 0.0, nil},
				{"2026-04-10", "paid_search", 0.0, 0.0, 0.0, 0.0, 250.0, 0.0},
				{"2026-04-10", "web", 1.0, 1.0, 1.0, 100.0, 0.0, nil},
				{"2026-04-11", "email", 1.0, 1.0, 0.0, 0.0, 0.0, nil},
				{"2026-04-11", "web", 2.0, 1.0, 1.0, 50.0, 0.0, nil},
			},
		},
		{
			name:    "overview: a campaign filter keeps its touchpoints and its spend",
			fixture: fixture,
			query:   analytics.OverviewQuery{Range: twoDays, PurchaseType: "purchase", Campaign: "brand"},
			columns: columns, key: 1,
			want: [][]any{{"paid_search", 0.0, 0.0, 0.0, 0.0, 250.0, 0.0}},
		},
		{
			name:    "overview: a channel filter",
			fixture: fixture,
			query:   analytics.OverviewQuery{Range: twoDays, PurchaseType: "purchase", Channel: "web"},
			columns: columns, key: 1,
			want: [][]any{{"web", 3.0, 2.0, 2.0, 150.0, 0.0, nil}},
		},
	}
	return append(specs, hostileCampaignCases(twoDays, columns)...)
}

// hostileCampaignCases: campaign names that break SQL written by hand, each
// with its own count of touchpoints, filter only their own; one that would
// match everything if it reached the SQL unquoted matches nothing.
func hostileCampaignCases(r analytics.Range, columns []string) []spec {
	campaigns := []string{`a'`, `a\`, `a\'`, "a\x00b", `x'); DROP TABLE touchpoints; --`}
	var fixture Fixture
	for k, c := range campaigns {
		for j := range k + 1 {
			fixture.Events = append(fixture.Events, ev(fmt.Sprintf("h%d-%d", k, j), fmt.Sprintf("p%d", j), "email_click", "email", c,
				at(2026, 4, 10, 9, k, j)))
		}
	}
	var specs []spec
	for k, c := range campaigns {
		specs = append(specs, spec{
			name:    fmt.Sprintf("overview: the hostile campaign name %q filters its own touchpoints", c),
			fixture: fixture,
			query:   analytics.OverviewQuery{Range: r, PurchaseType: "purchase", Campaign: c},
			columns: columns, key: 1,
			want: [][]any{{"email", float64(k + 1), float64(k + 1), 0.0, 0.0, 0.0, nil}},
		})
	}
	return append(specs, spec{
		name:    "overview: a campaign name that would match everything unquoted matches nothing",
		fixture: fixture,
		query:   analytics.OverviewQuery{Range: r, PurchaseType: "purchase", Campaign: `a' OR '1'='1`},
		columns: columns, key: 1,
		want: [][]any{},
	})
}
