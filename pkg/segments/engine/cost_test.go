package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// numbers returns the CEL list literal [1, 2, ..., n].
func numbers(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprint(i + 1)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// segmentFile returns definitions with head, then one segment named s of
// condition when, written as a block scalar on line lines(head)+4.
func segmentFile(head, when string) string {
	return head + "segments:\n  - name: s\n    when: |\n      " + when + "\n"
}

// processorOf returns a processor of the definitions in yaml.
func processorOf(t *testing.T, yaml string) *Processor {
	t.Helper()
	defs, err := ParseDefinitions("segments.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProcessor(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExpensiveConditionsAreRefused(t *testing.T) {
	list := numbers(300)
	for _, c := range []struct {
		name, yaml string
		line       int
		reason     string
	}{
		// 300 * 300 iterations of an addition, a comparison and the loop's
		// own steps: the estimate is 634,211, far above the default 10,000.
		{"nested all over 300 elements", segmentFile("", list+".all(x, "+list+".all(y, x + y > 0))"), 3,
			"may cost up to 634211, above max_cost 10000"},
		// The same loops over a named feature: its size is known.
		{"nested all over a feature", segmentFile("features:\n  nums: \""+list+"\"\n",
			"nums.all(x, nums.all(y, x + y > 0))"), 5, "above max_cost 10000"},
		// A string function over a feature of unknown length.
		{"unbounded", segmentFile("features:\n  both: last(\"page_view\", \"page_url\") + last(\"page_view\", \"referrer\")\n",
			`both.contains("checkout")`), 5, "cost cannot be bounded"},
		// A feature is checked too.
		{"feature", "features:\n  n: \"" + list + ".filter(x, " + list + ".exists(y, y == x)).size()\"\n" +
			segmentFile("", "n > 0"), 2, "feature n: its evaluation may cost up to"},
		{"a budget lower than a cheap condition", segmentFile("max_cost: 10\n", `count("add_to_cart", "1d") > 0`), 4,
			"may cost up to 102, above max_cost 10"},
		{"bad budget", segmentFile("max_cost: lots\n", "true"), 1, "max_cost: want a whole number"},
		{"zero budget", segmentFile("max_cost: 0\n", "true"), 1, "max_cost: want a whole number"},
	} {
		t.Run(c.name, func(t *testing.T) { wantRefused(t, c.yaml, c.line, c.reason) })
	}
}

func TestEstimatedCosts(t *testing.T) {
	d, err := LoadDefinitions("../../../pipelines/segments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Hand-computed: a windowed aggregate scans up to max_kept_events (1000)
	// events at a tenth of a unit each, plus one for the call (101);
	// lifetime aggregates, since() and the RFM scores cost 1, a comparison
	// or a duration literal 1, && and || the sum of both sides.
	want := map[string]uint64{
		// 101 + 1 (count > 0), 1 + 1 + 1 (since >= duration("1h")), 1 + 1 + 1 (last_time < last_time)
		"cart_abandoners":       108,
		"high_value_customers":  2,   // lifetime_revenue >= 500.0
		"lapsed_buyers":         4,   // purchases > 0 && days_since() >= 90
		"engaged_email_readers": 204, // two windowed counts, each compared
		"new_leads":             104,
		"rfm_champions":         6,
		"rfm_at_risk":           6,
	}
	for _, s := range d.Segments {
		if s.Cost != want[s.Name] {
			t.Errorf("%s: estimated cost %d, want %d", s.Name, s.Cost, want[s.Name])
		}
	}
	// Raising the budget admits what the default refuses.
	list := numbers(300)
	d, err = ParseDefinitions("segments.yaml", []byte(segmentFile("max_cost: 1000000\n", list+".all(x, "+list+".all(y, x + y > 0))")))
	if err != nil {
		t.Fatal(err)
	}
	if d.MaxCost != 1_000_000 || d.Segments[0].Cost != 634_211 {
		t.Errorf("max_cost %d, cost %d; want 1000000, 634211", d.MaxCost, d.Segments[0].Cost)
	}
}

// TestEvaluationPastTheBudgetIsAborted has a condition whose estimate fits
// the budget because it assumes the ingest service's default field length
// (8192), meets a person whose page_url is longer (as a deployment that
// raised max_field_bytes lets through): that evaluation is stopped and
// recorded, the person's membership of that segment stays as it was, and
// its other segments and the other persons are decided as usual.
func TestEvaluationPastTheBudgetIsAborted(t *testing.T) {
	// matches() costs (length + 1) / 10 * (regex length / 4), plus one for
	// the call of last(): an estimate of 820 * 5 + 1 = 4101 for 8192
	// characters, over 10,000 * 5 at run time for 100,000.
	p := processorOf(t, `segments:
  - name: checkout_viewers
    when: last("page_view", "page_url").matches("checkout-[0-9]+-done")
  - name: viewers
    when: count("page_view") > 0
`)
	if c := p.defs.Segments[0].Cost; c != 4101 {
		t.Fatalf("estimated cost %d, want 4101", c)
	}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	long := "https://shop.example/checkout-1-done?" + strings.Repeat("x", 100_000)
	inputs := []Input{
		{Event: &Event{ID: "e1", Person: "long", Type: "page_view", At: t0, Props: map[string]string{"page_url": long}}},
		{Event: &Event{ID: "e2", Person: "short", Type: "page_view", At: t0.Add(time.Second),
			Props: map[string]string{"page_url": "https://shop.example/checkout-12-done"}}},
	}
	var changes []Change
	for _, in := range inputs {
		c, err := p.Add(in)
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, c...)
	}
	c, err := advanceTo(p, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	changes = append(changes, c...)
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%s %s %v %s", c.Person, c.Segment, c.Entered, c.At.Sub(t0)))
	}
	want := []string{"long viewers true 0s", "short checkout_viewers true 1s", "short viewers true 1s"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	aborted := p.TakeAborted()
	if len(aborted) != 1 || aborted[0].Person != "long" || aborted[0].Expression != "checkout_viewers" || !aborted[0].At.Equal(t0) ||
		aborted[0].Reason != AbortedCost || !overBudget(aborted[0].Err) {
		t.Errorf("aborted %+v, want the long page_url's checkout_viewers at %s, at max_cost", aborted, t0)
	}
	if again := p.TakeAborted(); len(again) != 0 {
		t.Errorf("aborted taken twice: %+v", again)
	}
}

// TestAbortedFeatureKeepsEveryMembership stops a named feature: no segment
// of that person can be decided, so every membership stays as it was.
func TestAbortedFeatureKeepsEveryMembership(t *testing.T) {
	p := processorOf(t, `features:
  done: last("page_view", "page_url").matches("checkout-[0-9]+-done")
segments:
  - name: viewers
    when: count("page_view") > 0
  - name: done_viewers
    when: done
`)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i, url := range []string{"https://shop.example/checkout-1-done", strings.Repeat("x", 100_000)} {
		e := &Event{ID: fmt.Sprint(i), Person: "p", Type: "page_view", At: t0.Add(time.Duration(i) * time.Hour),
			Props: map[string]string{"page_url": url}}
		if _, err := p.Add(Input{Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	// The first event enters both segments; at the second, the feature is
	// stopped and the person stays in both (done_viewers would otherwise
	// be left, the long URL not matching).
	changes, err := advanceTo(p, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Errorf("changes at the aborted evaluation: %+v", changes)
	}
	if a := p.TakeAborted(); len(a) != 1 || a[0].Expression != "done" || !a[0].At.Equal(t0.Add(time.Hour)) || a[0].Reason != AbortedCost {
		t.Errorf("aborted %+v, want feature done at %s", a, t0.Add(time.Hour))
	}
	_, members, err := p.Describe("p", t0.Add(2*time.Hour))
	if err == nil || members != nil {
		t.Errorf("Describe of the long URL: %v, members %v; want the cost limit's error", err, members)
	}
	if person := p.persons["p"]; strings.Join(person.Members, ",") != "done_viewers,viewers" {
		t.Errorf("members %v, want done_viewers and viewers", person.Members)
	}
}

// TestFailingEvaluationIsAborted divides by a count that is zero for one
// person: that evaluation fails and decides nothing, is recorded with the
// error, and the person's other segment, the other person evaluated at the
// same instant and the person's timer go on as usual.
func TestFailingEvaluationIsAborted(t *testing.T) {
	p := processorOf(t, `segments:
  - name: mostly_carts
    when: count("add_to_cart") / count("page_view") >= 1
  - name: carts_lately
    when: count("add_to_cart", "1h") > 0
`)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, e := range []*Event{
		{ID: "a", Person: "no_views", Type: "add_to_cart", At: t0},
		{ID: "b", Person: "views", Type: "add_to_cart", At: t0},
		{ID: "c", Person: "views", Type: "page_view", At: t0},
	} {
		if _, err := p.Add(Input{Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	// At t0 both enter carts_lately, views (1 / 1) enters mostly_carts,
	// no_views fails (1 / 0); an hour later the window timer makes both
	// leave carts_lately.
	changes, err := advanceTo(p, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%s %s %v %s", c.Person, c.Segment, c.Entered, c.At.Sub(t0)))
	}
	want := []string{"no_views carts_lately true 0s", "views mostly_carts true 0s", "views carts_lately true 0s",
		"no_views carts_lately false 1h0m0s", "views carts_lately false 1h0m0s"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	aborted := p.TakeAborted()
	if len(aborted) != 2 {
		t.Fatalf("aborted %+v, want no_views' mostly_carts at 0s and 1h", aborted)
	}
	for i, a := range aborted {
		if a.Person != "no_views" || a.Expression != "mostly_carts" || a.Reason != AbortedError || !a.At.Equal(t0.Add(time.Duration(i)*time.Hour)) ||
			a.Err == nil || !strings.Contains(a.Err.Error(), "division by zero") {
			t.Errorf("aborted[%d] = %+v, want no_views' mostly_carts failing with a division by zero", i, a)
		}
	}
}

// TestEvaluationStopsWhenTheContextEnds runs a condition that takes
// seconds (admitted by a raised budget) under a context that ends after
// 100 ms: the evaluation must stop within a second, with the context's
// error.
func TestEvaluationStopsWhenTheContextEnds(t *testing.T) {
	list := numbers(300)
	p := processorOf(t, segmentFile("max_cost: 1000000000\n", list+".all(x, "+list+".all(y, "+list+".all(z, x + y + z > 0)))"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	p.WithContext(ctx)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if _, err := p.Add(Input{Event: &Event{ID: "e", Person: "p", Type: "page_view", At: t0}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := advanceTo(p, t0.Add(time.Hour))
	if took := time.Since(start); took > time.Second {
		t.Errorf("the evaluation took %s after its context ended", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's deadline", err)
	}
}

// TestOnlyExpressionsReadingStringsCountCosts: the estimate bounds every
// expression that does not read last(), so only those that do, directly
// or through a feature, carry the cost limit at run time.
func TestOnlyExpressionsReadingStringsCountCosts(t *testing.T) {
	d, err := ParseDefinitions("segments.yaml", []byte(`features:
  url: last("page_view", "page_url")
  carts: count("add_to_cart", "1d")
segments:
  - name: direct
    when: last("page_view", "channel") == "email"
  - name: through_a_feature
    when: url.contains("checkout")
  - name: counts
    when: carts > 0 && since("add_to_cart") >= duration("1h")
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range d.Features {
		got[f.Name] = f.dynamic
	}
	for _, s := range d.Segments {
		got[s.Name] = s.dynamic
	}
	want := map[string]bool{"url": true, "carts": false, "direct": true, "through_a_feature": true, "counts": false}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: counts costs at run time %v, want %v", name, got[name], w)
		}
	}
	shipped, err := LoadDefinitions("../../../pipelines/segments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shipped.Segments {
		if s.dynamic {
			t.Errorf("shipped segment %s counts costs at run time", s.Name)
		}
	}
}
