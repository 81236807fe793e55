package analytics

import (
	"strings"
	"testing"
	"time"
)

// TestRangeRefusesTimesClickHouseCannotHold: --to 2200-01-01 used to run and
// return nothing, as ClickHouse's DateTime wrapped it around.
func TestRangeRefusesTimesClickHouseCannotHold(t *testing.T) {
	day := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, r := range []Range{{From: day(2026), To: day(2200)}, {From: day(1969), To: day(2026)}, {From: day(2107), To: day(2108)}} {
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "out of range: ClickHouse holds times from 1970-01-01T00:00:00Z to 2106-02-07T06:28:15Z") {
			t.Errorf("%v: %v, want out of range", r, err)
		}
	}
	if err := (Range{From: MinTime, To: MaxTime}).Validate(); err != nil {
		t.Errorf("the whole span: %v", err)
	}
	// A lookback reaching before 1970 starts at 1970.
	if got := timeLit(day(1950)); got != "toDateTime('1970-01-01 00:00:00', 'UTC')" {
		t.Errorf("timeLit(1950) = %s", got)
	}
}
