// Package segmenter is the segments service: a router that resolves each
// touchpoint's person through a local copy of the identity map and
// repartitions touchpoints and identity merges by person onto the segment
// inputs topic, and a stateful stage that runs a pkg/segments processor per
// inputs partition. Each batch's segment changes, changelog records (the
// persons it changed, and the partition's watermark) and input offsets
// commit in one Kafka transaction, once the changes are in ClickHouse. Each
// instance keeps the state of its partitions in a local pebble copy of the
// compacted changelog, which a partition's owner brings up to date from the
// changelog when it is assigned the partition.
package segmenter

import (
	"errors"
	"fmt"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
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
	// Settings bound the waits between retries of writes (retry_backoff,
	// doubling up to retry_backoff_max, with jitter). Defaults 200ms and 10s.
	backoff.Settings `yaml:",inline"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Group: "touchline-segments", RouterGroup: "touchline-segments-router", Partitions: 6, MaxPollRecords: 5000, CachePersons: 20_000, BlockCacheMB: 512,
		IdleAdvance: 2 * time.Second, MergePoll: 5 * time.Second, SessionTimeout: 10 * time.Second,
		Settings: backoff.DefaultSettings()}
}

// insertWait is how long a batch's open transaction waits for its
// ClickHouse insert: half the transaction timeout (six session timeouts),
// so that a ClickHouse outage aborts the transaction rather than letting
// it time out.
func (c Config) insertWait() time.Duration { return 3 * c.SessionTimeout }

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
	case c.Settings.Validate() != nil:
		return fmt.Errorf("%w: %w", ErrConfig, c.Settings.Validate())
	}
	return nil
}
