// Package settings is the segments service's section of touchline.yaml,
// apart from the service itself so that every program that reads the
// configuration (the ingest service's, say) does not link the CEL engine.
package settings

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the segments service (the segments section of
// touchline.yaml). The definitions live in pipelines/segments.yaml.
type Config struct {
	// Group is the consumer group of the stateful stage. Default
	// touchline-segments.
	Group string `yaml:"group"`
	// RouterGroup is the consumer group of the router on the touchpoints
	// topic. Default touchline-segments-router.
	RouterGroup string `yaml:"router_group"`
	// Partitions is the partition count the inputs, changelog and changes
	// topics are created with; they must match. Default 6.
	Partitions int32 `yaml:"partitions"`
	// MaxPollRecords bounds the inputs processed per batch. Default 5000.
	MaxPollRecords int `yaml:"max_poll_records"`
	// CachePersons bounds the persons an instance keeps in memory, decoded,
	// after each batch, shared among its partitions; the others are read
	// from its local state (pebble, under state_dir) when next needed.
	// Default 20000.
	CachePersons int `yaml:"cache_persons"`
	// BlockCacheMB is the size of the local state's block cache, in MiB:
	// encoded persons' states in memory, read without touching the disk.
	// Default 512.
	BlockCacheMB int `yaml:"block_cache_mb"`
	// IdleAdvance is how long a partition may see no input before its
	// watermark follows the clock (now - allowed lateness), so that timers
	// fire without new events. Default 2s.
	IdleAdvance time.Duration `yaml:"idle_advance"`
	// MergePoll is how often the router looks for new identity merges.
	// Default 5s.
	MergePoll time.Duration `yaml:"merge_poll"`
	// SessionTimeout is the group session timeout. Default 10s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// RetryBackoff and RetryBackoffMax bound the waits between retries of
	// Kafka and ClickHouse writes. Defaults 200ms and 10s.
	RetryBackoff    time.Duration `yaml:"retry_backoff"`
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Group: "touchline-segments", RouterGroup: "touchline-segments-router", Partitions: 6, MaxPollRecords: 5000, CachePersons: 20_000, BlockCacheMB: 512,
		IdleAdvance: 2 * time.Second, MergePoll: 5 * time.Second, SessionTimeout: 10 * time.Second,
		RetryBackoff: 200 * time.Millisecond, RetryBackoffMax: 10 * time.Second}
}

// InsertWait is how long a batch's open transaction waits for its
// ClickHouse insert: half the transaction timeout (six session timeouts),
// so that a ClickHouse outage aborts the transaction rather than letting
// it time out.
func (c Config) InsertWait() time.Duration { return 3 * c.SessionTimeout }

// ErrConfig reports an invalid setting.
var ErrConfig = errors.New("invalid segments config")

// Validate reports the first invalid setting, wrapping ErrConfig.
func (c Config) Validate() error {
	switch {
	case c.Group == "" || c.RouterGroup == "":
		return fmt.Errorf("%w: group and router_group must be set", ErrConfig)
	case c.Group == c.RouterGroup:
		return fmt.Errorf("%w: group and router_group must differ", ErrConfig)
	case c.Partitions < 1:
		return fmt.Errorf("%w: partitions must be at least 1", ErrConfig)
	case c.MaxPollRecords < 1:
		return fmt.Errorf("%w: max_poll_records must be at least 1", ErrConfig)
	case c.CachePersons < 0:
		return fmt.Errorf("%w: cache_persons must not be negative", ErrConfig)
	case c.BlockCacheMB < 1:
		return fmt.Errorf("%w: block_cache_mb must be at least 1", ErrConfig)
	case c.IdleAdvance < 10*time.Millisecond:
		return fmt.Errorf("%w: idle_advance must be at least 10ms", ErrConfig)
	case c.MergePoll < 10*time.Millisecond:
		return fmt.Errorf("%w: merge_poll must be at least 10ms", ErrConfig)
	case c.SessionTimeout < time.Second:
		return fmt.Errorf("%w: session_timeout must be at least 1s", ErrConfig)
	case c.RetryBackoff <= 0 || c.RetryBackoffMax < c.RetryBackoff:
		return fmt.Errorf("%w: retry_backoff must be positive and at most retry_backoff_max", ErrConfig)
	}
	return nil
}
