// Package analytics builds touchline's analyses as ClickHouse SQL (funnels,
// multi-touch attribution, ROMI per channel, cohorts); package table runs
// them and prints their results.
//
// Every query is plain SQL that runs on ClickHouse 18.16 and on current
// releases: no window functions, no DateTime64, no functions added after
// 18.16, and no alias that shadows a column (18.16 resolves aliases anywhere
// in a SELECT). Persons are always the resolved persons: a touchpoint's
// person_id is mapped through person_overrides at query time, so events
// ingested before an identity merge count for the surviving person. The exact
// semantics are those of docs/analytics.md.
package analytics

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Range is a half-open time range [From, To) in UTC.
type Range struct {
	From, To time.Time
}

// LastDays returns the range of the n whole UTC days up to and including the
// day of now: [midnight after now - n days, midnight after now).
func LastDays(now time.Time, n int) Range {
	to := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	return Range{From: to.AddDate(0, 0, -n), To: to}
}

// A range must lie within the times ClickHouse's DateTime can hold: a time
// outside them would wrap around and select other rows, or none.
var (
	// MinTime is the earliest time a DateTime holds, 1970-01-01T00:00:00Z.
	MinTime = time.Unix(0, 0).UTC()
	// MaxTime is the latest time a DateTime holds, 2106-02-07T06:28:15Z.
	MaxTime = time.Unix(1<<32-1, 0).UTC()
)

// Validate reports an empty or inverted range, and one that reaches outside
// [MinTime, MaxTime].
func (r Range) Validate() error {
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"to", r.To}, {"from", r.From}} {
		if t.at.Before(MinTime) || t.at.After(MaxTime) {
			return fmt.Errorf("%s %s is out of range: ClickHouse holds times from %s to %s", t.name,
				t.at.UTC().Format(time.RFC3339), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
		}
	}
	if !r.From.Before(r.To) {
		return fmt.Errorf("empty time range: from %s is not before to %s",
			r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	}
	return nil
}

// quote renders s as a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// timeLit renders t as a DateTime literal in UTC (whole seconds; ranges are
// given to the second). A time before MinTime, such as the start of a long
// lookback, renders as MinTime: no stored event is older.
func timeLit(t time.Time) string {
	if t.Before(MinTime) {
		t = MinTime
	}
	return "toDateTime(" + quote(t.UTC().Format(time.DateTime)) + ", 'UTC')"
}

// dateLit renders the UTC date of t as a Date literal.
func dateLit(t time.Time) string {
	return "toDate(" + quote(t.UTC().Format(time.DateOnly)) + ")"
}

// ceilDay returns the first UTC midnight at or after t: the days whose start
// lies in [from, to) are those in [ceilDay(from), ceilDay(to)).
func ceilDay(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	if d.Before(t) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// quoteList renders a list of string literals for IN (...).
func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quote(v)
	}
	return strings.Join(q, ", ")
}

// eventMillis is the SQL of a touchpoint's time in Unix milliseconds.
const eventMillis = "toUInt64(toUInt32(event_time)) * 1000 + event_millis"

// column is one output column of resolvedEvents: an expression over the
// touchpoints table and the name it is selected as.
type column struct {
	expr, name string
}

// col names a column of the touchpoints table as it is.
func col(name string) column { return column{expr: name, name: name} }

// resolvedEvents renders a subquery over deduplicated touchpoints that
// returns the given columns and `person`, the resolved person, for the
// touchpoints matching where. Names must differ from the touchpoints columns
// that other expressions use, as 18.16 would substitute them there.
func resolvedEvents(columns []column, where string) string {
	inner := make([]string, len(columns))
	outer := make([]string, len(columns))
	for i, c := range columns {
		inner[i] = c.expr
		if c.expr != c.name {
			inner[i] += " AS " + c.name
		}
		outer[i] = c.name
	}
	return `(
        SELECT
            ` + strings.Join(outer, ",\n            ") + `,
            if(surviving_person_id = '', person_id, surviving_person_id) AS person
        FROM
        (
            SELECT
                person_id,
                ` + strings.Join(inner, ",\n                ") + `
            FROM touchpoints FINAL
            WHERE ` + where + `
        ) AS events
        ANY LEFT JOIN
        (
            -- identity overrides: a person id -> the person it merged into
            SELECT person_id, surviving_person_id
            FROM person_overrides FINAL
        ) AS overrides USING person_id
    )`
}

// errorList joins problems into one error, or returns nil.
func errorList(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}
