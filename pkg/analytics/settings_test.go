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
	} {
		_, err := ParseAttribution("a.yaml", []byte(in))
		var ce *pipefile.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want a *pipefile.ConfigError containing %q", in, err, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1.5d", "-2h", "week"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

// TestParseDurationRefusesOutOfRange: a count of days or weeks, or a Go
// duration, beyond 100 years is refused rather than wrapped around (213504d
// used to become 25m26s).
func TestParseDurationRefusesOutOfRange(t *testing.T) {
	for in, want := range map[string]time.Duration{"36500d": MaxDuration, "5214w": 5214 * 7 * 24 * time.Hour, "876000h": MaxDuration} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"213504d", "36501d", "5215w", "876001h", "30500w", "9223372036854775807ns",
		"99999999999999999999d", "2562048h", "3000000h"} {
		if d, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), "out of range: the longest is 36500d") {
			t.Errorf("ParseDuration(%q) = %s, %v; want an out-of-range error", in, d, err)
		}
	}
}
