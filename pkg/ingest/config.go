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
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/identitymap"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/scrub"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Config configures the ingest service.
type Config struct {
	// Consumer holds the consumer group (default touchline-ingest) and
	// its session timeout (default 10s).
	kafka.Consumer `yaml:",inline"`
	// BatchSize is the number of records that triggers a flush. Default 20000.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the age of the oldest buffered record that triggers a
	// flush. Default 1s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// ConcurrentInserts is the most batches whose touchpoints are inserted
	// into ClickHouse at once, each on a connection of its own, while the
	// next batch fills: (concurrent_inserts + 1) x batch_size rows are held
	// at most. The rest of each batch's write and its offset commit still
	// go in order. Default 2.
	ConcurrentInserts int `yaml:"concurrent_inserts"`
	// Workers is the number of goroutines decoding and validating records.
	// Default: the number of CPUs.
	Workers int `yaml:"workers"`
	// FetchMaxBytes bounds what the Kafka client buffers ahead of processing,
	// which with BatchSize bounds memory. Default 4 MiB.
	FetchMaxBytes int32 `yaml:"fetch_max_bytes"`
	// Settings bound the waits between retries of writes (retry_backoff,
	// doubling up to retry_backoff_max, with jitter). Defaults 200ms and 10s.
	backoff.Settings `yaml:",inline"`
	// ShutdownTimeout bounds the final flush and commit on shutdown. Default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// RebalanceFlushTimeout bounds the flush of partitions being revoked; what
	// is not flushed by then is left to the partitions' next owner. Default 15s.
	RebalanceFlushTimeout time.Duration `yaml:"rebalance_flush_timeout"`
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
	// GCPercent is the Go garbage collector's target for the service (what
	// GOGC sets): the heap grows by this percentage of the live heap before
	// the next collection. Default 150: the service holds up to
	// concurrent_inserts + 1 batches of rows, which the garbage collector
	// would otherwise mark more often, and a higher target would take its
	// memory past 500 MiB at the defaults. The GOGC environment variable,
	// when set, wins.
	GCPercent int `yaml:"gc_percent"`
	// Limits bounds valid records.
	Limits touchpoint.Limits `yaml:"limits"`
	// Scrub says what personal data is scrubbed from free-text fields.
	// Default scrub.DefaultConfig(): emails, phones and scrub.DefaultParams.
	Scrub scrub.Config `yaml:"scrub"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Consumer:              kafka.Consumer{Group: "touchline-ingest", SessionTimeout: 10 * time.Second},
		BatchSize:             20000,
		FlushInterval:         time.Second,
		ConcurrentInserts:     2,
		Workers:               runtime.NumCPU(),
		FetchMaxBytes:         4 << 20,
		Settings:              backoff.DefaultSettings(),
		ShutdownTimeout:       30 * time.Second,
		RebalanceFlushTimeout: 15 * time.Second,
		ProbeInterval:         time.Second,
		ProbeTimeout:          3 * time.Second,
		StallTimeout:          10 * time.Second,
		IdentityCacheEntries:  identitymap.DefaultCacheEntries,
		GCPercent:             150,
		Limits:                touchpoint.DefaultLimits(),
		Scrub:                 scrub.DefaultConfig(),
	}
}

// ErrConfig reports an invalid ingest setting.
var ErrConfig = errors.New("invalid ingest config")

// Validate reports every invalid setting, each wrapping ErrConfig and
// naming its key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	c.Consumer.Check(ch)
	ch.Check(c.BatchSize < 1, "batch_size", "batch_size must be at least 1")
	ch.Check(c.ConcurrentInserts < 1, "concurrent_inserts", "concurrent_inserts must be at least 1")
	ch.Check(c.Workers < 1, "workers", "workers must be at least 1")
	ch.Check(c.FlushInterval <= 0, "flush_interval", "flush_interval must be positive")
	ch.Check(c.FetchMaxBytes < 1<<20, "fetch_max_bytes", "fetch_max_bytes must be at least 1 MiB")
	ch.Check(c.GCPercent < 25, "gc_percent", "gc_percent must be at least 25")
	c.Settings.Check(ch)
	ch.Check(c.ShutdownTimeout <= 0, "shutdown_timeout", "shutdown_timeout must be positive")
	ch.Check(c.RebalanceFlushTimeout <= 0, "rebalance_flush_timeout", "rebalance_flush_timeout must be positive")
	ch.Check(c.ProbeInterval <= 0, "probe_interval", "probe_interval must be positive")
	ch.Check(c.ProbeTimeout <= 0, "probe_timeout", "probe_timeout must be positive")
	ch.Check(c.StallTimeout <= 0, "stall_timeout", "stall_timeout must be positive")
	ch.Check(c.IdentityCacheEntries < 0, "identity_cache_entries", "identity_cache_entries must not be negative")
	ch.Check(c.Limits.MaxFieldBytes < 1 || c.Limits.MaxIdentifiers < 1 || c.Limits.MaxProperties < 0 || c.Limits.MaxFuture < 0,
		"limits", "limits must be positive")
	ch.Check(c.Limits.MaxIdentifiers > stitch.MaxLinkIdentifiers, "limits.max_identifiers",
		"limits.max_identifiers (%d) must be at most %d, the most identifiers a link request may carry", c.Limits.MaxIdentifiers, stitch.MaxLinkIdentifiers)
	if _, err := scrub.New(c.Scrub); err != nil {
		ch.Add("scrub", fmt.Errorf("scrub: %w", err))
	}
	return ch.Err()
}
