package analytics

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// The touch fields a journey path can be made of.
var pathFields = []string{"channel", "event_type", "campaign"}

// The reports of a journey paths query.
const (
	// PathsReport lists the most frequent paths.
	PathsReport = "paths"
	// LengthsReport is the distribution of path lengths.
	LengthsReport = "lengths"
	// TimesReport is the distribution of the times to convert.
	TimesReport = "times"
)

// PathsQuery reports the journeys that lead to the conversions in Range:
// the touches of each conversion within the lookback (the attribution's
// touch types), as in DataDrivenQuery.
type PathsQuery struct {
	Range Range
	// Attribution gives the conversion type, touch types and lookback.
	Attribution Attribution
	// By is the touch field a path is made of: channel (""), event_type or
	// campaign.
	By string
	// All adds the null paths of persons with touches in the range and no
	// conversion there (their last touch and the lookback before it).
	All bool
	// Collapse collapses consecutive repeats of a touch.
	Collapse bool
	// MaxLength, when positive, keeps only the last MaxLength touches of a
	// path (after collapsing).
	MaxLength int
	// Top is how many paths PathsReport lists, the most frequent first.
	Top int
	// Report is PathsReport (""), LengthsReport or TimesReport.
	Report string
	// Currency converts the revenue of PathsReport into a reporting
	// currency; the zero value sums it as stored.
	Currency Currency
}

// MaxTop bounds PathsQuery.Top.
const MaxTop = 10000

func (q PathsQuery) validate() error {
	switch {
	case q.By != "" && !containsString(pathFields, q.By):
		return fmt.Errorf("by %q: want one of %s", q.By, strings.Join(pathFields, ", "))
	case q.MaxLength < 0:
		return fmt.Errorf("max-length %d is negative", q.MaxLength)
	case q.Report != "" && q.Report != PathsReport && q.Report != LengthsReport && q.Report != TimesReport:
		return fmt.Errorf("report %q: want paths, lengths or times", q.Report)
	case (q.Report == "" || q.Report == PathsReport) && (q.Top < 1 || q.Top > MaxTop):
		return fmt.Errorf("top %d is not within 1 to %d", q.Top, MaxTop)
	}
	if err := q.Currency.Validate(); err != nil {
		return err
	}
	a := AttributionQuery{Range: q.Range, Attribution: q.Attribution}
	a.Attribution.Model = TimeDecay // no model is used
	return a.validate()
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SQL returns the query. PathsReport: one row per path (its touches joined
// by " > ", \, > and / escaped by a backslash; empty for conversions
// without touches), the Top with the most conversions (then null paths,
// then path): path, [currency with a reporting currency,] conversions,
// revenue (currency units: of the reporting currency, or as stored),
// [nulls with All,] avg_touches (touches per conversion, before collapsing
// and trimming), median_seconds_to_convert (exact median over the
// conversions with touches of the time from the path's first touch to the
// conversion; NULL without any)[, unconverted_conversions: conversions
// whose revenue had no rate, left out of revenue]. LengthsReport: length (touches of the
// path, after collapsing and trimming), conversions, [nulls,] share (of
// the conversions). TimesReport: days (whole days from the first touch to
// the conversion; conversions with touches), conversions, share.
func (q PathsQuery) SQL() (string, error) {
	if err := q.validate(); err != nil {
		return "", err
	}
	by := q.By
	if by == "" {
		by = "channel"
	}
	ends := pathEnds(q.Range, q.Attribution, escapeExpr(by), q.Currency, q.All)
	kept := "states"
	if q.Collapse {
		kept = "collapsed"
	}
	if q.MaxLength > 0 {
		kept = "arraySlice(" + kept + ", -" + strconv.Itoa(q.MaxLength) + ")"
	}
	nulls := ""
	if q.All {
		nulls = ",\n    countIf(end_converted = 0) AS nulls"
	}
	from := `
FROM
(
    SELECT
        end_converted,
        end_revenue,` + map[bool]string{true: "\n        end_unconverted,"}[q.Currency.Code != ""] + `
        length(states) AS touch_count,
        ` + kept + ` AS kept,
        arrayStringConcat(kept, ' > ') AS journey,
        if(empty(touch_times), toUInt64(0), toUInt64(end_ms - touch_times[1])) AS to_convert_ms
    FROM ` + strings.ReplaceAll(ends, "\n", "\n    ") + `
)`
	header := fmt.Sprintf("-- Journey paths by %s to the conversions (%s) in [%s, %s): touches (%s) within %s before each%s%s%s.\n",
		by, q.Attribution.ConversionType, q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339),
		strings.Join(q.Attribution.TouchTypes, ", "), pipefile.FormatDuration(q.Attribution.Lookback),
		map[bool]string{true: ", and the null paths of persons without one"}[q.All],
		map[bool]string{true: "; repeats collapsed"}[q.Collapse],
		map[bool]string{true: "; the last " + strconv.Itoa(q.MaxLength) + " touches"}[q.MaxLength > 0])
	switch q.Report {
	case LengthsReport:
		return header + distribution("path_length", "length(kept)", "", nulls, from), nil
	case TimesReport:
		return header + distribution("days", "intDiv(to_convert_ms, 86400000)", "\n    WHERE end_converted = 1 AND touch_count > 0", "", from), nil
	}
	order := "conversions DESC, path"
	if q.All {
		order = "conversions DESC, nulls DESC, path"
	}
	return header + `SELECT
    path,` + q.Currency.column() + `
    conversions,
    revenue` + strings.ReplaceAll(nulls, "countIf(end_converted = 0) AS ", "") + `,
    avg_touches,
    if(empty(durations), NULL,
       (arrayElement(durations, intDiv(length(durations) + 1, 2)) + arrayElement(durations, intDiv(length(durations), 2) + 1)) / 2000) AS median_seconds_to_convert` + map[bool]string{true: ",\n    unconverted_conversions"}[q.Currency.Code != ""] + `
FROM
(
    SELECT
        journey AS path,
        countIf(end_converted = 1) AS conversions,
        sumIf(end_revenue, end_converted = 1) / 1000000 AS revenue` + nulls + `,
        if(conversions = 0, NULL, sumIf(touch_count, end_converted = 1) / conversions) AS avg_touches,
        -- the exact median: the mean of the two middle ones for an even count
        arraySort(groupArrayIf(to_convert_ms, end_converted = 1 AND touch_count > 0)) AS durations` +
		strings.ReplaceAll(q.Currency.unconvertedColumn("unconverted_conversions", "countIf(end_converted = 1 AND end_unconverted = 1)"), "\n", "\n    ") + indent(strings.TrimPrefix(from, "\n")) + `
    GROUP BY journey
)
ORDER BY ` + order + `
LIMIT ` + strconv.Itoa(q.Top), nil
}

// distribution renders the counts of conversions (and null paths) per
// value of expr, as name, with each one's share of the conversions.
func distribution(name, expr, where, nulls, from string) string {
	nullsOut, nullsTuple, nullsAt := "", "", ""
	if nulls != "" {
		nullsOut = ",\n    tupleElement(bucket, 3) AS nulls"
		nullsTuple = ", nulls"
		nullsAt = nulls
	}
	return `SELECT
    tupleElement(bucket, 1) AS ` + name + `,
    tupleElement(bucket, 2) AS conversions` + nullsOut + `,
    if(total = 0, NULL, conversions / total) AS share
FROM
(
    SELECT groupArray((bucket_value, bucket_conversions` + strings.ReplaceAll(nullsTuple, "nulls", "bucket_nulls") + `)) AS buckets, sum(bucket_conversions) AS total
    FROM
    (
        SELECT
            ` + expr + ` AS bucket_value,
            countIf(end_converted = 1) AS bucket_conversions` + strings.ReplaceAll(nullsAt, "AS nulls", "AS bucket_nulls") + strings.ReplaceAll(indent(from), "\n", "\n    ") + where + `
        GROUP BY bucket_value
    )
)
ARRAY JOIN buckets AS bucket
ORDER BY ` + name
}
