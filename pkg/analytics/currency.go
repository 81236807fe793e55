package analytics

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxRateAge is how many days back a missing day's rate may be taken
// from, unless configured: a week covers weekends and holidays, when the
// European Central Bank publishes no rates.
const DefaultMaxRateAge = 7

// Currency is the reporting currency of a money query. The zero value
// converts nothing: amounts are taken as stored, for a shop with one currency,
// exactly as before reporting currencies existed.
type Currency struct {
	// Code is the ISO 4217 code money is converted into; empty for none.
	Code string
	// MaxRateAge is how many days before an amount's day its rate may be
	// taken from when that day has none (0: the day's own rate only).
	MaxRateAge int
}

// Validate reports a code that is not three capital letters and a negative
// or over-long maximum age.
func (c Currency) Validate() error {
	ok := len(c.Code) == 3
	for i := 0; ok && i < 3; i++ {
		ok = c.Code[i] >= 'A' && c.Code[i] <= 'Z'
	}
	ok = ok || c.Code == ""
	switch {
	case !ok:
		return fmt.Errorf("reporting currency %q is not an ISO 4217 code (three capital letters)", c.Code)
	case c.MaxRateAge < 0 || c.MaxRateAge > 366:
		return fmt.Errorf("maximum rate age %d days is not within 0 to 366", c.MaxRateAge)
	}
	return nil
}

// column renders the select item that states the reporting currency, or
// nothing without one.
func (c Currency) column() string {
	if c.Code == "" {
		return ""
	}
	return "\n    " + quote(c.Code) + " AS currency,"
}

// unconvertedColumn renders the select item expr AS name that counts what
// had no rate, or nothing without a reporting currency.
func (c Currency) unconvertedColumn(name, expr string) string {
	if c.Code == "" {
		return ""
	}
	return ",\n    " + expr + " AS " + name
}

// convertedEvents renders resolvedEvents(columns, where) with the column
// named revenue converted at the rate of its event's UTC day: the subquery
// returns the other columns, person, money and unconverted (see
// converted), with the rates of the days in days.
func (c Currency) convertedEvents(columns []column, where string, days Range) string {
	in := make([]column, 0, len(columns)+2)
	var names []string
	for _, cl := range columns {
		if cl.name == "revenue" {
			in = append(in, column{expr: cl.expr, name: "amount"})
			continue
		}
		in = append(in, cl)
		names = append(names, cl.name)
	}
	in = append(in, col("currency"), column{expr: "toDate(event_time)", name: "rate_day"})
	return c.converted(strings.Join(append(names, "person"), ", "), resolvedEvents(in, where), days)
}

// converted renders a subquery over from (which has the columns of cols,
// an amount column `amount` in micros, its `currency` and its UTC day
// `rate_day`) that returns cols and `money`, the amount in micros of the
// reporting currency, 0 when it cannot be converted, and `unconverted`, 1
// for a non-zero amount without a rate. The rates are those of the days in
// [from, to) (see factors).
func (c Currency) converted(cols, from string, days Range) string {
	return `(
        SELECT
            ` + cols + `,
            multiIf(amount = 0 OR currency = ` + quote(c.Code) + `, toFloat64(amount), factor > 0, amount * factor, toFloat64(0)) AS money,
            toUInt8(amount != 0 AND currency != ` + quote(c.Code) + ` AND factor = 0) AS unconverted
        FROM ` + from + ` AS amounts
        ANY LEFT JOIN ` + c.factors(days) + ` AS factors USING (rate_day, currency)
    )`
}

// factors renders a subquery with one row per UTC day of days and currency
// that can be converted into c.Code that day: (rate_day, currency, factor),
// one unit of currency being factor units of c.Code. The rate of a pair on
// a day is its latest restatement (FINAL) of the latest day at most
// MaxRateAge days before. A currency converts through, in this order: a
// pair quoted currency -> c.Code, a pair c.Code -> currency (inverted), and
// a cross rate through a third currency both are quoted against (the first
// such currency in alphabetical order).
func (c Currency) factors(days Range) string {
	age := strconv.Itoa(c.MaxRateAge)
	first := days.From.UTC().Truncate(24 * time.Hour)
	code := quote(c.Code)
	edges := `(
                -- each day's rate of each pair both ways, the latest at most ` + age + ` days old
                SELECT rate_day, tupleElement(edge, 1) AS from_currency, tupleElement(edge, 2) AS to_currency,
                    tupleElement(edge, 3) AS mult, tupleElement(edge, 4) AS direction
                FROM
                (
                    SELECT rate_day, pair_base, pair_quote, argMax(pair_rate, date) AS day_rate
                    FROM
                    (
                        SELECT date, base AS pair_base, quote AS pair_quote, rate AS pair_rate,
                            addDays(date, arrayJoin(range(` + strconv.Itoa(c.MaxRateAge+1) + `))) AS rate_day
                        FROM exchange_rates FINAL
                        WHERE date >= ` + dateLit(first.AddDate(0, 0, -c.MaxRateAge)) + ` AND date < ` + dateLit(ceilDay(days.To)) + `
                    )
                    WHERE rate_day >= ` + dateLit(first) + ` AND rate_day < ` + dateLit(ceilDay(days.To)) + `
                    GROUP BY rate_day, pair_base, pair_quote
                )
                ARRAY JOIN [(pair_base, pair_quote, day_rate, 0), (pair_quote, pair_base, 1 / day_rate, 1)] AS edge
            )`
	return `(
        -- one unit of currency is factor units of ` + c.Code + ` on rate_day
        SELECT rate_day, currency, argMin(path_factor, path_rank) AS factor
        FROM
        (
            SELECT rate_day, from_currency AS currency, mult AS path_factor, toString(direction) AS path_rank
            FROM ` + edges + `
            WHERE to_currency = ` + code + `
            UNION ALL
            SELECT rate_day, via_from AS currency, via_mult * to_mult AS path_factor,
                concat('2', via, toString(via_direction), toString(to_direction)) AS path_rank
            FROM
            (
                SELECT rate_day, from_currency AS via_from, to_currency AS via, mult AS via_mult, direction AS via_direction
                FROM ` + edges + `
                WHERE from_currency != ` + code + ` AND to_currency != ` + code + `
            ) AS first_leg
            ALL INNER JOIN
            (
                SELECT rate_day, from_currency AS via, mult AS to_mult, direction AS to_direction
                FROM ` + edges + `
                WHERE to_currency = ` + code + `
            ) AS second_leg USING (rate_day, via)
        )
        GROUP BY rate_day, currency
    )`
}
