// Package ingest is the ingest service: it consumes touchpoint and spend
// records from Kafka, decodes, validates and normalises them, writes them to
// ClickHouse in batches, sends what it cannot use to the dead-letter topic, and
// commits offsets only once ClickHouse and the dead-letter topic hold the
// result.
package ingest

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
	"github.com/touchline-io/touchline/pkg/identitymap"
	"github.com/touchline-io/touchline/pkg/scrub"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Config configures the ingest service.
type Config struct {
	// Group is the Kafka consumer group. Default touchline-ingest.
	Group string `yaml:"group"`
	// BatchSize is the number of records that triggers a flush. Default 20000.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the age of the oldest buffered record that triggers a
	// flush. Default 1s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Workers is the number of goroutines decoding and validating records.
	// Default: the number of CPUs.
	Workers int `yaml:"workers"`
	// FetchMaxBytes bounds what the Kafka client buffers ahead of processing,
	// which with BatchSize bounds memory. Default 16 MiB.
	FetchMaxBytes int32 `yaml:"fetch_max_bytes"`
	// Settings bound the waits between retries of writes (retry_backoff,
	// doubling up to retry_backoff_max, with jitter). Defaults 200ms and 10s.
	backoff.Settings `yaml:",inline"`
	// ShutdownTimeout bounds the final flush and commit on shutdown. Default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// RebalanceFlushTimeout bounds the flush of partitions being revoked; what
	// is not flushed by then is left to the partitions' next owner. Default 15s.
	RebalanceFlushTimeout time.Duration `yaml:"rebalance_flush_timeout"`
	// SessionTimeout is how long the group waits for a silent instance before
	// giving its partitions to others, e.g. after a crash: an instance
	// restarted after a crash makes no progress for up to this long.
	// Default 10s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// ProbeInterval and ProbeTimeout schedule the ClickHouse and Kafka
	// pings behind /readyz (and touchline_ingest_clickhouse_up): a ping
	// that fails or takes longer than ProbeTimeout (a hung server) makes
	// the service not ready. Defaults 1s and 3s.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	ProbeTimeout  time.Duration `yaml:"probe_timeout"`
	// StallTimeout is how long one write (a ClickHouse insert, a Kafka
	// produce) may go unanswered before the service reports not ready
	// while it keeps waiting. Default 10s.
	StallTimeout time.Duration `yaml:"stall_timeout"`
	// IdentityCacheEntries bounds the identifiers the local identity map
	// keeps in memory in front of its database (0: none). Default
	// identitymap.DefaultCacheEntries (4,000,000, at most 163 MiB).
	IdentityCacheEntries int `yaml:"identity_cache_entries"`
	// Limits bounds valid records.
	Limits touchpoint.Limits `yaml:"limits"`
	// Scrub says what personal data is scrubbed from free-text fields.
	// Default scrub.DefaultConfig(): emails, phones and scrub.DefaultParams.
	Scrub scrub.Config `yaml:"scrub"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Group:                 "touchline-ingest",
		BatchSize:             20000,
		FlushInterval:         time.Second,
		Workers:               runtime.NumCPU(),
		FetchMaxBytes:         16 << 20,
		Settings:              backoff.DefaultSettings(),
		ShutdownTimeout:       30 * time.Second,
		RebalanceFlushTimeout: 15 * time.Second,
		SessionTimeout:        10 * time.Second,
		ProbeInterval:         time.Second,
		ProbeTimeout:          3 * time.Second,
		StallTimeout:          10 * time.Second,
		IdentityCacheEntries:  identitymap.DefaultCacheEntries,
		Limits:                touchpoint.DefaultLimits(),
		Scrub:                 scrub.DefaultConfig(),
	}
}

// ErrConfig reports an invalid ingest setting.
var ErrConfig = errors.New("invalid ingest config")

// Validate reports the first invalid setting, wrapping ErrConfig.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return fmt.Errorf("%w: group is empty", ErrConfig)
	case c.BatchSize < 1:
		return fmt.Errorf("%w: batch_size must be at least 1", ErrConfig)
	case c.Workers < 1:
		return fmt.Errorf("%w: workers must be at least 1", ErrConfig)
	case c.FlushInterval <= 0:
		return fmt.Errorf("%w: flush_interval must be positive", ErrConfig)
	case c.FetchMaxBytes < 1<<20:
		return fmt.Errorf("%w: fetch_max_bytes must be at least 1 MiB", ErrConfig)
	case c.Settings.Validate() != nil:
		return fmt.Errorf("%w: %w", ErrConfig, c.Settings.Validate())
	case c.ShutdownTimeout <= 0 || c.RebalanceFlushTimeout <= 0:
		return fmt.Errorf("%w: shutdown_timeout and rebalance_flush_timeout must be positive", ErrConfig)
	case c.SessionTimeout < 6*time.Second:
		return fmt.Errorf("%w: session_timeout must be at least 6s (the broker's minimum)", ErrConfig)
	case c.ProbeInterval <= 0 || c.ProbeTimeout <= 0 || c.StallTimeout <= 0:
		return fmt.Errorf("%w: probe_interval, probe_timeout and stall_timeout must be positive", ErrConfig)
	case c.IdentityCacheEntries < 0:
		return fmt.Errorf("%w: identity_cache_entries must not be negative", ErrConfig)
	case c.Limits.MaxFieldBytes < 1 || c.Limits.MaxIdentifiers < 1 || c.Limits.MaxProperties < 0 || c.Limits.MaxFuture < 0:
		return fmt.Errorf("%w: limits must be positive", ErrConfig)
	}
	if _, err := scrub.New(c.Scrub); err != nil {
		return fmt.Errorf("%w: scrub: %v", ErrConfig, err)
	}
	return nil
}
