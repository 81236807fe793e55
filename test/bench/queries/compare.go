package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/touchline-io/touchline/pkg/servers"
)

// floatTolerance is the relative difference up to which two numbers of a
// result are the same: sums of floats depend on the order they are added
// in, which differs between engines and runs.
const floatTolerance = 1e-9

// compareRows runs each query once more on server, in database, and
// compares the rows it returns with chDB's (TabSeparated text, in the order
// of queries; a query chDB failed is skipped). Rows are the
// same when they are in the same order, or else (ties of an ORDER BY) the
// same once both are sorted, with numbers equal within floatTolerance. It
// returns how many queries it compared and a line per query whose rows
// differ.
func compareRows(ctx context.Context, server *servers.ClickHouse, database string, queries []query, chDB []namedTiming, chDBRows []string) (int, []string, error) {
	compared := 0
	var diffs []string
	for i, q := range queries {
		if chDB[i].err != nil {
			continue
		}
		body, err := server.Query(ctx, database, q.sql+"\nFORMAT TabSeparated")
		if err != nil {
			return compared, diffs, fmt.Errorf("%s on the server: %w", q.name, err)
		}
		got, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			return compared, diffs, fmt.Errorf("%s on the server: %w", q.name, err)
		}
		compared++
		if d := rowsDiffer(string(got), chDBRows[i]); d != "" {
			diffs = append(diffs, q.name+": "+d)
		}
	}
	return compared, diffs, nil
}

// rowsDiffer describes how the TabSeparated rows of the server and of chDB
// differ, or returns "" when they are the same.
func rowsDiffer(server, chDB string) string {
	a, b := lines(server), lines(chDB)
	if len(a) != len(b) {
		return fmt.Sprintf("%d rows on the server, %d on chDB", len(a), len(b))
	}
	if firstDifference(a, b) < 0 {
		return ""
	}
	sortRows(a)
	sortRows(b)
	if i := firstDifference(a, b); i >= 0 {
		return fmt.Sprintf("sorted row %d: %q on the server, %q on chDB", i+1, a[i], b[i])
	}
	return ""
}

// lines splits TabSeparated text into its rows.
func lines(text string) []string {
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// firstDifference is the index of the first row of a that differs from b's,
// or -1.
func firstDifference(a, b []string) int {
	for i := range a {
		if !sameRow(a[i], b[i]) {
			return i
		}
	}
	return -1
}

// sameRow reports whether two rows have the same fields, numbers within
// floatTolerance.
func sameRow(a, b string) bool {
	fa, fb := strings.Split(a, "\t"), strings.Split(b, "\t")
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i] == fb[i] {
			continue
		}
		x, errX := strconv.ParseFloat(fa[i], 64)
		y, errY := strconv.ParseFloat(fb[i], 64)
		if errX != nil || errY != nil || math.Abs(x-y) > floatTolerance*max(1, math.Abs(x), math.Abs(y)) {
			return false
		}
	}
	return true
}

// sortRows sorts rows by their fields with numbers rounded to six
// significant digits, so that rows within floatTolerance sort alike.
func sortRows(rows []string) {
	key := func(row string) string {
		fields := strings.Split(row, "\t")
		for i, f := range fields {
			if x, err := strconv.ParseFloat(f, 64); err == nil {
				fields[i] = strconv.FormatFloat(x, 'g', 6, 64)
			}
		}
		return strings.Join(fields, "\t")
	}
	slices.SortStableFunc(rows, func(a, b string) int { return strings.Compare(key(a), key(b)) })
}
