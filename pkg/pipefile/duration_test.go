package pipefile

import (
	"strings"
	"testing"
	"time"
)

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

// TestDurationFlagTakesDays: a duration flag reads 1d and 2w as the files do,
// keeps its default until set, and refuses what ParseDuration refuses.
func TestDurationFlagTakesDays(t *testing.T) {
	var d time.Duration
	f := NewDurationFlag(&d, 5*time.Minute)
	if d != 5*time.Minute || f.String() != "5m0s" || f.Type() != "duration" {
		t.Fatalf("default: %s, %q, %q", d, f.String(), f.Type())
	}
	for in, want := range map[string]time.Duration{"1d": 24 * time.Hour, "2w": 14 * 24 * time.Hour, "90s": 90 * time.Second} {
		if err := f.Set(in); err != nil || d != want {
			t.Errorf("Set(%q): %s, %v; want %s", in, d, err, want)
		}
	}
	d = 90 * time.Second
	if err := f.Set("soon"); err == nil || d != 90*time.Second {
		t.Errorf("Set(soon): %v, value %s; want an error and the value kept", err, d)
	}
	if err := f.Set("3d"); err != nil || f.String() != "3d" {
		t.Errorf("String() = %q, want 3d", f.String())
	}
}
