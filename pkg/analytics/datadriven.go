package analytics

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/table"
)

// The data-driven attribution models. Unlike the rule-based Models, whose
// credits ClickHouse computes touch by touch, they learn from every path:
// ClickHouse aggregates the paths (DataDrivenQuery.SQL) and Go computes the
// credits (DataDrivenQuery.Finish). docs/analytics.md defines them.
const (
	// Markov credits channels by their removal effect in a Markov chain
	// over the paths (start -> touches -> conversion or null).
	Markov Model = "markov"
	// Shapley credits channels by their Shapley values over the channels
	// of a path, a coalition's value being its conversion rate.
	Shapley Model = "shapley"
)

// DataDrivenModels lists the data-driven attribution models. They are
// chosen per query; the default model of attribution.yaml and the model of
// an alert rule are one of Models.
var DataDrivenModels = []Model{Markov, Shapley}

// MaxMarkovOrder is the highest order of the Markov model.
const MaxMarkovOrder = 4

// ParseQueryModel returns the model named s, rule-based or data-driven.
func ParseQueryModel(s string) (Model, error) {
	for _, m := range DataDrivenModels {
		if string(m) == s {
			return m, nil
		}
	}
	if m, err := ParseModel(s); err == nil {
		return m, nil
	}
	names := make([]string, 0, len(Models)+len(DataDrivenModels))
	for _, m := range append(append([]Model{}, Models...), DataDrivenModels...) {
		names = append(names, string(m))
	}
	return "", fmt.Errorf("unknown attribution model %q: want one of %s", s, strings.Join(names, ", "))
}

// DataDriven reports whether m is one of DataDrivenModels.
func (m Model) DataDriven() bool {
	return m == Markov || m == Shapley
}

// DataDrivenQuery attributes the revenue of the conversions in Range to
// channels (and campaigns) under a data-driven model, or sets it against
// spend as ROMIQuery does. Its SQL aggregates the paths; Finish turns them
// into the rows of AttributionQuery (or ROMIQuery), with the same columns.
type DataDrivenQuery struct {
	Range Range
	// Attribution gives the conversion type, touch types and lookback; its
	// Model is not used.
	Attribution Attribution
	// Model is Markov or Shapley.
	Model Model
	// Order is the Markov chain's order, 1 to MaxMarkovOrder (0 means 1):
	// a state is the last Order touches. Only Markov has one.
	Order int
	// ByCampaign makes (channel, campaign) the unit of credit.
	ByCampaign bool
	// Currency, when it has a code, converts revenue (and spend) into it.
	Currency Currency
	// ROMI adds the spend and the ratios of ROMIQuery.
	ROMI bool
}

// order returns the Markov order, 1 when unset.
func (q DataDrivenQuery) order() int {
	if q.Order == 0 {
		return 1
	}
	return q.Order
}

func (q DataDrivenQuery) validate() error {
	if !q.Model.DataDriven() {
		return fmt.Errorf("model %q is not data-driven: want markov or shapley", q.Model)
	}
	switch {
	case q.Order < 0 || q.Order > MaxMarkovOrder:
		return fmt.Errorf("order %d is not within 1 to %d", q.Order, MaxMarkovOrder)
	case q.Order > 1 && q.Model != Markov:
		return fmt.Errorf("order %d: only the markov model has an order", q.Order)
	}
	a := AttributionQuery{Range: q.Range, Attribution: q.Attribution, Currency: q.Currency}
	a.Attribution.Model = TimeDecay // the rule-based model is not used
	return a.validate()
}

// SQL returns the path query: one row per distinct path, with the columns
// path (the states in time order, consecutive repeats collapsed, joined by
// " > "; a state is the channel, or "channel / campaign" by campaign, with
// \, > and / escaped by a backslash; empty for conversions without
// touches), conversions, revenue (currency units), nulls (non-converting
// paths) and, with a reporting currency, unconverted_conversions. The ROMI
// form has a leading column kind, "path" for these rows and "spend" for
// one row per state (path) with spend, and the columns spend and, with a
// reporting currency, unconverted_spend.
func (q DataDrivenQuery) SQL() (string, error) {
	if err := q.validate(); err != nil {
		return "", err
	}
	paths := q.paths()
	if !q.ROMI {
		return q.header() + paths, nil
	}
	spendDays := Range{From: ceilDay(q.Range.From), To: ceilDay(q.Range.To)}
	spendWhere := `date >= ` + dateLit(spendDays.From) + ` AND date < ` + dateLit(spendDays.To)
	state := q.stateExpr()
	spendFrom, spendSum, unconverted := `spend FINAL
    WHERE `+spendWhere, "sum(cost)", ""
	if q.Currency.Code != "" {
		spendFrom = q.Currency.converted("channel, campaign", `(
        SELECT channel, campaign, cost AS amount, currency, date AS rate_day
        FROM spend FINAL
        WHERE `+spendWhere+`
    )`, spendDays)
		spendSum = "sum(money)"
		unconverted = `,
    toUInt64(0) AS unconverted_conversions,
    toFloat64(sum(unconverted)) AS unconverted_spend`
	}
	pathUnconverted := ""
	if q.Currency.Code != "" {
		pathUnconverted = `,
    unconverted_conversions,
    toFloat64(0) AS unconverted_spend`
	}
	return q.header() + `-- Spend: days whose start lies in the range, restatements applied (FINAL).
SELECT
    'path' AS kind,
    path,
    conversions,
    revenue,
    nulls,
    toFloat64(0) AS spend` + pathUnconverted + `
FROM
(` + indent(paths) + `
)
UNION ALL
SELECT
    'spend' AS kind,
    ` + state + ` AS path,
    toUInt64(0) AS conversions,
    toFloat64(0) AS revenue,
    toUInt64(0) AS nulls,
    ` + spendSum + ` / 1000000 AS spend` + unconverted + `
FROM ` + spendFrom + `
GROUP BY path`, nil
}

// indent indents every line of s by four spaces.
func indent(s string) string {
	return strings.ReplaceAll("\n"+s, "\n", "\n    ")
}

func (q DataDrivenQuery) header() string {
	a := q.Attribution
	title := "Data-driven attribution"
	if q.ROMI {
		title = "ROMI per channel, data-driven"
	}
	model := string(q.Model)
	if q.Model == Markov {
		model += " of order " + strconv.Itoa(q.order())
	}
	return fmt.Sprintf(`-- %s, model %s: the paths of the conversions (%s) in [%s, %s)
-- and of the persons with touches and no conversion there (null paths), touches (%s)
-- within %s before each conversion or a null path's last touch; the model's credits are computed from them.
`, title, model, a.ConversionType, q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339),
		strings.Join(a.TouchTypes, ", "), pipefile.FormatDuration(a.Lookback))
}

// escapeExpr renders the SQL that escapes \, > and / of the text expr
// with a backslash, so that a path's states split unambiguously.
func escapeExpr(expr string) string {
	return `replaceAll(replaceAll(replaceAll(` + expr + `, '\\', '\\\\'), '>', '\\>'), '/', '\\/')`
}

// stateExpr renders the SQL of a touch's state: its escaped channel, or
// channel and campaign by campaign.
func (q DataDrivenQuery) stateExpr() string {
	if q.ByCampaign {
		return `concat(` + escapeExpr("channel") + `, ' / ', ` + escapeExpr("campaign") + `)`
	}
	return escapeExpr("channel")
}

// touchWindow returns the SQL conditions of a conversion in r and of the
// events an attribution over r reads: conversions and touches from the
// lookback before r's start to its end.
func touchWindow(r Range, a Attribution) (isConversion, where string) {
	isConversion = "event_type = " + quote(a.ConversionType) + " AND event_time >= " + timeLit(r.From)
	where = "event_time >= " + timeLit(r.From.Add(-a.Lookback).Truncate(time.Second)) +
		" AND event_time < " + timeLit(r.To) +
		" AND event_type IN (" + quoteList(append([]string{a.ConversionType}, a.TouchTypes...)) + ")"
	return isConversion, where
}

// paths renders the query of the distinct paths and their counts.
func (q DataDrivenQuery) paths() string {
	unconvertedSum := ""
	if q.Currency.Code != "" {
		unconvertedSum = ",\n    sum(end_unconverted) AS unconverted_conversions"
	}
	return `SELECT
    path,
    countIf(end_converted = 1) AS conversions,
    sumIf(end_revenue, end_converted = 1) / 1000000 AS revenue,
    countIf(end_converted = 0) AS nulls` + unconvertedSum + `
FROM
` + pathEnds(q.Range, q.Attribution, q.stateExpr(), q.Currency, true) + `
GROUP BY path
ORDER BY conversions DESC, nulls DESC, path`
}

// pathEnds renders a subquery with one row per path end: each conversion
// in r and, with nulls, each person's null path (see DataDrivenQuery). Its
// columns: end_ms (the conversion's time, or after the null path's last
// touch), end_revenue (micros, converted into cur when it has a code, 0
// for a null path), end_unconverted (1 for revenue without a rate),
// end_converted (1 for a conversion, 0 for a null path), states (the
// touches' states, state being the SQL of a touch's state, oldest first),
// touch_times (their times in ms), collapsed (states with consecutive
// repeats collapsed) and path (collapsed joined by " > ").
func pathEnds(r Range, a Attribution, state string, cur Currency, nulls bool) string {
	lookback := strconv.FormatInt(a.Lookback.Milliseconds(), 10)
	fromMs := strconv.FormatInt(max(r.From.UnixMilli(), 0), 10)
	isConversion, where := touchWindow(r, a)
	columns := []column{
		{expr: eventMillis, name: "at_ms"},
		{expr: state, name: "state"},
		col("revenue"),
		{expr: "event_type IN (" + quoteList(a.TouchTypes) + ")", name: "is_touch"},
		{expr: isConversion, name: "is_conversion"},
	}
	conversion := "(at_ms, at_ms, toFloat64(revenue), toUInt8(0), toUInt8(1))"
	if cur.Code != "" {
		columns[2] = column{expr: "revenue", name: "amount"}
		columns = append(columns, col("currency"), column{expr: "toDate(event_time)", name: "rate_day"})
		conversion = "(at_ms, at_ms, money, unconverted, toUInt8(1))"
	}
	events := resolvedEvents(columns, where)
	if cur.Code != "" {
		days := Range{From: r.From.Add(-a.Lookback), To: r.To}
		events = cur.converted("at_ms, state, is_touch, is_conversion, person", events, days)
	}
	ends, having := "conversions", "notEmpty(conversions)"
	endsComment := "the conversions in the range"
	if nulls {
		ends = `if(notEmpty(conversions), conversions,
               [(tupleElement(touches[length(touches)], 1) + 1, tupleElement(touches[length(touches)], 1), toFloat64(0), toUInt8(0), toUInt8(0))])`
		having += " OR countIf(is_touch AND at_ms >= " + fromMs + ") > 0"
		endsComment += " or, without any, the last touch in the range (a null path)"
	}
	return `(
    -- one row per path end: each conversion` + map[bool]string{true: ", or a person's null path"}[nulls] + `
    SELECT
        tupleElement(path_end, 1) AS end_ms,
        tupleElement(path_end, 2) AS anchor_ms,
        tupleElement(path_end, 3) AS end_revenue,
        tupleElement(path_end, 4) AS end_unconverted,
        tupleElement(path_end, 5) AS end_converted,
        arrayFilter(t -> tupleElement(t, 1) < end_ms AND tupleElement(t, 1) + ` + lookback + ` >= anchor_ms, touches) AS window_touches,
        arrayMap(t -> tupleElement(t, 2), window_touches) AS states,
        arrayMap(t -> tupleElement(t, 1), window_touches) AS touch_times,
        -- consecutive repeats collapsed
        arrayFilter((s, i, previous) -> i = 1 OR s != previous, states, arrayEnumerate(states), arrayPopBack(arrayPushFront(states, ''))) AS collapsed,
        arrayStringConcat(collapsed, ' > ') AS path
    FROM
    (
        -- per resolved person: touches as (ms, state) sorted by time, and
        -- the path ends as (end ms, exclusive; anchor ms, the lookback's
        -- reference; revenue; unconverted; converted): ` + endsComment + `
        SELECT
            person,
            arraySort(groupArrayIf((at_ms, state), is_touch)) AS touches,
            groupArrayIf(` + conversion + `, is_conversion) AS conversions,
            ` + ends + ` AS path_ends
        FROM ` + events + `
        GROUP BY person
        HAVING ` + having + `
    )
    ARRAY JOIN path_ends AS path_end
)`
}

// Path is one distinct path of DataDrivenQuery's SQL with its counts.
type Path struct {
	// States are the path's states (escaped as the SQL writes them) in
	// time order, consecutive repeats collapsed; none for conversions
	// without touches.
	States []string
	// Conversions and Nulls count the conversions and null paths (persons
	// without a conversion) that took the path.
	Conversions, Nulls float64
	// Revenue is the conversions' revenue in currency units (converted).
	Revenue float64
	// Unconverted counts the conversions whose revenue had no rate.
	Unconverted float64
}

// Credit is what a model credits to one state: a share of conversions, of
// their revenue and of the conversions whose revenue had no rate.
type Credit struct {
	Conversions, Revenue, Unconverted float64
}

// shareCredits shares the conversions, revenue and unconverted
// conversions of every converting path among its states by the weights
// share returns for it (positive, summing to 1, by state); conversions
// without touches go to NoTouch (as state NoTouch, or NoTouch / NoTouch by
// campaign).
func shareCredits(paths []Path, none string, share func(Path) map[string]float64) map[string]Credit {
	out := map[string]Credit{}
	add := func(state string, w float64, p Path) {
		c := out[state]
		c.Conversions += w * p.Conversions
		c.Revenue += w * p.Revenue
		c.Unconverted += w * p.Unconverted
		out[state] = c
	}
	for _, p := range paths {
		if p.Conversions == 0 {
			continue
		}
		if len(p.States) == 0 {
			add(none, 1, p)
			continue
		}
		for state, w := range share(p) {
			add(state, w, p)
		}
	}
	return out
}

// distinct returns the distinct states of a path, in order of appearance.
func distinct(states []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range states {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// splitPath splits a path of the SQL into its states, escapes kept.
func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	var states []string
	start := 0
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			i++
		case '>':
			if i < 2 || path[i-1] != ' ' || i+1 >= len(path) || path[i+1] != ' ' {
				return nil, fmt.Errorf("path %q: a > that separates no states", path)
			}
			states = append(states, path[start:i-1])
			start = i + 2
			i++
		}
	}
	return append(states, path[start:]), nil
}

// decodeState returns the channel and campaign (empty unless byCampaign)
// of a state as the SQL escapes it.
func decodeState(state string, byCampaign bool) (channel, campaign string, err error) {
	var b strings.Builder
	parts := []string{}
	for i := 0; i < len(state); i++ {
		switch c := state[i]; {
		case c == '\\' && i+1 < len(state):
			i++
			b.WriteByte(state[i])
		case c == '/' && byCampaign && i > 0 && state[i-1] == ' ' && i+1 < len(state) && state[i+1] == ' ':
			s := b.String()
			parts = append(parts, s[:len(s)-1])
			b.Reset()
			i++
		default:
			b.WriteByte(c)
		}
	}
	parts = append(parts, b.String())
	if byCampaign != (len(parts) == 2) || len(parts) > 2 {
		return "", "", fmt.Errorf("state %q is not a channel%s", state, map[bool]string{true: " / campaign"}[byCampaign])
	}
	if byCampaign {
		return parts[0], parts[1], nil
	}
	return parts[0], "", nil
}

// Finish computes the model's credits from the rows of SQL and returns the
// rows AttributionQuery (or, with ROMI, ROMIQuery) would return, with the
// same columns and order.
func (q DataDrivenQuery) Finish(res *table.Result) (*table.Result, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	paths, spend, err := q.readPaths(res)
	if err != nil {
		return nil, err
	}
	none := NoTouch
	if q.ByCampaign {
		none = NoTouch + " / " + NoTouch
	}
	var credits map[string]Credit
	if q.Model == Markov {
		if credits, err = MarkovCredits(paths, q.order(), none); err != nil {
			return nil, err
		}
	} else {
		credits = ShapleyCredits(paths, none)
	}
	return q.rows(credits, spend)
}

// stateSpend is the spend of one state in currency units, and the spend
// rows without a rate.
type stateSpend struct {
	spend, unconverted float64
}

// readPaths reads the rows of SQL.
func (q DataDrivenQuery) readPaths(res *table.Result) ([]Path, map[string]stateSpend, error) {
	index := map[string]int{}
	for i, c := range res.Columns {
		index[c] = i
	}
	want := []string{"path", "conversions", "revenue", "nulls"}
	if q.ROMI {
		want = append(want, "kind", "spend")
	}
	if q.Currency.Code != "" {
		want = append(want, "unconverted_conversions")
		if q.ROMI {
			want = append(want, "unconverted_spend")
		}
	}
	for _, c := range want {
		if _, ok := index[c]; !ok {
			return nil, nil, fmt.Errorf("the path query's result has no column %s", c)
		}
	}
	var paths []Path
	spend := map[string]stateSpend{}
	for n, row := range res.Rows {
		var rowErr error
		text := func(c string) (string, error) {
			s, ok := row[index[c]].(string)
			if !ok {
				return "", fmt.Errorf("row %d: %s is %T, not text", n+1, c, row[index[c]])
			}
			return s, nil
		}
		number := func(c string) float64 {
			i, ok := index[c]
			if !ok {
				return 0
			}
			switch v := row[i].(type) {
			case float64:
				return v
			case uint64:
				return float64(v)
			case int64:
				return float64(v)
			}
			rowErr = fmt.Errorf("row %d: %s is %T, not a number", n+1, c, row[i])
			return 0
		}
		path, err := text("path")
		if err != nil {
			return nil, nil, err
		}
		kind := "path"
		if q.ROMI {
			if kind, err = text("kind"); err != nil {
				return nil, nil, err
			}
		}
		switch kind {
		case "spend":
			s := spend[path]
			s.spend += number("spend")
			s.unconverted += number("unconverted_spend")
			spend[path] = s
		case "path":
			states, err := splitPath(path)
			if err != nil {
				return nil, nil, err
			}
			paths = append(paths, Path{States: states, Conversions: number("conversions"), Nulls: number("nulls"),
				Revenue: number("revenue"), Unconverted: number("unconverted_conversions")})
		default:
			return nil, nil, fmt.Errorf("row %d: kind %q is neither path nor spend", n+1, kind)
		}
		if rowErr != nil {
			return nil, nil, rowErr
		}
	}
	return paths, spend, nil
}

// rows renders the credits (and spend) as the rows of AttributionQuery or
// ROMIQuery.
func (q DataDrivenQuery) rows(credits map[string]Credit, spend map[string]stateSpend) (*table.Result, error) {
	res := &table.Result{Columns: []string{"channel"}}
	if q.ByCampaign {
		res.Columns = append(res.Columns, "campaign")
	}
	if q.Currency.Code != "" {
		res.Columns = append(res.Columns, "currency")
	}
	res.Columns = append(res.Columns, "conversions", "revenue")
	if q.ROMI {
		res.Columns = append(res.Columns, "spend", "roas", "romi", "cpa")
	}
	if q.Currency.Code != "" {
		res.Columns = append(res.Columns, "unconverted_conversions")
		if q.ROMI {
			res.Columns = append(res.Columns, "unconverted_spend")
		}
	}
	states := map[string]bool{}
	for s, c := range credits {
		if c.Conversions > 0 {
			states[s] = true
		}
	}
	for s := range spend {
		states[s] = true
	}
	type line struct {
		keys   []string
		credit Credit
		spend  stateSpend
	}
	lines := make([]line, 0, len(states))
	for s := range states {
		channel, campaign, err := decodeState(s, q.ByCampaign)
		if err != nil {
			return nil, err
		}
		keys := []string{channel}
		if q.ByCampaign {
			keys = append(keys, campaign)
		}
		lines = append(lines, line{keys: keys, credit: credits[s], spend: spend[s]})
	}
	sort.Slice(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if a.credit.Revenue != b.credit.Revenue {
			return a.credit.Revenue > b.credit.Revenue
		}
		if a.spend.spend != b.spend.spend {
			return a.spend.spend > b.spend.spend
		}
		return slices.Compare(a.keys, b.keys) < 0
	})
	for _, l := range lines {
		row := make([]any, 0, len(res.Columns))
		for _, k := range l.keys {
			row = append(row, k)
		}
		if q.Currency.Code != "" {
			row = append(row, q.Currency.Code)
		}
		row = append(row, l.credit.Conversions, l.credit.Revenue)
		if q.ROMI {
			s, c, r := l.spend.spend, l.credit.Conversions, l.credit.Revenue
			unconverted := l.credit.Unconverted > 0 || l.spend.unconverted > 0
			row = append(row, s, ratio(!unconverted && s != 0, r/s), ratio(!unconverted && s != 0, (r-s)/s),
				ratio(!unconverted && s != 0 && c != 0, s/c))
		}
		if q.Currency.Code != "" {
			row = append(row, l.credit.Unconverted)
			if q.ROMI {
				row = append(row, l.spend.unconverted)
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// ratio returns x when ok, else nil (NULL).
func ratio(ok bool, x float64) any {
	if !ok {
		return nil
	}
	return x
}
