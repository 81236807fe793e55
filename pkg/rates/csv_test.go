package rates

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// read runs ReadCSV with the ingest limits as check and returns the rates as
// "date base/quote rate source" and the refusals as their messages.
func read(t *testing.T, in string) (got, refused []string, err error) {
	t.Helper()
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	check := func(r *ExchangeRate) error { return r.Validate(touchpoint.DefaultLimits(), now) }
	err = ReadCSV(strings.NewReader(in), "ecb", check, func(r *ExchangeRate) error {
		got = append(got, r.Date.String()+" "+r.Key()[11:]+" "+r.Rate.FloatString(5)+" "+r.Source)
		return nil
	}, func(line int, err error) { refused = append(refused, fmt.Sprintf("line %d: %v", line, err)) })
	return got, refused, err
}

// TestReadCSVECBHistory reads a file of the shape of the ECB's
// eurofxref-hist.csv: every rate of the good lines, N/A and empty cells
// skipped, and the bad lines refused with their numbers and reasons.
func TestReadCSVECBHistory(t *testing.T) {
	b, err := os.ReadFile("testdata/ecb-hist.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, refused, err := read(t, string(b))
	if err != nil {
		t.Fatal(err)
	}
	// Lines 2-4 have 8 rates each (CYP is N/A), line 5 has 7 (ILS empty).
	if len(got) != 8*3+7 {
		t.Fatalf("got %d rates, want 31:\n%s", len(got), strings.Join(got, "\n"))
	}
	for i, want := range map[int]string{
		0:  "2024-01-05 EUR|USD 1.09210 ecb",
		6:  "2024-01-05 EUR|ILS 3.97550 ecb",
		13: "2024-01-04 EUR|HUF 378.90000 ecb",
		30: "2024-01-02 EUR|PLN 4.35550 ecb",
	} {
		if got[i] != want {
			t.Errorf("rate %d = %q, want %q", i, got[i], want)
		}
	}
	want := []string{
		`line 6: date "2024-13-01" is neither YYYY-MM-DD nor like 05 January 2024`,
		`line 7: EUR/GBP: rate: -0.869050000 is not positive`,
		`line 8: has 6 cells, the header has 10`,
	}
	if strings.Join(refused, "\n") != strings.Join(want, "\n") {
		t.Errorf("refused:\n%s\nwant:\n%s", strings.Join(refused, "\n"), strings.Join(want, "\n"))
	}
}

// TestReadCSVECBDaily reads the ECB's daily file, whose date is spelled out
// and whose cells follow ", ".
func TestReadCSVECBDaily(t *testing.T) {
	got, refused, err := read(t, "Date, USD, JPY, HUF, \n05 January 2024, 1.0921, 158.20, 377.93, \n")
	if err != nil || len(refused) > 0 {
		t.Fatal(err, refused)
	}
	want := "2024-01-05 EUR|USD 1.09210 ecb,2024-01-05 EUR|JPY 158.20000 ecb,2024-01-05 EUR|HUF 377.93000 ecb"
	if strings.Join(got, ",") != want {
		t.Errorf("got %s, want %s", strings.Join(got, ","), want)
	}
}

// TestReadCSVLong reads the long shape, a source column overriding the
// default, and refuses a pair of one currency, a lower-case code that is no
// code, too many decimals and a rate that is no number.
func TestReadCSVLong(t *testing.T) {
	in := "rate,date,base,quote,source\n" +
		"0.0026,2024-01-05,huf,eur,mnb\n" +
		"3.6,2024-01-05,USD,ILS,\n" +
		"1,2024-01-05,USD,USD,\n" +
		"2,2024-01-05,US,ILS,\n" +
		"1.0000000001,2024-01-05,USD,EUR,\n" +
		"abc,2024-01-05,USD,EUR,\n"
	got, refused, err := read(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2024-01-05 HUF|EUR 0.00260 mnb,2024-01-05 USD|ILS 3.60000 ecb"; strings.Join(got, ",") != want {
		t.Errorf("got %s, want %s", strings.Join(got, ","), want)
	}
	want := []string{
		"line 4: USD/USD: quote: is the base currency USD",
		`line 5: US/ILS: base: "US" is not an ISO 4217 code`,
		"line 6: USD/EUR: rate: has more than 9 decimal places",
		`line 7: rate "abc" is not a decimal number`,
	}
	if strings.Join(refused, "\n") != strings.Join(want, "\n") {
		t.Errorf("refused:\n%s\nwant:\n%s", strings.Join(refused, "\n"), strings.Join(want, "\n"))
	}
}

// TestReadCSVUnknownHeader refuses a file it cannot read as rates at all.
func TestReadCSVUnknownHeader(t *testing.T) {
	for _, in := range []string{"", "day,amount\n2024-01-05,3\n", "Date,USD,euro\n"} {
		if _, _, err := read(t, in); !errors.Is(err, ErrHeader) {
			t.Errorf("%q: error %v, want ErrHeader", in, err)
		}
	}
}

// TestAvroRoundTrip keeps every field through the shipped schema, in the
// wire format.
func TestAvroRoundTrip(t *testing.T) {
	r := &ExchangeRate{Date: touchpoint.DayOf(time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC)), Base: "EUR", Quote: "HUF",
		Rate: big.NewRat(37793, 100), Source: "ecb"}
	reg, err := avro.NewStaticRegistry()
	if err != nil {
		t.Fatal(err)
	}
	c := avro.NewCodecs(reg)
	b, err := c.Encode(context.Background(), avro.Latest(avro.KindRate).ID, r.ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	_, native, err := c.Decode(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromAvro(native)
	if err != nil {
		t.Fatal(err)
	}
	if back.Key() != r.Key() || back.Rate.Cmp(r.Rate) != 0 || back.Source != "ecb" || back.Float() != 377.93 {
		t.Errorf("got %+v, want %+v", back, r)
	}
	if _, err := FromAvro(map[string]any{"date": time.Now()}); err == nil {
		t.Error("a record without base was accepted")
	}
}
