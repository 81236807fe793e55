package analytics

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// AttributionFile is the name of the attribution settings file in the
// pipelines directory.
const AttributionFile = "attribution.yaml"

// LoadAttribution reads the attribution settings at path; keys the file
// leaves out keep their defaults (DefaultAttribution). A missing file gives
// the defaults. A bad file gives a *pipefile.ConfigError naming path, the
// line and the reason.
func LoadAttribution(path string) (Attribution, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return DefaultAttribution(), nil
	}
	if err != nil {
		return Attribution{}, fmt.Errorf("attribution settings: %w", err)
	}
	return ParseAttribution(path, data)
}

// ParseAttribution reads attribution settings from data; name is the file
// name used in errors.
func ParseAttribution(name string, data []byte) (Attribution, error) {
	a := DefaultAttribution()
	root, err := pipefile.Document(name, data)
	if err != nil || root == nil {
		return a, err
	}
	settings, err := pipefile.Pairs(name, root, "settings")
	if err != nil {
		return a, err
	}
	for _, kv := range settings {
		k, v := kv[0], kv[1]
		if err := setAttribution(&a, k.Value, v); err != nil {
			return a, pipefile.Errorf(name, v.Line, "%s: %v", k.Value, err)
		}
	}
	if err := a.Validate(); err != nil {
		return a, pipefile.Errorf(name, root.Line, "%v", err)
	}
	return a, nil
}

// setAttribution sets the setting key of a from node v.
func setAttribution(a *Attribution, key string, v *yaml.Node) error {
	scalar := func() (string, error) {
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			return "", fmt.Errorf("want a value")
		}
		return v.Value, nil
	}
	var err error
	var s string
	switch key {
	case "conversion_type":
		a.ConversionType, err = scalar()
	case "touch_types":
		var types []string
		if v.Kind != yaml.SequenceNode || v.Decode(&types) != nil {
			return fmt.Errorf("want a list of event types")
		}
		a.TouchTypes = types
	case "lookback":
		if s, err = scalar(); err == nil {
			a.Lookback, err = ParseDuration(s)
		}
	case "half_life":
		if s, err = scalar(); err == nil {
			a.HalfLife, err = ParseDuration(s)
		}
	case "model":
		if s, err = scalar(); err == nil {
			a.Model, err = ParseModel(s)
		}
	default:
		return fmt.Errorf("unknown setting (want conversion_type, touch_types, lookback, half_life or model)")
	}
	return err
}

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
// longer than MaxDuration. Every duration of the pipelines files, the
// segment definitions and the CLI's flags goes through it.
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

// validDurationSyntax matches what time.ParseDuration reads, so that its
// overflow errors can be told from syntax errors.
var validDurationSyntax = regexp.MustCompile(`^[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+$`)

// ErrDurationRange is the error of a duration longer than MaxDuration.
var ErrDurationRange = fmt.Errorf("out of range: the longest is %s (100 years)", FormatDuration(MaxDuration))

func tooLong(s string) error {
	return fmt.Errorf("duration %q is %w", s, ErrDurationRange)
}
