package pipefile

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxDuration is the longest duration ParseDuration accepts: 100 years,
// 36500d. ClickHouse's DateTime spans 1970 to 2106, so no window, lookback
// or half-life longer than that can mean anything, and a count of days much
// larger would wrap around time.Duration's 292 years.
const MaxDuration = 36500 * 24 * time.Hour

// durationUnits are the units ParseDuration reads beyond time.ParseDuration's.
var durationUnits = []struct {
	suffix, name string
	unit         time.Duration
}{{"d", "days", 24 * time.Hour}, {"w", "weeks", 7 * 24 * time.Hour}}

// ParseDuration reads a duration as time.ParseDuration does, and also in
// whole days or weeks: "30d", "2w". It refuses negative durations and those
// longer than MaxDuration. Every duration of touchline.yaml, the pipelines
// files, the segment definitions and the CLI's flags goes through it.
func ParseDuration(s string) (time.Duration, error) {
	for _, u := range durationUnits {
		n, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		k, err := strconv.ParseInt(n, 10, 64)
		if errors.Is(err, strconv.ErrRange) || err == nil && k > int64(MaxDuration/u.unit) {
			return 0, tooLong(s)
		}
		if err != nil || k < 0 {
			return 0, fmt.Errorf("duration %q: want a whole number of %s, or a Go duration like 36h", s, u.name)
		}
		return time.Duration(k) * u.unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil && strings.Contains(err.Error(), "invalid duration") && validDurationSyntax.MatchString(s) {
		return 0, tooLong(s)
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("duration %q: want e.g. 30d, 2w, 36h or 90m", s)
	}
	if d > MaxDuration {
		return 0, tooLong(s)
	}
	return d, nil
}

// FormatDuration renders whole days as such ("30d"), anything else as Go
// does ("36h0m0s"), so that ParseDuration reads back what it prints.
func FormatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// validDurationSyntax matches what time.ParseDuration reads, so that its
// overflow errors can be told from syntax errors.
var validDurationSyntax = regexp.MustCompile(`^[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+$`)

// ErrDurationRange is the error of a duration longer than MaxDuration.
var ErrDurationRange = fmt.Errorf("out of range: the longest is %s (100 years)", FormatDuration(MaxDuration))

func tooLong(s string) error {
	return fmt.Errorf("duration %q is %w", s, ErrDurationRange)
}

// DurationFlag is a command-line flag value (a pflag.Value) holding a
// duration read by ParseDuration, so that flags take 1d and 2w as the
// files do.
type DurationFlag struct{ d *time.Duration }

// NewDurationFlag returns a flag value that stores into d, which it sets to
// def.
func NewDurationFlag(d *time.Duration, def time.Duration) DurationFlag {
	*d = def
	return DurationFlag{d: d}
}

// String returns the flag's value as FormatDuration renders it.
func (f DurationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return FormatDuration(*f.d)
}

// Set parses s with ParseDuration.
func (f DurationFlag) Set(s string) error {
	d, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// Type names the flag's value kind in help texts.
func (f DurationFlag) Type() string { return "duration" }
