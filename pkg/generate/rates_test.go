package generate

import (
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/rates"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// TestRates: 2025-03-01 is a Saturday; over 10 days the rates run from
// Wednesday 2025-02-26 to Monday 2025-03-10, weekdays only, so every day of
// the period has a rate of its own or of at most two days before; each is a
// valid EUR/USD rate near 1.08.
func TestRates(t *testing.T) {
	g := newGen(t, Config{Events: 100, Persons: 10, Days: 10, Seed: 1, Start: pastStart})
	var got []string
	seen := map[string]bool{}
	err := g.Rates(func(r *rates.ExchangeRate) error {
		if err := r.Validate(touchpoint.DefaultLimits(), time.Now()); err != nil {
			t.Errorf("%s: %v", r.Key(), err)
		}
		if f := r.Float(); f < 1.079 || f > 1.081 || r.Source != "ecb" {
			t.Errorf("%s: rate %v from %s", r.Key(), f, r.Source)
		}
		got = append(got, r.Date.String())
		seen[r.Date.String()] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "2025-02-26 2025-02-27 2025-02-28 2025-03-03 2025-03-04 2025-03-05 2025-03-06 2025-03-07 2025-03-10"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("days %s, want %s", s, want)
	}
	for d := 0; d < 10; d++ {
		day := pastStart.AddDate(0, 0, d)
		ok := false
		for back := 0; back <= 2 && !ok; back++ {
			ok = seen[day.AddDate(0, 0, -back).Format(time.DateOnly)]
		}
		if !ok {
			t.Errorf("%s has no rate within two days", day.Format(time.DateOnly))
		}
	}
}
