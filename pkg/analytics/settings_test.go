package analytics

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

func TestShippedAttributionFileHoldsTheDefaults(t *testing.T) {
	a, err := LoadAttribution(filepath.Join("..", "..", "pipelines", AttributionFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, DefaultAttribution()) {
		t.Errorf("pipelines/%s = %+v, want the documented defaults %+v", AttributionFile, a, DefaultAttribution())
	}
}

func TestParseAttribution(t *testing.T) {
	a, err := ParseAttribution("a.yaml", []byte("model: linear\nlookback: 2w\nhalf_life: 36h\ntouch_types: [click]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultAttribution()
	want.Model, want.Lookback, want.HalfLife, want.TouchTypes = Linear, 14*24*time.Hour, 36*time.Hour, []string{"click"}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got %+v, want %+v", a, want)
	}
}

// TestParseAttributionReportingCurrency reads the reporting currency and
// the maximum age of a rate in days.
func TestParseAttributionReportingCurrency(t *testing.T) {
	a, err := ParseAttribution("a.yaml", []byte("reporting_currency: EUR\nmax_rate_age: 3d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Currency != (Currency{Code: "EUR", MaxRateAge: 3}) {
		t.Errorf("currency %+v, want EUR, 3 days", a.Currency)
	}
}

func TestParseAttributionErrorsNameFileAndLine(t *testing.T) {
	for in, want := range map[string]string{
		"model: linear\nlookback: 30 days\n":    "a.yaml:2: lookback: duration",
		"model: u_shaped\n":                     "a.yaml:1: model: unknown attribution model",
		"conversion_type: purchase\nmodle: x\n": "a.yaml:2: modle: unknown setting",
		"touch_types: click\n":                  "a.yaml:1: touch_types: want a list",
		"touch_types: []\n":                     "a.yaml:1: touch_types is empty",
		"model: linear\nmodel: first_touch\n":   "a.yaml:2: settings: duplicate key \"model\" (first on line 1)",
		"model: [linear\n":                      "a.yaml:2:",
		"- linear\n":                            "a.yaml:1: settings: want a mapping",
		"half_life: 0s\n":                       "half_life 0s is shorter",
		"model: linear\nlookback: 213504d\n":    "a.yaml:2: lookback: duration \"213504d\" is out of range",
		"reporting_currency: usd\n":             "reporting currency \"usd\" is not an ISO 4217 code",
		"max_rate_age: 36h\n":                   "a.yaml:1: max_rate_age: 36h is not a whole number of days",
		"max_rate_age: 400d\n":                  "maximum rate age 400 days is not within 0 to 366",
	} {
		_, err := ParseAttribution("a.yaml", []byte(in))
		var ce *pipefile.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want a *pipefile.ConfigError containing %q", in, err, want)
		}
	}
}

// TestParseAttributionReportsEveryError: every bad setting comes out at
// once, each at its line.
func TestParseAttributionReportsEveryError(t *testing.T) {
	_, err := ParseAttribution("a.yaml", []byte("model: u_shaped\nlookback: 30 days\nhalf_life: 1d\nmodle: x\n"))
	want := "a.yaml:1: model: unknown attribution model \"u_shaped\": want one of first_touch, last_touch, last_non_direct, linear, position_based, time_decay" +
		"\na.yaml:2: lookback: duration \"30 days\": want e.g. 30d, 2w, 36h or 90m" +
		"\na.yaml:4: modle: unknown setting (want conversion_type, touch_types, lookback, half_life, model, reporting_currency or max_rate_age)"
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}
