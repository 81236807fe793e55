package analytics

import (
	"strings"
	"testing"
	"time"
)

func TestParseSteps(t *testing.T) {
	steps, err := ParseSteps("page_view[channel=email; category = shoes],add_to_cart, purchase")
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{EventType: "page_view", Filters: []Filter{{Name: "channel", Value: "email"}, {Name: "category", Value: "shoes"}}},
		{EventType: "add_to_cart"},
		{EventType: "purchase"},
	}
	if len(steps) != len(want) {
		t.Fatalf("got %d steps, want %d", len(steps), len(want))
	}
	for i := range want {
		if steps[i].String() != want[i].String() {
			t.Errorf("step %d: %s, want %s", i+1, steps[i], want[i])
		}
	}
	if got := steps[0].String(); got != "page_view[channel=email;category=shoes]" {
		t.Errorf("String() = %q", got)
	}
}

func TestParseStepsRejects(t *testing.T) {
	for _, in := range []string{"", "page_view,,purchase", "Page View", "page_view[channel]", "page_view[=x]", "page_view[a=b"} {
		if _, err := ParseSteps(in); err == nil {
			t.Errorf("ParseSteps(%q) accepted", in)
		}
	}
}

func TestParseModel(t *testing.T) {
	for _, m := range Models {
		got, err := ParseModel(string(m))
		if err != nil || got != m {
			t.Errorf("ParseModel(%q) = %q, %v", m, got, err)
		}
	}
	_, err := ParseModel("u_shaped")
	if err == nil || !strings.Contains(err.Error(), "position_based") {
		t.Errorf("unknown model: %v, want an error listing the models", err)
	}
}

var jan = Range{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}

func TestQueriesRejectBadParameters(t *testing.T) {
	steps, _ := ParseSteps("page_view,purchase")
	bad := DefaultAttribution()
	bad.TouchTypes, bad.Lookback, bad.Model = nil, 0, "u_shaped"
	inverted := Range{From: jan.To, To: jan.From}
	cohort := CohortQuery{Range: jan, Period: Month, Periods: 6, By: FirstPurchase, Activity: PurchaseActivity, PurchaseType: "purchase"}
	badCohort := cohort
	badCohort.Period, badCohort.Periods, badCohort.By, badCohort.Activity = "year", 0, "first_click", "some"
	for name, tc := range map[string]struct {
		q    interface{ SQL() (string, error) }
		want []string
	}{
		"inverted range":            {FunnelQuery{Range: inverted, Steps: steps, Window: time.Hour}, []string{"empty time range"}},
		"no steps":                  {FunnelQuery{Range: jan, Window: time.Hour}, []string{"at least one step"}},
		"short window":              {FunnelQuery{Range: jan, Steps: steps, Window: time.Millisecond}, []string{"window"}},
		"unknown breakdown":         {FunnelQuery{Range: jan, Steps: steps, Window: time.Hour, Breakdown: "person_id"}, []string{"break down"}},
		"bad attribution":           {AttributionQuery{Range: jan, Attribution: bad}, []string{"touch_types is empty", "lookback", "u_shaped"}},
		"bad property breakdown":    {FunnelQuery{Range: jan, Steps: steps, Window: time.Hour, Breakdown: "property:step"}, []string{`cannot break down by property "step"`}},
		"quoted property breakdown": {FunnelQuery{Range: jan, Steps: steps, Window: time.Hour, Breakdown: "property:a'b"}, []string{`property "a'b"`}},
		"field as property":         {FunnelQuery{Range: jan, Steps: steps, Window: time.Hour, Breakdown: "property:channel"}, []string{`property "channel"`}},
		"too many steps":            {FunnelQuery{Range: jan, Steps: make([]Step, MaxSteps+1), Window: time.Hour}, []string{"33 funnel steps: at most 32"}},
		"overview purchase type":    {OverviewQuery{Range: jan}, []string{"purchase event type is empty"}},
		"inverted overview":         {OverviewQuery{Range: inverted, PurchaseType: "purchase"}, []string{"empty time range"}},
		"bad romi":                  {ROMIQuery{Range: inverted, Attribution: DefaultAttribution()}, []string{"empty time range"}},
		"bad cohort parameters":     {badCohort, []string{"year", "periods 0", "first_click", "some"}},
	} {
		_, err := tc.q.SQL()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", name, err, w)
			}
		}
	}
	if _, err := cohort.SQL(); err != nil {
		t.Errorf("valid cohort query refused: %v", err)
	}
}

// Filter values reach the SQL as escaped literals, never as SQL.
func TestFilterValuesAreQuoted(t *testing.T) {
	steps, err := ParseSteps(`page_view[campaign=x' OR 1=1 --\]`)
	if err != nil {
		t.Fatal(err)
	}
	sql, err := FunnelQuery{Range: jan, Steps: steps, Window: time.Hour}.SQL()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql, `campaign = 'x\' OR 1=1 --\\'`) {
		t.Errorf("filter not quoted as a literal:\n%s", sql)
	}
}

func TestCeilDay(t *testing.T) {
	midnight := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[time.Time]time.Time{
		midnight:                     midnight,
		midnight.Add(time.Second):    midnight.AddDate(0, 0, 1),
		midnight.Add(-time.Second):   midnight,
		midnight.Add(23 * time.Hour): midnight.AddDate(0, 0, 1),
	} {
		if got := ceilDay(in); !got.Equal(want) {
			t.Errorf("ceilDay(%s) = %s, want %s", in, got, want)
		}
	}
}
