package table

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats are the output formats of Result.Write.
var Formats = []string{"table", "csv", "json"}

// CheckFormat refuses an unknown output format.
func CheckFormat(format string) error {
	for _, f := range Formats {
		if f == format {
			return nil
		}
	}
	return fmt.Errorf("unknown format %q: want %s", format, strings.Join(Formats, ", "))
}

// Write prints the result as an aligned table (floats rounded to four
// decimals, NULL spelled out, control characters and backslashes of text
// escaped so that every row stays on one line), CSV with a header (values in
// full, NULL empty, text that a spreadsheet would run as a formula
// neutralised: see csvText), or a JSON array of row objects whose keys are
// the column names in column order, numbers as numbers and NULL as null.
func (res *Result) Write(w io.Writer, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(cells(res.Columns, func(c string) string { return csvText(c, c) }))
		for _, row := range res.Rows {
			_ = cw.Write(cells(row, func(v any) string { return csvText(exact(v), v) }))
		}
		cw.Flush()
		return cw.Error()
	case "json":
		return writeJSON(w, res)
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, strings.Join(cells(res.Columns, Escape), "\t")+"\t")
		for _, row := range res.Rows {
			fmt.Fprintln(tw, strings.Join(cells(row, func(v any) string { return Escape(rounded(v)) }), "\t")+"\t")
		}
		return tw.Flush()
	}
}

// Escape escapes text for a cell of a text table, so that the cell stays
// on one line and in its column: backslashes as \\, newlines, carriage
// returns and tabs as \n, \r and \t, and other control characters as \xNN,
// as ClickHouse's own text formats do.
func Escape(s string) string { return controlEscaper.Replace(s) }

var controlEscaper = func() *strings.Replacer {
	pairs := []string{`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "\x7f", `\x7f`}
	for c := rune(0); c < 0x20; c++ {
		if c != '\n' && c != '\r' && c != '\t' {
			pairs = append(pairs, string(c), fmt.Sprintf(`\x%02x`, c))
		}
	}
	return strings.NewReplacer(pairs...)
}()

// formulaStarts are the first characters that make a spreadsheet read a CSV
// cell as a formula (OWASP's CSV injection list).
const formulaStarts = "=+-@\t\r"

// csvText returns the CSV cell of value v rendered as s: text that starts
// with = + - @, a tab or a carriage return gets a leading single quote, as
// OWASP recommends, so that a spreadsheet shows it instead of running it.
// Numbers are not text and keep their sign.
func csvText(s string, v any) string {
	if _, text := v.(string); text && s != "" && strings.ContainsRune(formulaStarts, rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeJSON(w io.Writer, res *Result) error {
	var b strings.Builder
	b.WriteString("[")
	for i, row := range res.Rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for j, v := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			key, _ := json.Marshal(res.Columns[j])
			b.Write(key)
			b.WriteString(": ")
			val, err := jsonValue(v)
			if err != nil {
				return fmt.Errorf("column %s: %w", res.Columns[j], err)
			}
			b.WriteString(val)
		}
		b.WriteString("}")
	}
	if len(res.Rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func jsonValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "null", nil
		}
		return exact(x), nil
	case int64, uint64:
		return exact(x), nil
	}
	out, err := json.Marshal(exact(v))
	return string(out), err
}

// exact renders a value in full: floats in their shortest exact form.
func exact(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// rounded renders a value for reading: floats with at most four decimals.
func rounded(v any) string {
	if x, ok := v.(float64); ok {
		s := strconv.FormatFloat(x, 'f', 4, 64)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		if s == "-0" {
			s = "0"
		}
		return s
	}
	if v == nil {
		return "NULL"
	}
	return exact(v)
}

func cells[T any](row []T, render func(T) string) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = render(v)
	}
	return out
}

// WriteTables prints results as aligned tables, one after the other with a
// blank line between them: the text view of a command that shows several
// kinds of rows (a person's identifiers, merges and refused links, say).
func WriteTables(w io.Writer, results ...*Result) error {
	for i, res := range results {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := res.Write(w, "table"); err != nil {
			return err
		}
	}
	return nil
}
