package analyticscases

import "github.com/touchline-io/touchline/pkg/analytics"

// funnelStages is the retail fixture with awareness events, a person who
// only returns, and persons who never buy.
func funnelStages() Fixture {
	f := customers()
	f.Events = append(f.Events,
		// k2 opened an email before her click: awareness.
		ev("k2-0", "k2", "email_open", "email", "newsletter", at(2026, 5, 1, 8, 0, 0)),
		// k6 bought in April and logs in in May: retention alone.
		ev("k6-3", "k6", "login", "web", "", at(2026, 5, 20, 9, 0, 0)),
		// s1 saw an ad: awareness; an impression is no touch: (none).
		ev("s1-1", "s1", "impression", "display", "retarget", at(2026, 5, 2, 9, 0, 0)),
		// s2 saw an ad, clicked it and viewed a page: acquired by display
		// without a purchase.
		ev("s2-1", "s2", "impression", "display", "retarget", at(2026, 5, 3, 9, 0, 0)),
		ev("s2-2", "s2", "click", "display", "retarget", at(2026, 5, 4, 9, 0, 0)),
		ev("s2-3", "s2", "page_view", "web", "", at(2026, 5, 4, 9, 1, 0)),
		// s3 logs in without ever buying: no retention, no stage.
		ev("s3-1", "s3", "login", "web", "", at(2026, 5, 6, 9, 0, 0)),
		// s4's impression lies before the range.
		ev("s4-1", "s4", "impression", "display", "retarget", at(2026, 4, 30, 23, 0, 0)),
		// s5 clicked two links in the same millisecond: the lesser channel
		// (affiliate) acquires.
		ev("s5-1", "s5", "click", "social", "spring", at(2026, 5, 7, 9, 0, 0)),
		ev("s5-2", "s5", "click", "affiliate", "partners", at(2026, 5, 7, 9, 0, 0)),
	)
	return f
}

// stagesCases: the default stages in May. Awareness: k2, s1, s2;
// consideration: k1 (email click), k2, k3 (stitched), k5, s2, s5; conversion:
// k1..k5; retention (a purchase or login after the first purchase ever): k1
// (first purchase in April), k3 (second purchase as k3-cust), k5, k6.
func stagesCases() []spec {
	settings := analytics.DefaultAttribution()
	columns := []string{"stage_number", "stage", "persons", "rate_from_previous"}
	return []spec{
		{
			name:    "stages: persons reaching each stage, stitched persons, retention after the first purchase",
			fixture: funnelStages(),
			query:   analytics.StagesQuery{Range: may, Stages: analytics.DefaultStages(), Attribution: settings},
			columns: columns, key: 1,
			want: [][]any{
				{1.0, "awareness", 3.0, 1.0},
				{2.0, "consideration", 6.0, 2.0},
				{3.0, "conversion", 5.0, 5.0 / 6},
				{4.0, "retention", 4.0, 0.8},
			},
		},
		{
			// (none): s1, k4, k6; affiliate: s5; display: s2; email: k2;
			// paid_search: k1, k5; social: k3.
			name:    "stages: by acquisition channel",
			fixture: funnelStages(),
			query:   analytics.StagesQuery{Range: may, Stages: analytics.DefaultStages(), Attribution: settings, ByChannel: true},
			columns: append([]string{"channel"}, columns...), key: 2,
			want: [][]any{
				{"(none)", 1.0, "awareness", 1.0, 1.0},
				{"(none)", 2.0, "consideration", 0.0, 0.0},
				{"(none)", 3.0, "conversion", 1.0, nil},
				{"(none)", 4.0, "retention", 1.0, 1.0},
				{"affiliate", 1.0, "awareness", 0.0, 1.0},
				{"affiliate", 2.0, "consideration", 1.0, nil},
				{"affiliate", 3.0, "conversion", 0.0, 0.0},
				{"affiliate", 4.0, "retention", 0.0, nil},
				{"display", 1.0, "awareness", 1.0, 1.0},
				{"display", 2.0, "consideration", 1.0, 1.0},
				{"display", 3.0, "conversion", 0.0, 0.0},
				{"display", 4.0, "retention", 0.0, nil},
				{"email", 1.0, "awareness", 1.0, 1.0},
				{"email", 2.0, "consideration", 1.0, 1.0},
				{"email", 3.0, "conversion", 1.0, 1.0},
				{"email", 4.0, "retention", 0.0, 0.0},
				{"paid_search", 1.0, "awareness", 0.0, 1.0},
				{"paid_search", 2.0, "consideration", 2.0, nil},
				{"paid_search", 3.0, "conversion", 2.0, 1.0},
				{"paid_search", 4.0, "retention", 2.0, 1.0},
				{"social", 1.0, "awareness", 0.0, 1.0},
				{"social", 2.0, "consideration", 1.0, nil},
				{"social", 3.0, "conversion", 1.0, 1.0},
				{"social", 4.0, "retention", 1.0, 1.0},
			},
		},
	}
}
