// Package settings is the segments service's section of touchline.yaml,
// apart from the service itself so that every program that reads the
// configuration (the ingest service's, say) does not link the CEL engine.
package settings

import (
	"errors"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Config configures the segments service (the segments section of
// touchline.yaml). The definitions live in pipelines/segments.yaml.
type Config struct {
	// Consumer holds the consumer group of the stateful stage (default
	// touchline-segments) and the session timeout of both groups (default
	// 10s).
	kafka.Consumer `yaml:",inline"`
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
	// IdleAdvance is how long the router must have read a touchpoints
	// partition to its end, with nothing new, before that partition's
	// progress follows the clock (the stage's watermarks then reach now -
	// allowed lateness), so that timers fire without new events. Default
	// 2s.
	IdleAdvance time.Duration `yaml:"idle_advance"`
	// MergePoll is how often the router looks for new identity merges.
	// Default 5s.
	MergePoll time.Duration `yaml:"merge_poll"`
	// Settings bound the waits between retries of writes (retry_backoff,
	// doubling up to retry_backoff_max, with jitter). Defaults 200ms and 10s.
	backoff.Settings `yaml:",inline"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Consumer: kafka.Consumer{Group: "touchline-segments", SessionTimeout: 10 * time.Second}, RouterGroup: "touchline-segments-router", Partitions: 6, MaxPollRecords: 5000, CachePersons: 20_000, BlockCacheMB: 512,
		IdleAdvance: 2 * time.Second, MergePoll: 5 * time.Second,
		Settings: backoff.DefaultSettings()}
}

// InsertWait is how long a batch's open transaction waits for its
// ClickHouse insert: half the transaction timeout (six session timeouts),
// so that a ClickHouse outage aborts the transaction rather than letting
// it time out.
func (c Config) InsertWait() time.Duration { return 3 * c.SessionTimeout }

// ErrConfig reports an invalid setting.
var ErrConfig = errors.New("invalid segments config")

// Validate reports every invalid setting, each wrapping ErrConfig and
// naming its key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	c.Consumer.Check(ch)
	ch.Check(c.RouterGroup == "", "router_group", "router_group is empty")
	ch.Check(c.RouterGroup != "" && c.Group == c.RouterGroup, "router_group", "group and router_group must differ")
	ch.Check(c.Partitions < 1, "partitions", "partitions must be at least 1")
	ch.Check(c.MaxPollRecords < 1, "max_poll_records", "max_poll_records must be at least 1")
	ch.Check(c.CachePersons < 0, "cache_persons", "cache_persons must not be negative")
	ch.Check(c.BlockCacheMB < 1, "block_cache_mb", "block_cache_mb must be at least 1")
	ch.Check(c.IdleAdvance < 10*time.Millisecond, "idle_advance", "idle_advance must be at least 10ms")
	ch.Check(c.MergePoll < 10*time.Millisecond, "merge_poll", "merge_poll must be at least 10ms")
	c.Settings.Check(ch)
	return ch.Err()
}
