package analyticscases

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/test/attributionref"
)

// july is the range of the data-driven cases.
var july = analytics.Range{From: day(2026, 7, 1), To: day(2026, 8, 1)}

// pathRows is a data-driven query seen through its SQL alone: the rows of
// the path query, without the model.
type pathRows struct {
	q analytics.DataDrivenQuery
}

func (p pathRows) SQL() (string, error) { return p.q.SQL() }

// markovJourneys: the paths email > paid_search (converts, 100; m1's
// first two email clicks were stored under an anonymous id merged into m1
// and collapse into one state), email (null), paid_search (converts, 50),
// display (null) and a conversion without touches (30). Ignored: a
// page_view (not a touch type), a click 61 days before the purchase (out
// of the lookback), m6, whose only touch lies before the range, and a
// purchase after the range.
func markovJourneys() Fixture {
	d := func(dd, hh int) time.Time { return at(2026, 7, dd, hh, 0, 0) }
	return Fixture{
		Events: []Event{
			// m1: display out of the lookback, email twice (stored anonymous), paid_search.
			ev("m1-0", "m1", "click", "display", "", at(2026, 5, 3, 9, 0, 0)),
			ev("m1-1", "m1-anon", "email_click", "email", "news", d(1, 10)),
			ev("m1-2", "m1-anon", "email_click", "email", "news", d(1, 11)),
			// a page_view is no touch
			ev("m1-3", "m1", "page_view", "display", "", d(2, 9)),
			ev("m1-4", "m1", "click", "paid_search", "brand", d(2, 10)),
			purchase("m1-5", "m1", d(3, 10), 100),
			// m2 and m4 do not convert; m3 converts after one touch, m5 after none.
			ev("m2-1", "m2", "email_click", "email", "news", d(5, 10)),
			ev("m3-1", "m3", "click", "paid_search", "brand", d(6, 10)),
			purchase("m3-2", "m3", d(7, 10), 50),
			ev("m4-1", "m4", "click", "display", "", d(8, 10)),
			purchase("m5-1", "m5", d(9, 10), 30),
			ev("m6-1", "m6", "click", "display", "", at(2026, 6, 20, 10, 0, 0)),
			purchase("m6-2", "m6", at(2026, 8, 2, 10, 0, 0), 70),
		},
		Overrides: []Override{{Person: "m1-anon", Survivor: "m1", Version: 1}},
		Spend: []Spend{
			{Date: day(2026, 7, 10), Channel: "email", Campaign: "news", Source: "esp", Cost: 10, Version: 1},
			{Date: day(2026, 7, 11), Channel: "affiliate", Campaign: "partners", Source: "awin", Cost: 5, Version: 1},
		},
	}
}

// shapleyJourneys: two channels. {email}: 1 conversion (40) of 2 paths,
// v = 1/2; {social}: 1 (20) of 4, v = 1/4; {email, social}: 2 (80, 160)
// of 2, in both orders, v = 1.
func shapleyJourneys() Fixture {
	d := func(dd, hh int) time.Time { return at(2026, 7, dd, hh, 0, 0) }
	return Fixture{Events: []Event{
		ev("s1-1", "s1", "email_click", "email", "", d(2, 10)), purchase("s1-2", "s1", d(2, 12), 40),
		ev("s2-1", "s2", "email_click", "email", "", d(3, 10)),
		ev("s3-1", "s3", "click", "social", "", d(4, 10)),
		ev("s4-1", "s4", "click", "social", "", d(4, 11)),
		ev("s5-1", "s5", "click", "social", "", d(4, 12)),
		ev("s6-1", "s6", "click", "social", "", d(5, 10)), purchase("s6-2", "s6", d(5, 12), 20),
		ev("s7-1", "s7", "email_click", "email", "", d(6, 10)), ev("s7-2", "s7", "click", "social", "", d(6, 11)),
		purchase("s7-3", "s7", d(6, 12), 80),
		ev("s8-1", "s8", "click", "social", "", d(7, 10)), ev("s8-2", "s8", "email_click", "email", "", d(7, 11)),
		purchase("s8-3", "s8", d(7, 12), 160),
	}}
}

func dataDrivenCases() []spec {
	a := analytics.DefaultAttribution()
	markov := analytics.DataDrivenQuery{Range: july, Attribution: a, Model: analytics.Markov}
	shapley := analytics.DataDrivenQuery{Range: july, Attribution: a, Model: analytics.Shapley}
	romi := markov
	romi.ROMI = true
	// Markov, order 1. Start: email 2, paid_search 1, display 1 (of 4);
	// email: paid_search 1, null 1; paid_search: conversion 2; display:
	// null 1. P(conversion) = 2/4 * 1/2 + 1/4 = 1/2; without email 1/4
	// (removal effect 1/2), without paid_search 0 (1), without display
	// 1/2 (0). email > paid_search shares 1/3 : 2/3.
	email, paidSearch := 1.0/3, 2.0/3+1
	// Shapley: in {email, social}, phi(email) = 1/2 * v(email) + 1/2 *
	// (v(both) - v(social)) = 5/8 and phi(social) = 3/8.
	return append([]spec{
		{
			name: "data-driven: the path query", fixture: markovJourneys(), query: pathRows{markov},
			columns: []string{"path", "conversions", "revenue", "nulls"}, key: 1,
			want: [][]any{
				{"email > paid_search", 1.0, 100.0, 0.0},
				{"paid_search", 1.0, 50.0, 0.0},
				{"", 1.0, 30.0, 0.0},
				{"email", 0.0, 0.0, 1.0},
				{"display", 0.0, 0.0, 1.0},
			},
		},
		{
			name: "data-driven: markov removal effects by hand", fixture: markovJourneys(), query: markov,
			columns: []string{"channel", "conversions", "revenue"}, key: 1,
			want: [][]any{
				{"paid_search", paidSearch, 100*2.0/3 + 50},
				{"email", email, 100.0 / 3},
				{"(none)", 1.0, 30.0},
			},
		},
		{
			name: "data-driven: markov ROMI", fixture: markovJourneys(), query: romi,
			columns: []string{"channel", "conversions", "revenue", "spend", "roas", "romi", "cpa"}, key: 1,
			want: [][]any{
				{"paid_search", paidSearch, 100*2.0/3 + 50, 0.0, nil, nil, nil},
				{"email", email, 100.0 / 3, 10.0, 10.0 / 3, (100.0/3 - 10) / 10, 30.0},
				{"(none)", 1.0, 30.0, 0.0, nil, nil, nil},
				{"affiliate", 0.0, 0.0, 5.0, 0.0, -1.0, nil},
			},
		},
		{
			name: "data-driven: shapley with two channels by hand", fixture: shapleyJourneys(), query: shapley,
			columns: []string{"channel", "conversions", "revenue"}, key: 1,
			want: [][]any{
				{"email", 1 + 2*5.0/8, 40 + 240*5.0/8},
				{"social", 1 + 2*3.0/8, 20 + 240*3.0/8},
			},
		},
	}, append(append(generatedDataDrivenCases(), dataDrivenCurrencyCases()...), journeyCases()...)...)
}

// generatedDataDrivenCases: random journeys over eight channels, some
// persons stitched, whose credits test/attributionref computes from the
// events.
func generatedDataDrivenCases() []spec {
	fixture, events, overrides := generatedJourneys()
	a := analytics.DefaultAttribution()
	settings := attributionref.Settings{From: july.From, To: july.To, ConversionType: a.ConversionType,
		TouchTypes: a.TouchTypes, Lookback: a.Lookback}
	rows := attributionref.Paths(events, overrides, settings)
	var out []spec
	for _, m := range []struct {
		name    string
		model   analytics.Model
		order   int
		credits map[string]attributionref.Credit
	}{
		{"markov", analytics.Markov, 1, attributionref.Markov(rows, 1)},
		{"markov of order 2", analytics.Markov, 2, attributionref.Markov(rows, 2)},
		{"markov of order 3", analytics.Markov, 3, attributionref.Markov(rows, 3)},
		{"shapley", analytics.Shapley, 0, attributionref.Shapley(rows)},
	} {
		var want [][]any
		for c, cr := range m.credits {
			if cr.Conversions > 0 {
				want = append(want, []any{c, cr.Conversions, cr.Revenue})
			}
		}
		sort.Slice(want, func(i, j int) bool { return want[i][0].(string) < want[j][0].(string) })
		out = append(out, spec{
			name: "data-driven: " + m.name + " on generated journeys against the reference", fixture: fixture,
			query:   analytics.DataDrivenQuery{Range: july, Attribution: a, Model: m.model, Order: m.order},
			columns: []string{"channel", "conversions", "revenue"}, key: 1, want: want,
		})
	}
	return out
}

// generatedJourneys returns 400 persons' random touches over eight
// channels in June and July 2026 and purchases in July, a tenth of the
// persons with touches stored under an anonymous id merged into them.
func generatedJourneys() (Fixture, []attributionref.Event, map[string]string) {
	channels := []string{"email", "paid_search", "display", "social", "sms", "push", "affiliate", "video"}
	types := map[string]string{"email": "email_click", "sms": "sms_click", "push": "push_open"}
	rng := rand.New(rand.NewPCG(20, 26))
	var (
		f         Fixture
		events    []attributionref.Event
		overrides = map[string]string{}
	)
	add := func(e Event) {
		f.Events = append(f.Events, e)
		events = append(events, attributionref.Event{Person: e.Person, Type: e.Type, Channel: e.Channel, At: e.At, Revenue: e.Revenue})
	}
	n := 0
	for p := range 400 {
		person := "g" + strconv.Itoa(p)
		anonymous := person
		if p%10 == 0 {
			anonymous = person + "-anon"
			overrides[anonymous] = person
			f.Overrides = append(f.Overrides, Override{Person: anonymous, Survivor: person, Version: 1})
		}
		// Touches and purchases at distinct times: minutes into June and July.
		t := day(2026, 6, 1).Add(time.Duration(rng.IntN(50*24*60)) * time.Minute)
		// Channels with their own pull: the later ones convert more.
		bias := 0
		for range rng.IntN(6) {
			t = t.Add(time.Duration(1+rng.IntN(4*24*60)) * time.Minute)
			c := rng.IntN(len(channels))
			bias += c
			typ := types[channels[c]]
			if typ == "" {
				typ = "click"
			}
			who := person
			if rng.IntN(2) == 0 {
				who = anonymous
			}
			n++
			add(ev("g-"+strconv.Itoa(n), who, typ, channels[c], "", t))
		}
		for range rng.IntN(2 + bias/6) {
			t = t.Add(time.Duration(1+rng.IntN(3*24*60)) * time.Minute)
			n++
			add(Event{ID: "g-" + strconv.Itoa(n), Person: person, Type: "purchase", Channel: "web", At: t,
				Revenue: float64(1+rng.IntN(20000)) / 100})
		}
	}
	return f, events, overrides
}

// journeyFixture: the journeys of markovJourneys, p1, whose first
// purchase was stored under an anonymous id that was merged into the
// customer after it, so the second purchase's path starts with the touch
// before the first, and m7, who converts six hours after one touch.
func journeyFixture() Fixture {
	f := markovJourneys()
	d := func(dd, hh int) time.Time { return at(2026, 7, dd, hh, 0, 0) }
	f.Events = append(f.Events,
		ev("p1-1", "p1-anon", "click", "social", "", d(10, 10)),
		Event{ID: "p1-2", Person: "p1-anon", Type: "purchase", Channel: "web", At: d(11, 10), Revenue: 20},
		ev("p1-3", "p1", "email_click", "email", "", d(12, 10)),
		purchase("p1-4", "p1", d(13, 10), 60),
		ev("m7-1", "m7", "click", "paid_search", "", d(20, 10)),
		purchase("m7-2", "m7", d(20, 16), 10),
	)
	f.Overrides = append(f.Overrides, Override{Person: "p1-anon", Survivor: "p1", Version: 1})
	return f
}

func journeyCases() []spec {
	a := analytics.DefaultAttribution()
	q := analytics.PathsQuery{Range: july, Attribution: a, Collapse: true, Top: 20}
	columns := []string{"path", "conversions", "revenue", "avg_touches", "median_seconds_to_convert"}
	// Conversions: m1 email, email, paid_search (2 days; 3 touches), m3
	// paid_search (1 day), m5 none, p1 social (1 day) and social > email
	// (3 days from the social click), m7 paid_search (6 h).
	converting := [][]any{
		{"email > paid_search", 1.0, 100.0, 3.0, 172800.0},
		{"paid_search", 2.0, 60.0, 1.0, (86400 + 21600) / 2.0},
		{"", 1.0, 30.0, 0.0, nil},
		{"social", 1.0, 20.0, 1.0, 86400.0},
		{"social > email", 1.0, 60.0, 2.0, 259200.0},
	}
	repeats := q
	repeats.Collapse = false
	all := q
	all.All = true
	lengths := q
	lengths.Report = analytics.LengthsReport
	times := q
	times.Report = analytics.TimesReport
	uncollapsed := append([][]any{{"email > email > paid_search", 1.0, 100.0, 3.0, 172800.0}}, converting[1:]...)
	withNulls := [][]any{{"email", 0.0, 0.0, 1.0, nil, nil}, {"display", 0.0, 0.0, 1.0, nil, nil}}
	for _, r := range converting {
		withNulls = append(withNulls, []any{r[0], r[1], r[2], 0.0, r[3], r[4]})
	}
	return []spec{
		{name: "paths: converting, repeats collapsed, a person stitched after the first purchase", fixture: journeyFixture(), query: q,
			columns: columns, key: 1, want: converting},
		{name: "paths: repeats kept", fixture: journeyFixture(), query: repeats, columns: columns, key: 1, want: uncollapsed},
		{name: "paths: all, with the null paths", fixture: journeyFixture(), query: all,
			columns: []string{"path", "conversions", "revenue", "nulls", "avg_touches", "median_seconds_to_convert"}, key: 1, want: withNulls},
		{name: "paths: the distribution of path lengths", fixture: journeyFixture(), query: lengths,
			columns: []string{"path_length", "conversions", "share"}, key: 1,
			want: [][]any{{0.0, 1.0, 1.0 / 6}, {1.0, 3.0, 0.5}, {2.0, 2.0, 1.0 / 3}}},
		{name: "paths: the distribution of days to convert", fixture: journeyFixture(), query: times,
			columns: []string{"days", "conversions", "share"}, key: 1,
			want: [][]any{{0.0, 1.0, 0.2}, {1.0, 2.0, 0.4}, {2.0, 1.0, 0.2}, {3.0, 1.0, 0.2}}},
	}
}

// dataDrivenCurrencyCases: in currencyFixture every path converts, so in
// the Markov chain P(conversion) = 1 and removing email, paid_search or
// social each leaves 3/5 (removal effect 2/5 each), and every coalition's
// conversion rate is 1, so the Shapley values of {paid_search, social} are
// 1/2 each: both models share x2's path as linear does, and their rows in
// USD (x5's JPY without a rate counted apart) are the linear cases'.
func dataDrivenCurrencyCases() []spec {
	linear := currencyCases()
	a := analytics.DefaultAttribution()
	attribution, romi := linear[0], linear[1]
	attribution.name = "data-driven: shapley in USD"
	attribution.query = analytics.DataDrivenQuery{Range: april, Attribution: a, Model: analytics.Shapley, Currency: usd}
	romi.name = "data-driven: markov ROMI in USD"
	romi.query = analytics.DataDrivenQuery{Range: april, Attribution: a, Model: analytics.Markov, Currency: usd, ROMI: true}
	return []spec{attribution, romi}
}
