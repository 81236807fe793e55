package collect

import (
	"errors"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := DefaultConfig()
	c.IP = "hash"
	c.MaxBodyBytes = 10
	c.GCPercent = 24
	c.WriteKeys = []WriteKey{{Key: "k", Source: "web"}, {Key: "k", Source: "app", RatePerSecond: -1}, {Source: "x"}}
	err := c.Validate()
	var got []string
	for _, e := range pipefile.Flatten(err) {
		if !errors.Is(e, ErrConfig) {
			t.Errorf("%v does not wrap ErrConfig", e)
		}
		got = append(got, pipefile.Key(e)+": "+strings.TrimPrefix(e.Error(), ErrConfig.Error()+": "))
	}
	want := []string{
		"max_body_bytes: max_body_bytes must be at least 1024",
		`ip: ip must be drop, truncate or keep, not "hash"`,
		"gc_percent: gc_percent must be at least 25",
		"write_keys: write_keys[1]: key repeats an earlier one",
		"write_keys: write_keys[1]: rate_per_second must not be negative",
		"write_keys: write_keys[2]: key is empty",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c = DefaultConfig()
	c.MaxInflightBytes = c.MaxBodyBytes - 1
	if err := c.Validate(); pipefile.Key(err) != "max_inflight_bytes" {
		t.Errorf("max_inflight_bytes below max_body_bytes: %v", err)
	}
}
