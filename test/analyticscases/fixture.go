// Package analyticscases holds the hand-computed fixtures of touchline's
// analyses: small event histories, the queries run on them, and the rows
// those queries must return. The integration suite runs them on a real
// ClickHouse 18.16 server and test/chdb runs them on the current engine, so
// both engines are held to the same expected numbers.
//
// Every expected number is worked out by hand from the events (the comments
// say how) or, for time decay, from the model's formula written out here;
// none comes from the code under test.
package analyticscases

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/table"
)

// Event is one touchpoint of a fixture.
type Event struct {
	ID, Person, Type, Channel, Campaign string
	At                                  time.Time
	// Revenue in currency units.
	Revenue float64
	// Currency of the revenue; empty in the fixtures of one currency.
	Currency string
	// OrderID of a purchase, and of the refund of one; usually empty.
	OrderID string
	Props   map[string]string
}

// Spend is one spend report of a fixture; a later Version restates it.
type Spend struct {
	Date                      time.Time
	Channel, Campaign, Source string
	// Cost in currency units.
	Cost     float64
	Currency string
	Version  uint64
}

// Rate is one exchange rate of a fixture; a later Version restates it.
type Rate struct {
	Date        time.Time
	Base, Quote string
	Rate        float64
	Version     uint64
}

// Override maps a stored person id to the person it merged into.
type Override struct {
	Person, Survivor string
	Version          uint64
}

// SegmentChange is one entry into or exit from a segment.
type SegmentChange struct {
	Segment, Person string
	Entered         bool
	At              time.Time
}

// Identity is one identifier (hashed, as stored) of a person.
type Identity struct {
	Type, Value, Person string
	FirstSeen           time.Time
}

// Merge is one merge of a person into another.
type Merge struct {
	Merged, Survivor, Request string
	At                        time.Time
}

// Fixture is the data a case runs on.
type Fixture struct {
	Events     []Event
	Spend      []Spend
	Overrides  []Override
	Changes    []SegmentChange
	Identities []Identity
	Merges     []Merge
	Rates      []Rate
}

// replayed is how many times Load and Inserts write the touchpoints and the
// spend: the second time, with a later ingestion time, is a replay that the
// queries must not count twice.
const replayed = 2

// rows returns the fixture as table rows, touchpoints and spend once per
// replay.
func (f Fixture) rows() ([]clickhouse.TouchpointRow, []clickhouse.SpendRow, []clickhouse.PersonOverrideRow) {
	var (
		tps       []clickhouse.TouchpointRow
		spend     []clickhouse.SpendRow
		overrides []clickhouse.PersonOverrideRow
	)
	eachReplay(func(ingested time.Time) {
		for _, e := range f.Events {
			keys, values := props(e.Props)
			tps = append(tps, clickhouse.TouchpointRow{
				EventID: e.ID, EventTime: e.At.Truncate(time.Second), EventMillis: uint16(e.At.Nanosecond() / int(time.Millisecond)),
				EventType: e.Type, Channel: e.Channel, Campaign: e.Campaign, PersonID: e.Person,
				Revenue: micros(e.Revenue), Currency: e.Currency, OrderID: e.OrderID, PropertyKeys: keys, PropertyValues: values, IngestedAt: ingested,
			})
		}
		for _, s := range f.Spend {
			spend = append(spend, clickhouse.SpendRow{Date: s.Date, Channel: s.Channel, Campaign: s.Campaign,
				Source: s.Source, Cost: micros(s.Cost), Currency: s.Currency, Version: s.Version, IngestedAt: ingested})
		}
	})
	for _, o := range f.Overrides {
		overrides = append(overrides, clickhouse.PersonOverrideRow{PersonID: o.Person, SurvivingPersonID: o.Survivor,
			MergedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Version: o.Version})
	}
	return tps, spend, overrides
}

// Load writes the fixture into a migrated database through touchline's
// batch writers.
func (f Fixture) Load(ctx context.Context, conn driver.Conn) error {
	tps, spend, overrides := f.rows()
	if err := clickhouse.InsertTouchpoints(ctx, conn, tps); err != nil {
		return err
	}
	if err := clickhouse.InsertSpend(ctx, conn, spend); err != nil {
		return err
	}
	if err := clickhouse.InsertPersonOverrides(ctx, conn, overrides); err != nil {
		return err
	}
	if err := clickhouse.InsertExchangeRates(ctx, conn, f.rateRows()); err != nil {
		return err
	}
	changes, identities, merges := f.personRows()
	if err := clickhouse.InsertSegmentChanges(ctx, conn, changes); err != nil {
		return err
	}
	if err := clickhouse.InsertIdentityMap(ctx, conn, identities); err != nil {
		return err
	}
	return clickhouse.InsertIdentityMerges(ctx, conn, merges)
}

// eachReplay calls write with the ingestion time of each replay.
func eachReplay(write func(ingested time.Time)) {
	for replay := 1; replay <= replayed; replay++ {
		write(time.Date(2026, 11, 1, 0, 0, replay, 0, time.UTC))
	}
}

// rateRows returns the exchange rates as table rows, once per replay.
func (f Fixture) rateRows() []clickhouse.ExchangeRateRow {
	var rows []clickhouse.ExchangeRateRow
	eachReplay(func(ingested time.Time) {
		for _, r := range f.Rates {
			rows = append(rows, clickhouse.ExchangeRateRow{Date: r.Date, Base: r.Base, Quote: r.Quote, Rate: r.Rate,
				Source: "fixture", Version: r.Version, IngestedAt: ingested})
		}
	})
	return rows
}

// personRows returns the segment changes, identities and merges as table
// rows, the changes once per replay.
func (f Fixture) personRows() (changes []clickhouse.SegmentChangeRow, identities []clickhouse.IdentityMapRow, merges []clickhouse.IdentityMergeRow) {
	eachReplay(func(written time.Time) {
		for _, c := range f.Changes {
			var entered uint8
			if c.Entered {
				entered = 1
			}
			changes = append(changes, clickhouse.SegmentChangeRow{Segment: c.Segment, PersonID: c.Person, Entered: entered,
				ChangedAt: c.At.Truncate(time.Second), ChangedMillis: uint16(c.At.Nanosecond() / int(time.Millisecond)),
				Features: "{}", WrittenAt: written})
		}
	})
	for _, i := range f.Identities {
		identities = append(identities, clickhouse.IdentityMapRow{IdentifierType: i.Type, IdentifierValue: i.Value,
			PersonID: i.Person, FirstSeen: i.FirstSeen, Version: 1})
	}
	for _, m := range f.Merges {
		merges = append(merges, clickhouse.IdentityMergeRow{MergedPersonID: m.Merged, SurvivingPersonID: m.Survivor,
			RequestID: m.Request, MergedAt: m.At, Version: 1})
	}
	return changes, identities, merges
}

// Inserts returns the same rows as Load writes, as INSERT statements, for
// engines that touchline's writers do not reach (chDB).
func (f Fixture) Inserts() []string {
	tps, spend, overrides := f.rows()
	var out []string
	if len(tps) > 0 {
		values := make([]string, len(tps))
		for i, r := range tps {
			values[i] = fmt.Sprintf("(%s, %s, %d, %s, %s, %s, %s, %d, %s, %s, %s, %s, %s)",
				lit(r.EventID), sqlTime(r.EventTime), r.EventMillis, lit(r.EventType), lit(r.Channel),
				lit(r.Campaign), lit(r.PersonID), r.Revenue, lit(r.Currency), lit(r.OrderID), array(r.PropertyKeys), array(r.PropertyValues), sqlTime(r.IngestedAt))
		}
		out = append(out, "INSERT INTO touchpoints (event_id, event_time, event_millis, event_type, channel, campaign, "+
			"person_id, revenue, currency, order_id, property_keys, property_values, ingested_at) VALUES "+strings.Join(values, ", "))
	}
	if len(spend) > 0 {
		values := make([]string, len(spend))
		for i, r := range spend {
			values[i] = fmt.Sprintf("(toDate(%s), %s, %s, %s, %d, %s, %d, %s)", lit(r.Date.Format(time.DateOnly)),
				lit(r.Channel), lit(r.Campaign), lit(r.Source), r.Cost, lit(r.Currency), r.Version, sqlTime(r.IngestedAt))
		}
		out = append(out, "INSERT INTO spend (date, channel, campaign, source, cost, currency, version, ingested_at) VALUES "+
			strings.Join(values, ", "))
	}
	if len(overrides) > 0 {
		values := make([]string, len(overrides))
		for i, r := range overrides {
			values[i] = fmt.Sprintf("(%s, %s, %s, %d)", lit(r.PersonID), lit(r.SurvivingPersonID), sqlTime(r.MergedAt), r.Version)
		}
		out = append(out, "INSERT INTO person_overrides (person_id, surviving_person_id, merged_at, version) VALUES "+
			strings.Join(values, ", "))
	}
	rates := f.rateRows()
	out = appendInsert(out, "exchange_rates (date, base, quote, rate, source, version, ingested_at)", len(rates), func(i int) string {
		r := rates[i]
		return fmt.Sprintf("(toDate(%s), %s, %s, %v, %s, %d, %s)", lit(r.Date.Format(time.DateOnly)), lit(r.Base), lit(r.Quote),
			r.Rate, lit(r.Source), r.Version, sqlTime(r.IngestedAt))
	})
	changes, identities, merges := f.personRows()
	out = appendInsert(out, "segment_changes (segment, person_id, entered, changed_at, changed_millis, features, written_at)",
		len(changes), func(i int) string {
			r := changes[i]
			return fmt.Sprintf("(%s, %s, %d, %s, %d, %s, %s)", lit(r.Segment), lit(r.PersonID), r.Entered, sqlTime(r.ChangedAt),
				r.ChangedMillis, lit(r.Features), sqlTime(r.WrittenAt))
		})
	out = appendInsert(out, "identity_map (identifier_type, identifier_value, person_id, first_seen, version)",
		len(identities), func(i int) string {
			r := identities[i]
			return fmt.Sprintf("(%s, %s, %s, %s, %d)", lit(r.IdentifierType), lit(r.IdentifierValue), lit(r.PersonID),
				sqlTime(r.FirstSeen), r.Version)
		})
	return appendInsert(out, "identity_merges (merged_person_id, surviving_person_id, request_id, merged_at, version)",
		len(merges), func(i int) string {
			r := merges[i]
			return fmt.Sprintf("(%s, %s, %s, %s, %d)", lit(r.MergedPersonID), lit(r.SurvivingPersonID), lit(r.RequestID),
				sqlTime(r.MergedAt), r.Version)
		})
}

// appendInsert appends to out an INSERT of n rows into table (with its
// column list), each rendered by value, or nothing for no rows.
func appendInsert(out []string, table string, n int, value func(int) string) []string {
	if n == 0 {
		return out
	}
	values := make([]string, n)
	for i := range values {
		values[i] = value(i)
	}
	return append(out, "INSERT INTO "+table+" VALUES "+strings.Join(values, ", "))
}

func lit(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func sqlTime(t time.Time) string {
	return "toDateTime(" + lit(t.UTC().Format(time.DateTime)) + ", 'UTC')"
}

func micros(units float64) int64 { return int64(math.Round(units * 1e6)) }

// props returns a property map as the parallel key and value arrays of the
// touchpoints table, keys sorted.
func props(m map[string]string) (keys, values []string) {
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		values = append(values, m[k])
	}
	return keys, values
}

func array(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = lit(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Case is one query on a fixture with its expected result.
type Case struct {
	Name    string
	Fixture Fixture
	SQL     string
	// Columns are the expected column names.
	Columns []string
	// Key is how many leading columns identify a row; rows are compared
	// in the order of their keys, so ties in the query's ORDER BY on
	// floating point sums cannot make a correct result fail.
	Key int
	// Want are the expected rows: strings, float64 for every number, nil
	// for NULL.
	Want [][]any
	// Finish, when set, computes the result from the rows of SQL (the
	// data-driven attribution models); Want is its result.
	Finish func(*table.Result) (*table.Result, error)
}

// Result runs the case's Finish, if any, on the rows of its SQL.
func (c Case) Result(res *table.Result) (*table.Result, error) {
	if c.Finish == nil {
		return res, nil
	}
	return c.Finish(res)
}

// Tolerance is the largest difference allowed between an expected and a
// returned number, relative to the larger of the two (absolute below 1).
const Tolerance = 1e-9

// Check compares a query result with the case's expectation and describes
// every difference. Numbers of any Go numeric type are compared as float64.
func (c Case) Check(columns []string, rows [][]any) error {
	var problems []string
	if strings.Join(columns, ",") != strings.Join(c.Columns, ",") {
		problems = append(problems, fmt.Sprintf("columns %v, want %v", columns, c.Columns))
	}
	got := c.sorted(rows)
	want := c.sorted(c.Want)
	if len(got) != len(want) {
		problems = append(problems, fmt.Sprintf("%d rows, want %d", len(got), len(want)))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if !rowEqual(got[i], want[i]) {
			problems = append(problems, fmt.Sprintf("row %d: %v, want %v", i+1, got[i], want[i]))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s:\n  %s\ngot:\n%s", c.Name, strings.Join(problems, "\n  "), render(got))
}

func (c Case) sorted(rows [][]any) [][]any {
	out := append([][]any(nil), rows...)
	sort.SliceStable(out, func(i, j int) bool {
		return fmt.Sprint(out[i][:min(c.Key, len(out[i]))]) < fmt.Sprint(out[j][:min(c.Key, len(out[j]))])
	})
	return out
}

func rowEqual(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, gNum := number(got[i])
		w, wNum := number(want[i])
		switch {
		case gNum && wNum:
			if math.Abs(g-w) > Tolerance*math.Max(1, math.Max(math.Abs(g), math.Abs(w))) {
				return false
			}
		case gNum || wNum:
			return false
		case fmt.Sprint(got[i]) != fmt.Sprint(want[i]):
			return false
		}
	}
	return true
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func render(rows [][]any) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  %v\n", r)
	}
	return b.String()
}
