// Package resolver is the identity resolver service: it consumes link
// requests from the single-partition links topic, applies them to the
// union-find of pkg/identity, publishes every changed identifier to the
// compacted identity map topic, and records the map, merges, refusals and
// person overrides in ClickHouse. One instance is active at a time (the
// partition's owner in the consumer group); the others take over when it
// fails, after rebuilding the union-find from the map topic.
package resolver

import (
	"errors"
	"fmt"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
)

// Config configures the resolver service.
type Config struct {
	// Group is the consumer group. Default touchline-identity.
	Group string `yaml:"group"`
	// MapPartitions is the partition count the compacted map topic is
	// created with when it does not exist. Default 6.
	MapPartitions int32 `yaml:"map_partitions"`
	// MaxPollRecords bounds the link requests applied per batch. Default 5000.
	MaxPollRecords int `yaml:"max_poll_records"`
	// SessionTimeout is the group session timeout: how long a failed
	// resolver holds the partition before another takes over. Default 10s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Settings bound the waits between retries of writes (retry_backoff,
	// doubling up to retry_backoff_max, with jitter). Defaults 200ms and 10s.
	backoff.Settings `yaml:",inline"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Group: "touchline-identity", MapPartitions: 6, MaxPollRecords: 5000, SessionTimeout: 10 * time.Second,
		Settings: backoff.DefaultSettings()}
}

// ErrConfig reports an invalid setting.
var ErrConfig = errors.New("invalid identity config")

// Validate reports the first invalid setting, wrapping ErrConfig.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return fmt.Errorf("%w: group is empty", ErrConfig)
	case c.MapPartitions < 1:
		return fmt.Errorf("%w: map_partitions must be at least 1", ErrConfig)
	case c.MaxPollRecords < 1:
		return fmt.Errorf("%w: max_poll_records must be at least 1", ErrConfig)
	case c.SessionTimeout < time.Second:
		return fmt.Errorf("%w: session_timeout must be at least 1s", ErrConfig)
	case c.Settings.Validate() != nil:
		return fmt.Errorf("%w: %w", ErrConfig, c.Settings.Validate())
	}
	return nil
}
