// Package identity is the identity resolver service: it consumes link
// requests from the single-partition links topic, applies them to the
// union-find of pkg/identity/stitch, publishes every changed identifier to the
// compacted identity map topic, and records the map, merges, refusals and
// person overrides in ClickHouse. One instance is active at a time (the
// partition's owner in the consumer group); the others take over when it
// fails, after rebuilding the union-find from the map topic.
package identity

import (
	"errors"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Config configures the resolver service.
type Config struct {
	// Consumer holds the consumer group (default touchline-identity) and
	// its session timeout: how long a failed resolver holds the partition
	// before another takes over (default 10s).
	kafka.Consumer `yaml:",inline"`
	// MapPartitions is the partition count the compacted map topic is
	// created with when it does not exist. Default 6.
	MapPartitions int32 `yaml:"map_partitions"`
	// MaxPollRecords bounds the link requests applied per batch. Default 5000.
	MaxPollRecords int `yaml:"max_poll_records"`
	// Settings bound the waits between retries of writes (retry_backoff,
	// doubling up to retry_backoff_max, with jitter). Defaults 200ms and 10s.
	backoff.Settings `yaml:",inline"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Consumer: kafka.Consumer{Group: "touchline-identity", SessionTimeout: 10 * time.Second}, MapPartitions: 6, MaxPollRecords: 5000,
		Settings: backoff.DefaultSettings()}
}

// ErrConfig reports an invalid setting.
var ErrConfig = errors.New("invalid identity config")

// Validate reports every invalid setting, each wrapping ErrConfig and
// naming its key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	c.Consumer.Check(ch)
	ch.Check(c.MapPartitions < 1, "map_partitions", "map_partitions must be at least 1")
	ch.Check(c.MaxPollRecords < 1, "max_poll_records", "max_poll_records must be at least 1")
	c.Settings.Check(ch)
	return ch.Err()
}
