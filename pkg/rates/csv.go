package rates

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// ECBBase is the base currency of the European Central Bank's reference
// rates: each column gives the units of its currency per euro.
const ECBBase = "EUR"

// ErrHeader reports a CSV file whose first line is not one of the shapes
// ReadCSV knows.
var ErrHeader = errors.New("unknown CSV header")

// dateLayouts are the day formats of published rate files: ISO (the ECB's
// history file and most tools) and the ECB's daily file ("05 January 2024").
var dateLayouts = []string{time.DateOnly, "02 January 2006", "2 January 2006"}

// ReadCSV reads exchange rates from a CSV file of one of two shapes, told
// apart by the header line:
//
//   - wide, the European Central Bank's reference rates: "Date" and then one
//     column per currency, each cell the units of that currency per euro;
//     "N/A" or an empty cell means no rate that day;
//   - long: the columns date, base, quote and rate in any order, and
//     optionally source, one rate per line.
//
// Dates are YYYY-MM-DD or the ECB's "05 January 2024"; spaces around cells
// are ignored. Every rate gets source unless the line names its own. ok is
// called with each rate of a good line, in file order; a line that cannot
// be read, or any of whose rates check refuses, is reported to bad with its
// 1-based line number and the reason, and none of its rates go to ok. ReadCSV returns an error only
// for a file it cannot read at all (no or unknown header, an I/O error) or
// when ok returns one.
func ReadCSV(r io.Reader, source string, check func(*ExchangeRate) error, ok func(*ExchangeRate) error, bad func(line int, err error)) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("%w: the file is empty", ErrHeader)
		}
		return fmt.Errorf("reading the header: %w", err)
	}
	parse, err := lineParser(header, source)
	if err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad(pe.StartLine, pe.Err)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the CSV file: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		rates, err := parse(rec)
		for i := 0; err == nil && i < len(rates); i++ {
			if err = check(rates[i]); err != nil && rates[i].Quote != "" {
				err = fmt.Errorf("%s/%s: %w", rates[i].Base, rates[i].Quote, err)
			}
		}
		if err != nil {
			bad(line, err)
			continue
		}
		for _, r := range rates {
			if err := ok(r); err != nil {
				return err
			}
		}
	}
}

// lineParser returns the parser of the lines under header.
func lineParser(header []string, source string) (func([]string) ([]*ExchangeRate, error), error) {
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	for len(cols) > 0 && cols[len(cols)-1] == "" { // the ECB's files end each line with a comma
		cols = cols[:len(cols)-1]
	}
	if len(cols) > 1 && strings.EqualFold(cols[0], "date") && IsCurrency(cols[1]) {
		for i, c := range cols[1:] {
			if !IsCurrency(c) {
				return nil, fmt.Errorf("%w: column %d, %q, is not a currency code", ErrHeader, i+2, c)
			}
		}
		return func(rec []string) ([]*ExchangeRate, error) { return wideLine(cols, rec, source) }, nil
	}
	at := map[string]int{}
	for i, c := range cols {
		at[strings.ToLower(c)] = i
	}
	for _, need := range []string{"date", "base", "quote", "rate"} {
		if _, ok := at[need]; !ok {
			return nil, fmt.Errorf("%w: %q is neither the ECB's (Date, then currency codes) nor date,base,quote,rate[,source]", ErrHeader, strings.Join(cols, ","))
		}
	}
	return func(rec []string) ([]*ExchangeRate, error) { return longLine(at, len(cols), rec, source) }, nil
}

// wideLine reads a line of the ECB's shape.
func wideLine(cols, rec []string, source string) ([]*ExchangeRate, error) {
	rec = trimTrailingEmpty(rec, len(cols))
	if len(rec) != len(cols) {
		return nil, fmt.Errorf("has %d cells, the header has %d", len(rec), len(cols))
	}
	day, err := parseDay(rec[0])
	if err != nil {
		return nil, err
	}
	var out []*ExchangeRate
	for i, cell := range rec[1:] {
		cell = strings.TrimSpace(cell)
		if cell == "" || strings.EqualFold(cell, "N/A") {
			continue
		}
		rate, err := parseRate(cell)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cols[i+1], err)
		}
		out = append(out, &ExchangeRate{Date: day, Base: ECBBase, Quote: cols[i+1], Rate: rate, Source: source})
	}
	return out, nil
}

// longLine reads a line of the long shape.
func longLine(at map[string]int, n int, rec []string, source string) ([]*ExchangeRate, error) {
	rec = trimTrailingEmpty(rec, n)
	if len(rec) != n {
		return nil, fmt.Errorf("has %d cells, the header has %d", len(rec), n)
	}
	cell := func(name string) string { return strings.TrimSpace(rec[at[name]]) }
	day, err := parseDay(cell("date"))
	if err != nil {
		return nil, err
	}
	rate, err := parseRate(cell("rate"))
	if err != nil {
		return nil, err
	}
	r := &ExchangeRate{Date: day, Base: strings.ToUpper(cell("base")), Quote: strings.ToUpper(cell("quote")), Rate: rate, Source: source}
	if i, ok := at["source"]; ok && strings.TrimSpace(rec[i]) != "" {
		r.Source = strings.TrimSpace(rec[i])
	}
	return []*ExchangeRate{r}, nil
}

// trimTrailingEmpty drops empty cells past the first n, the trailing commas
// some files end their lines with.
func trimTrailingEmpty(rec []string, n int) []string {
	for len(rec) > n && strings.TrimSpace(rec[len(rec)-1]) == "" {
		rec = rec[:len(rec)-1]
	}
	return rec
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func parseDay(s string) (touchpoint.Day, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return touchpoint.Day{Time: t}, nil
		}
	}
	return touchpoint.Day{}, fmt.Errorf("date %q is neither YYYY-MM-DD nor like 05 January 2024", s)
}

// parseRate parses a decimal rate exactly ("391.15", "1.0823", "4.5e-3" is
// refused: published rates are plain decimals).
func parseRate(s string) (*big.Rat, error) {
	if s == "" || strings.ContainsAny(s, "eE/") {
		return nil, fmt.Errorf("rate %q is not a decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("rate %q is not a decimal number", s)
	}
	return r, nil
}
