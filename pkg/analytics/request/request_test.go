package request

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
)

var env = Env{Now: time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC), Attribution: analytics.DefaultAttribution()}

func mustLookup(t *testing.T, name string) Analysis {
	t.Helper()
	a, ok := Lookup(name)
	if !ok {
		t.Fatalf("no analysis %q", name)
	}
	return a
}

// TestBadParametersAreRefusedWithTheirName: every bad value is refused
// before any SQL exists, with the parameter's name (and the CLI's dashes
// when asked for).
func TestBadParametersAreRefusedWithTheirName(t *testing.T) {
	for _, c := range []struct {
		analysis string
		values   Values
		want     string
	}{
		{"romi", Values{"model": "u_shaped"}, `model: unknown attribution model "u_shaped"`},
		{"attribution", Values{"lookback": "ever"}, `lookback: `},
		{"romi", Values{"currency": "usd"}, `currency: reporting currency "usd" is not an ISO 4217 code`},
		{"attribution", Values{"currency": "EUR' OR 1"}, `currency: reporting currency "EUR' OR 1" is not`},
		{"overview", Values{"currency": "US"}, `currency: reporting currency "US" is not an ISO 4217 code`},
		{"cohort", Values{"currency": "USD1"}, `currency: reporting currency "USD1" is not an ISO 4217 code`},
		{"funnel", Values{"steps": "a,b", "window": "0"}, "window 0s is shorter than a second"},
		{"funnel", Values{"steps": "a,b", "from": "2026-05-01", "to": "2026-04-01"}, "empty time range: from 2026-05-01T00:00:00Z is not before to 2026-04-01T00:00:00Z"},
		{"funnel", Values{"steps": `page_view'),purchase`}, `steps: funnel step 1: "page_view')" is not an event type`},
		{"funnel", Values{"steps": `"page_view"`}, `steps: funnel step 1: "\"page_view\"" is not an event type`},
		{"funnel", Values{"steps": strings.Repeat("a,", 999) + "a"}, "1000 funnel steps: at most 32"},
		{"funnel", Values{}, "steps: required"},
		{"funnel", Values{"steps": strings.Repeat("a", MaxValueBytes+1)}, "steps: 16385 bytes: at most 16384"},
		{"overview", Values{"campaign": strings.Repeat("'", MaxValueBytes+1)}, "campaign: 16385 bytes: at most 16384"},
		{"funnel", Values{"steps": " "}, "steps: required"},
		{"funnel", Values{"steps": "a", "breakdown": "person_id"}, `cannot break down by "person_id"`},
		{"cohort", Values{"periods": "six"}, `periods: "six" is not an integer`},
		{"cohort", Values{"periods": "0"}, "periods 0: want 1 to 1000"},
		{"cohort", Values{"by-channel": "maybe"}, `by-channel: "maybe" is not true or false`},
		{"cohort", Values{"period": "year"}, `unknown cohort period "year"`},
		{"overview", Values{"from": "yesterday"}, `from: "yesterday" is neither YYYY-MM-DD nor an RFC 3339 time`},
		{"overview", Values{"to": "2200-01-01"}, "to 2200-01-01T00:00:00Z is out of range"},
		{"segment-members", Values{}, "segment: required"},
		{"segment-members", Values{"segment": "vip' OR 1"}, `segment: "vip' OR 1" is not a segment name`},
		{"segment-members", Values{"segment": "vip", "limit": "100001"}, "limit: limit 100001 is out of range: want 1 to 100000"},
		{"segment-members", Values{"segment": "vip", "limit": "0"}, "limit: limit 0 is out of range"},
		{"segment-history", Values{"segment": "a b"}, `segment: "a b" is not a segment name`},
		{"segment-history", Values{"from": "1990-01-01"}, "the range has 13476 days: at most 3660"},
		{"person-touches", Values{}, "person: required"},
		{"person-touches", Values{"person": "p_1'"}, `person: "p_1'" is not a person id`},
		{"person-identifiers", Values{"person": strings.Repeat("p", 129)}, "is not a person id"},
		{"person-segments", Values{"person": "p_1", "limit": "1e9"}, `limit: "1e9" is not an integer`},
		{"person-segments", Values{"person": "p_1", "limit": "1000000"}, "limit: limit 1000000 is out of range"},
		{"kpis", Values{"by": "channel", "model": "u_shaped"}, `model: unknown attribution model "u_shaped"`},
		{"kpis", Values{"by": "channel", "model": "shapley"}, "model: shapley: the data-driven models credit channels from the counts of whole paths"},
		{"kpis", Values{"by": "cohort", "model": "linear"}, `model: linear credits orders to channels and campaigns: want it with by channel or campaign, not "cohort"`},
		{"kpis", Values{"model": "first_touch"}, `model: first_touch credits orders to channels and campaigns: want it with by channel or campaign, not ""`},
	} {
		_, err := mustLookup(t, c.analysis).SQL(c.values, env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want an error containing %q", c.analysis, c.values, err, c.want)
		}
	}
	cli := env
	cli.Prefix = "--"
	if _, err := mustLookup(t, "romi").SQL(Values{"half-life": "1y"}, cli); err == nil || !strings.HasPrefix(err.Error(), "--half-life: ") {
		t.Errorf("flag error %v, want it to start with --half-life: ", err)
	}
}

// TestDefaultsAndValues: parameters that are not given take their
// defaults, the range the 30 whole UTC days up to the day of now; given
// ones reach the query.
func TestDefaultsAndValues(t *testing.T) {
	sql, err := mustLookup(t, "funnel").SQL(Values{"steps": "page_view,purchase"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql, "over [2026-10-25T00:00:00Z, 2026-11-24T00:00:00Z), window 1d.") {
		t.Errorf("default range and window not applied:\n%s", sql)
	}
	sql, err = mustLookup(t, "romi").SQL(Values{"to": "2026-04-01", "model": "linear", "lookback": "7d", "by-campaign": "true"}, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model linear: conversions (purchase) in [2026-03-02T00:00:00Z, 2026-04-01T00:00:00Z)", "within 7d before", "GROUP BY channel, campaign"} {
		if !strings.Contains(sql, want) {
			t.Errorf("romi SQL lacks %q:\n%s", want, sql)
		}
	}
	sql, err = mustLookup(t, "overview").SQL(Values{"by-day": "1", "campaign": "it's"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql, `campaign = 'it\'s'`) || !strings.Contains(sql, "GROUP BY day, channel") {
		t.Errorf("overview filters or days not applied:\n%s", sql)
	}
}

// TestEveryAnalysisHasDistinctParameters: a name given twice would make a
// flag panic and a query parameter ambiguous.
func TestEveryAnalysisHasDistinctParameters(t *testing.T) {
	for _, a := range Analyses() {
		seen := map[string]bool{}
		for _, p := range a.Params {
			if seen[p.Name] {
				t.Errorf("%s: parameter %s twice", a.Name, p.Name)
			}
			seen[p.Name] = true
		}
		if !seen["from"] || !seen["to"] {
			t.Errorf("%s: no range parameters", a.Name)
		}
	}
}

// TestDefaultsOfTheSettings: the attribution parameters default to the
// pipelines' settings, which the API's index shows.
func TestDefaultsOfTheSettings(t *testing.T) {
	a := analytics.DefaultAttribution()
	a.Model, a.Lookback = analytics.Linear, 14*24*time.Hour
	got := mustLookup(t, "romi").Defaults(a)
	if got["model"] != "linear" || got["lookback"] != "14d" || got["half-life"] != "7d" || got["by-campaign"] != "false" || got["from"] != "" {
		t.Errorf("romi defaults %v", got)
	}
	if got := mustLookup(t, "cohort").Defaults(a); got["periods"] != "6" || got["period"] != "month" {
		t.Errorf("cohort defaults %v", got)
	}
}

// TestCurrencyParameter: without --currency the money queries take the
// settings' reporting currency, or convert nothing when it is empty; the
// parameter overrides it and the result states it.
func TestCurrencyParameter(t *testing.T) {
	money := []string{"romi", "attribution", "overview", "cohort"}
	for _, name := range money {
		plain, err := mustLookup(t, name).SQL(Values{}, env)
		if err != nil || strings.Contains(plain, "exchange_rates") || strings.Contains(plain, "AS currency") {
			t.Fatalf("%s without a currency converts: %v\n%s", name, err, plain)
		}
	}
	withSettings := env
	withSettings.Attribution.Currency = analytics.Currency{Code: "EUR", MaxRateAge: 3}
	for _, c := range []struct {
		values Values
		want   string
	}{{Values{}, "'EUR' AS currency"}, {Values{"currency": "HUF"}, "'HUF' AS currency"}} {
		for _, name := range money {
			sql, err := mustLookup(t, name).SQL(c.values, withSettings)
			if err != nil || !strings.Contains(sql, c.want) || !strings.Contains(sql, "FROM exchange_rates FINAL") || !strings.Contains(sql, "range(4)") {
				t.Errorf("%s %v: %v, want the SQL to state %s and convert with rates up to 3 days old", name, c.values, err, c.want)
			}
		}
	}
	for _, name := range money {
		if got := mustLookup(t, name).Defaults(withSettings.Attribution)["currency"]; got != "EUR" {
			t.Errorf("%s: currency default %q, want EUR", name, got)
		}
	}
}

// TestSegmentAndPersonAnalyses: the segment and person analyses put their
// checked parameters into the SQL as literals, and take their defaults.
func TestSegmentAndPersonAnalyses(t *testing.T) {
	for _, c := range []struct {
		analysis string
		values   Values
		want     []string
	}{
		{"segments", Values{}, []string{"FROM segment_members GROUP BY segment"}},
		{"segment-members", Values{"segment": "vip"}, []string{"WHERE segment = 'vip'", "LIMIT 1000"}},
		{"segment-history", Values{"from": "2026-09-01", "to": "2026-09-08", "segment": "vip"},
			[]string{"range(7)", "toDate('2026-09-01')", " AND segment = 'vip'", "changed_at < toDateTime('2026-09-08 00:00:00', 'UTC')"}},
		{"person-identifiers", Values{"person": "p_1"}, []string{"WHERE person_id IN (SELECT 'p_1' UNION ALL SELECT person_id FROM person_overrides FINAL WHERE surviving_person_id IN (SELECT 'p_1'))"}},
		{"person-merges", Values{"person": "p_1"}, []string{"WHERE surviving_person_id IN (SELECT 'p_1' UNION ALL"}},
		{"person-touches", Values{"person": "p_1", "limit": "5", "from": "2026-09-01", "to": "2026-09-02"},
			[]string{"event_time >= toDateTime('2026-09-01 00:00:00', 'UTC') AND event_time < toDateTime('2026-09-02 00:00:00', 'UTC')", "LIMIT 5"}},
		{"person-segments", Values{"person": "p_1"}, []string{"FROM segment_changes FINAL", "LIMIT 1000"}},
	} {
		sql, err := mustLookup(t, c.analysis).SQL(c.values, env)
		if err != nil {
			t.Errorf("%s %v: %v", c.analysis, c.values, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(sql, w) {
				t.Errorf("%s %v: SQL lacks %q:\n%s", c.analysis, c.values, w, sql)
			}
		}
	}
}

// TestPersonByIdentifier: a person given as type:value is looked up by the
// identifier as Identify normalises and hashes it, as a literal; without
// Identify, or when it refuses the identifier, the parameter is refused.
func TestPersonByIdentifier(t *testing.T) {
	a := mustLookup(t, "person-touches")
	if _, err := a.SQL(Values{"person": "email:jane@example.com"}, env); err == nil || !strings.Contains(err.Error(), "person: an identifier (type:value) needs the identity settings") {
		t.Errorf("without Identify: %v", err)
	}
	hashed := env
	hashed.Identify = func(arg string) (analytics.Identifier, error) {
		if arg != "email:Jane@Example.com'" {
			return analytics.Identifier{}, fmt.Errorf("not an email")
		}
		return analytics.Identifier{Type: "email", Value: "h'1"}, nil
	}
	if _, err := a.SQL(Values{"person": "email:nobody"}, hashed); err == nil || err.Error() != "person: not an email" {
		t.Errorf("a refused identifier: %v", err)
	}
	sql, err := a.SQL(Values{"person": "email:Jane@Example.com'"}, hashed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql, `WHERE identifier_type = 'email' AND identifier_value = 'h\'1'`) || strings.Contains(sql, "Jane") {
		t.Errorf("the person of the identifier is not looked up by its hashed value:\n%s", sql)
	}
}
