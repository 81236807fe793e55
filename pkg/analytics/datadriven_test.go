package analytics

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/table"
)

// randomPaths returns random paths over channels, and beside them paths
// that never convert through the channel "ghost".
func randomPaths(seed uint64, channels []string) []Path {
	rng := rand.New(rand.NewPCG(seed, 1))
	var paths []Path
	for range 300 {
		var states []string
		for range rng.IntN(6) {
			s := channels[rng.IntN(len(channels))]
			if len(states) == 0 || states[len(states)-1] != s {
				states = append(states, s)
			}
		}
		p := Path{States: states, Nulls: float64(rng.IntN(3))}
		if rng.IntN(3) > 0 {
			p.Conversions = float64(1 + rng.IntN(4))
			p.Revenue = float64(rng.IntN(100000)) / 100
			p.Unconverted = float64(rng.IntN(int(p.Conversions) + 1))
		}
		if p.Conversions+p.Nulls > 0 {
			paths = append(paths, p)
		}
	}
	return append(paths, Path{States: []string{channels[0], "ghost"}, Nulls: 3}, Path{States: []string{"ghost"}, Nulls: 2})
}

type model struct {
	name    string
	credits func([]Path) (map[string]Credit, error)
}

func models() []model {
	out := []model{{"shapley", func(p []Path) (map[string]Credit, error) { return ShapleyCredits(p, NoTouch), nil }}}
	for order := 1; order <= MaxMarkovOrder; order++ {
		out = append(out, model{"markov order " + strconv.Itoa(order), func(p []Path) (map[string]Credit, error) {
			return MarkovCredits(p, order, NoTouch)
		}})
	}
	return out
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// TestDataDrivenProperties: credits sum to the conversions, revenue and
// unconverted conversions; a channel that never appears or appears only
// in non-converting paths gets nothing; renaming channels renames the
// credits and changes nothing else.
func TestDataDrivenProperties(t *testing.T) {
	channels := []string{"email", "paid_search", "display", "social", "sms", "push", "video"}
	for seed := uint64(1); seed <= 3; seed++ {
		paths := randomPaths(seed, channels)
		var conversions, revenue, unconverted float64
		for _, p := range paths {
			conversions += p.Conversions
			revenue += p.Revenue
			unconverted += p.Unconverted
		}
		renamed := make([]Path, len(paths))
		rename := func(s string) string { return "x_" + strings.ToUpper(s) }
		for i, p := range paths {
			renamed[i] = p
			renamed[i].States = nil
			for _, s := range p.States {
				renamed[i].States = append(renamed[i].States, rename(s))
			}
		}
		for _, m := range models() {
			credits, err := m.credits(paths)
			if err != nil {
				t.Fatalf("%s: %v", m.name, err)
			}
			var sum Credit
			for _, c := range credits {
				sum.Conversions += c.Conversions
				sum.Revenue += c.Revenue
				sum.Unconverted += c.Unconverted
				if c.Conversions < 0 || c.Revenue < 0 {
					t.Errorf("%s: a negative credit %+v", m.name, c)
				}
			}
			if !near(sum.Conversions, conversions) || !near(sum.Revenue, revenue) || !near(sum.Unconverted, unconverted) {
				t.Errorf("%s, seed %d: credits sum to %+v, want %v conversions, %v revenue, %v unconverted", m.name, seed, sum, conversions, revenue, unconverted)
			}
			for _, c := range []string{"ghost", "never"} {
				if x, ok := credits[c]; ok && x != (Credit{}) {
					t.Errorf("%s: %s is credited %+v", m.name, c, x)
				}
			}
			other, err := m.credits(renamed)
			if err != nil {
				t.Fatal(err)
			}
			for c, x := range credits {
				name := c
				if c != NoTouch {
					name = rename(c)
				}
				y := other[name]
				if !near(x.Conversions, y.Conversions) || !near(x.Revenue, y.Revenue) {
					t.Errorf("%s: %s is credited %+v, renamed %s %+v", m.name, c, x, name, y)
				}
			}
			if len(other) != len(credits) {
				t.Errorf("%s: %d credited channels, renamed %d", m.name, len(credits), len(other))
			}
		}
	}
}

// TestShapleySumsAgree: summing over subsets and over the sets that paths
// have give the same values.
func TestShapleySumsAgree(t *testing.T) {
	channels := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	g := newGame(randomPaths(9, channels))
	for _, set := range [][]string{{"a"}, {"a", "b"}, {"a", "c", "e", "g"}, channels} {
		members := g.members(set)
		n := len(members)
		weight := shapleyWeights(n)
		bySubsets, bySets := make([]float64, n), make([]float64, n)
		g.bySubsets(members, weight, bySubsets)
		g.bySets(members, weight, bySets)
		total := 0.0
		for i := range bySubsets {
			total += bySubsets[i]
			if !near(bySubsets[i], bySets[i]) {
				t.Errorf("%v: member %d: %v over subsets, %v over sets", set, i, bySubsets[i], bySets[i])
			}
		}
		if want := g.value(members); !near(total, want) {
			t.Errorf("%v: values sum to %v, want v(S) = %v", set, total, want)
		}
	}
}

// TestMarkovRemovalByHand: start -> a (2 of 4) -> b (1 of 2) or null; b
// converts; c never does. Removal effects: a 1/2, b 1, c 0; a > b shares
// 1/3 : 2/3.
func TestMarkovRemovalByHand(t *testing.T) {
	paths := []Path{
		{States: []string{"a", "b"}, Conversions: 1, Revenue: 90},
		{States: []string{"a"}, Nulls: 1},
		{States: []string{"b"}, Conversions: 1, Revenue: 30},
		{States: []string{"c"}, Nulls: 1},
		{Conversions: 2, Revenue: 10},
	}
	credits, err := MarkovCredits(paths, 1, NoTouch)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Credit{"a": {1.0 / 3, 30, 0}, "b": {1 + 2.0/3, 90, 0}, NoTouch: {2, 10, 0}}
	for c, w := range want {
		if g := credits[c]; !near(g.Conversions, w.Conversions) || !near(g.Revenue, w.Revenue) {
			t.Errorf("%s: %+v, want %+v", c, g, w)
		}
	}
	if _, ok := credits["c"]; ok {
		t.Errorf("c is credited: %+v", credits["c"])
	}
	if _, err := MarkovCredits(paths, 5, NoTouch); err == nil {
		t.Error("order 5 was taken")
	}
}

// TestPathStates: the escapes of the SQL's states, and paths that no
// query writes, refused.
func TestPathStates(t *testing.T) {
	states, err := splitPath(`a\>b > c\\ \/ d / x\/y > e`)
	if err != nil || len(states) != 3 || states[0] != `a\>b` || states[1] != `c\\ \/ d / x\/y` || states[2] != "e" {
		t.Fatalf("split: %q, %v", states, err)
	}
	channel, campaign, err := decodeState(states[1], true)
	if err != nil || channel != `c\ / d` || campaign != "x/y" {
		t.Errorf("decode: %q %q %v", channel, campaign, err)
	}
	if channel, _, err := decodeState(states[0], false); err != nil || channel != "a>b" {
		t.Errorf("decode: %q %v", channel, err)
	}
	for _, bad := range []string{"a >b", "> a", "a> b"} {
		if _, err := splitPath(bad); err == nil {
			t.Errorf("%q was split", bad)
		}
	}
	if _, _, err := decodeState("a", true); err == nil {
		t.Error("a state without a campaign was taken by campaign")
	}
}

// TestDataDrivenFinish: the columns and order of the rule-based queries,
// and results that are not the path query's, refused.
func TestDataDrivenFinish(t *testing.T) {
	q := DataDrivenQuery{Range: Range{From: MinTime.AddDate(50, 0, 0), To: MinTime.AddDate(50, 1, 0)},
		Attribution: DefaultAttribution(), Model: Shapley, ROMI: true, Currency: Currency{Code: "EUR"}}
	res := &table.Result{
		Columns: []string{"kind", "path", "conversions", "revenue", "nulls", "spend", "unconverted_conversions", "unconverted_spend"},
		Rows: [][]any{
			{"path", "email", uint64(2), 50.0, uint64(2), 0.0, uint64(1), 0.0},
			{"path", "", uint64(1), 5.0, uint64(0), 0.0, uint64(0), 0.0},
			{"spend", "email", uint64(0), 0.0, uint64(0), 10.0, uint64(0), 0.0},
			{"spend", "video", uint64(0), 0.0, uint64(0), 4.0, uint64(0), 1.0},
		},
	}
	out, err := q.Finish(res)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(out.Columns, ","); got != "channel,currency,conversions,revenue,spend,roas,romi,cpa,unconverted_conversions,unconverted_spend" {
		t.Errorf("columns %s", got)
	}
	want := [][]any{
		{"email", "EUR", 2.0, 50.0, 10.0, nil, nil, nil, 1.0, 0.0},
		{NoTouch, "EUR", 1.0, 5.0, 0.0, nil, nil, nil, 0.0, 0.0},
		{"video", "EUR", 0.0, 0.0, 4.0, nil, nil, nil, 0.0, 1.0},
	}
	if len(out.Rows) != len(want) {
		t.Fatalf("rows %v", out.Rows)
	}
	for i := range want {
		for j := range want[i] {
			if out.Rows[i][j] != want[i][j] {
				t.Errorf("row %d column %s: %v, want %v", i+1, out.Columns[j], out.Rows[i][j], want[i][j])
			}
		}
	}
	res.Rows[0][0] = "other"
	if _, err := q.Finish(res); err == nil {
		t.Error("a row of an unknown kind was taken")
	}
	res.Columns = res.Columns[1:]
	if _, err := q.Finish(res); err == nil {
		t.Error("a result without kind was taken")
	}
	q.Order = 2
	if _, err := q.SQL(); err == nil {
		t.Error("shapley took an order")
	}
}

// TestMarkovThatDoesNotSettleIsAnError: a path that alternates between two
// channels 20,000 times leaves b for a with probability 1 - 1/10,000, too
// slow to settle within the sweeps allowed: an error, not a loop without
// end.
func TestMarkovThatDoesNotSettleIsAnError(t *testing.T) {
	states := make([]string, 20000)
	for i := range states {
		states[i] = []string{"a", "b"}[i%2]
	}
	_, err := MarkovCredits([]Path{{States: states, Conversions: 1, Revenue: 1}}, 1, NoTouch)
	if err == nil || !strings.Contains(err.Error(), "did not settle") {
		t.Fatalf("%v, want that the chain did not settle", err)
	}
	// Short alternations settle.
	credits, err := MarkovCredits([]Path{{States: states[:20], Conversions: 1, Revenue: 1}}, 1, NoTouch)
	if err != nil || !near(credits["a"].Conversions+credits["b"].Conversions, 1) {
		t.Fatalf("%v %v", credits, err)
	}
}
