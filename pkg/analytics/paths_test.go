package analytics

import (
	"strings"
	"testing"
	"time"
)

// TestPathsQueryRefusesBadParameters: every bad parameter is refused with
// its name before any SQL is built.
func TestPathsQueryRefusesBadParameters(t *testing.T) {
	r := Range{From: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)}
	ok := PathsQuery{Range: r, Attribution: DefaultAttribution(), Top: 20}
	if _, err := ok.SQL(); err != nil {
		t.Fatal(err)
	}
	for want, q := range map[string]PathsQuery{
		`by "device"`:          {Range: r, Attribution: DefaultAttribution(), Top: 20, By: "device"},
		"max-length -1":        {Range: r, Attribution: DefaultAttribution(), Top: 20, MaxLength: -1},
		"top 0":                {Range: r, Attribution: DefaultAttribution()},
		"top 10001":            {Range: r, Attribution: DefaultAttribution(), Top: MaxTop + 1},
		`report "funnel"`:      {Range: r, Attribution: DefaultAttribution(), Top: 20, Report: "funnel"},
		"empty time range":     {Range: Range{From: r.To, To: r.From}, Attribution: DefaultAttribution(), Top: 20},
		"touch_types is empty": {Range: r, Attribution: Attribution{ConversionType: "purchase", Lookback: time.Hour, HalfLife: time.Hour}, Top: 20},
	} {
		if _, err := q.SQL(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want an error with %q", q, err, want)
		}
	}
	// The distributions need no top.
	if _, err := (PathsQuery{Range: r, Attribution: DefaultAttribution(), Report: LengthsReport}).SQL(); err != nil {
		t.Error(err)
	}
}
