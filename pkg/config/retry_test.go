package config

import (
	"errors"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
)

// TestRetryKeysOfEveryService checks that retry_backoff and
// retry_backoff_max keep their place in each service's section, now that
// the services share backoff.Settings, and that each section refuses a
// first wait longer than its maximum.
func TestRetryKeysOfEveryService(t *testing.T) {
	cfg, err := Load(write(t, `ingest:
  retry_backoff: 1s
  retry_backoff_max: 11s
identity:
  retry_backoff: 2s
  retry_backoff_max: 12s
segments:
  retry_backoff: 3s
  retry_backoff_max: 13s
alerts:
  retry_backoff: 4s
  retry_backoff_max: 14s
`))
	if err != nil {
		t.Fatal(err)
	}
	got := []backoff.Settings{cfg.Ingest.Settings, cfg.Identity.Settings, cfg.Segments.Settings, cfg.Alerts.Settings}
	for i, s := range got {
		want := backoff.Settings{RetryBackoff: time.Duration(i+1) * time.Second, RetryBackoffMax: time.Duration(i+11) * time.Second}
		if s != want {
			t.Errorf("section %d: %+v, want %+v", i, s, want)
		}
	}
	for _, section := range []string{"ingest", "identity", "segments", "alerts"} {
		cfg, err := Load(write(t, section+":\n  retry_backoff: 5s\n  retry_backoff_max: 1s\n"))
		if err == nil {
			err = cfg.Validate()
		}
		if !errors.Is(err, backoff.ErrSettings) {
			t.Errorf("%s: got %v, want %v", section, err, backoff.ErrSettings)
		}
	}
}
