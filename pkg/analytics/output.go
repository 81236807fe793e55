package analytics

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
// decimals, NULL spelled out), CSV with a header (values in full, NULL
// empty), or a JSON array of row objects whose keys are the column names in
// column order, numbers as numbers and NULL as null.
func (res *Result) Write(w io.Writer, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(res.Columns)
		for _, row := range res.Rows {
			_ = cw.Write(cells(row, exact))
		}
		cw.Flush()
		return cw.Error()
	case "json":
		return writeJSON(w, res)
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, strings.Join(res.Columns, "\t")+"\t")
		for _, row := range res.Rows {
			fmt.Fprintln(tw, strings.Join(cells(row, rounded), "\t")+"\t")
		}
		return tw.Flush()
	}
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

func cells(row []any, render func(any) string) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = render(v)
	}
	return out
}
