package generate

import (
	"math/big"
	"time"

	"github.com/touchline-io/touchline/pkg/rates"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// ratesLead is how many days before the period the rates start, so that a
// period starting on a weekend has the previous Friday's rate.
const ratesLead = 3

// Rates calls emit for the daily EUR/USD reference rate, as the European
// Central Bank publishes it (units of USD per euro, four decimals, source
// ecb), of every weekday from three days before the period to its end, in
// date order, and returns nil, or stops at the first error emit returns and
// returns it. Weekends have no rate, as at the ECB: their amounts take
// Friday's. The rate stays within 1.0790 and 1.0810 around the 1.08 at
// which the generated EUR revenue is counted in the spend's commissions.
func (g *Generator) Rates(emit func(*rates.ExchangeRate) error) error {
	for day := -ratesLead; day < g.days; day++ {
		date := g.cfg.Start.AddDate(0, 0, day)
		if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		wobble := int64((day+ratesLead)*7%21 - 10) // -10 .. 10 ten-thousandths
		r := &rates.ExchangeRate{Date: touchpoint.DayOf(date), Base: "EUR", Quote: "USD",
			Rate: big.NewRat(10_800+wobble, 10_000), Source: "ecb"}
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}
