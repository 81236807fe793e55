package analytics

import (
	"fmt"
	"os"
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
	var errs pipefile.List
	for _, kv := range settings {
		k, v := kv[0], kv[1]
		if err := setAttribution(&a, k.Value, v); err != nil {
			errs.Add(name, pipefile.Errorf(name, v.Line, "%s: %v", k.Value, err))
		}
	}
	if len(errs) > 0 {
		return a, errs.Err()
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
			a.Lookback, err = pipefile.ParseDuration(s)
		}
	case "half_life":
		if s, err = scalar(); err == nil {
			a.HalfLife, err = pipefile.ParseDuration(s)
		}
	case "model":
		if s, err = scalar(); err == nil {
			a.Model, err = ParseModel(s)
		}
	case "reporting_currency": // may be empty: no conversion
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("want an ISO 4217 code or \"\"")
		}
		a.Currency.Code = v.Value
	case "max_rate_age":
		var age time.Duration
		if s, err = scalar(); err == nil {
			age, err = pipefile.ParseDuration(s)
		}
		if err == nil && (age < 0 || age%(24*time.Hour) != 0) {
			err = fmt.Errorf("%s is not a whole number of days (e.g. 7d)", s)
		}
		a.Currency.MaxRateAge = int(age / (24 * time.Hour))
	default:
		return fmt.Errorf("unknown setting (want conversion_type, touch_types, lookback, half_life, model, reporting_currency or max_rate_age)")
	}
	return err
}
