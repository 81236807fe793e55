// Package collect is the collector service: an HTTP front door that speaks
// the Segment tracking API (and touchline's own JSON form), validates each
// record with the ingest service's own code, and publishes the good ones as
// Avro touchpoints to Kafka, answering only once Kafka has acknowledged them.
package collect

import (
	"errors"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// IPHandling says what the collector does with a client's IP address.
type IPHandling string

// The ways of handling a client's IP address.
const (
	// IPDrop keeps no IP address.
	IPDrop IPHandling = "drop"
	// IPTruncate keeps the network part only: the first three bytes of an
	// IPv4 address (a.b.c.0), the first six of an IPv6 address (/48).
	IPTruncate IPHandling = "truncate"
	// IPKeep keeps the address as sent.
	IPKeep IPHandling = "keep"
)

// WriteKey is one source's write key: SDKs send it as the HTTP basic-auth
// user or as writeKey in the body.
type WriteKey struct {
	// Key is the secret the SDK sends.
	Key string `yaml:"key"`
	// Source is the name stored on the source's touchpoints (the
	// touchpoint's "source" property).
	Source string `yaml:"source"`
	// Origins are the browser origins (scheme://host[:port]) allowed to
	// send with this key, or "*" for any. Empty: no browser may (server
	// SDKs send no Origin and are not affected).
	Origins []string `yaml:"origins"`
	// RatePerSecond bounds the records per second this key may send, with
	// bursts of one second's worth; 0 means no limit.
	RatePerSecond float64 `yaml:"rate_per_second"`
}

// Config configures the collector.
type Config struct {
	// Addr is where the collector listens for the API, /healthz, /readyz
	// and /metrics. Default ":8090".
	Addr string `yaml:"addr"`
	// WriteKeys are the accepted write keys, one per source.
	WriteKeys []WriteKey `yaml:"write_keys"`
	// MaxBodyBytes bounds a request's body, after gzip decompression too.
	// Default 512 KiB (Segment's own limit for a batch).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxInflightBytes bounds the request bodies being handled at once
	// (their Content-Length; MaxBodyBytes for a body of unknown length or
	// a gzipped one), from reading until the answer, waiting for Kafka's
	// acknowledgement included. A request beyond it is answered 503 with
	// Retry-After, which SDKs retry. The collector's memory is a small
	// multiple of it. Default 64 MiB; at least MaxBodyBytes.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// MaxBatchRecords bounds the records of one batch request. Default
	// 10000.
	MaxBatchRecords int `yaml:"max_batch_records"`
	// IP says what happens to context.ip: drop, truncate or keep. Default
	// truncate.
	IP IPHandling `yaml:"ip"`
	// AckTimeout bounds how long a request waits for Kafka to acknowledge
	// its records before it is answered 503. Default 10s.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// ClockSkew is the difference between a sender's clock (sentAt) and
	// the collector's that is left uncorrected; a larger one corrects the
	// event's timestamp by it, in whole seconds. Default 30s.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// ProbeInterval schedules the Kafka ping behind /readyz. Default 1s.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// GCPercent is the Go garbage collector's target for the collector
	// (what GOGC sets): the heap grows by this percentage of the live heap
	// before the next collection. Default 400: the live heap is little
	// more than the requests in flight, so at Go's default of 100 the
	// garbage collector would run every few requests. The GOGC
	// environment variable, when set, wins; dev mode, whose one process
	// all services share, keeps ingest.gc_percent.
	GCPercent int `yaml:"gc_percent"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Addr:             ":8090",
		MaxBodyBytes:     512 << 10,
		MaxBatchRecords:  10000,
		MaxInflightBytes: 64 << 20,
		IP:               IPTruncate,
		AckTimeout:       10 * time.Second,
		ClockSkew:        30 * time.Second,
		ProbeInterval:    time.Second,
		GCPercent:        400,
	}
}

// ErrConfig reports an invalid collect setting.
var ErrConfig = errors.New("invalid collect config")

// Validate reports every invalid setting, each wrapping ErrConfig and
// naming its key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	ch.Check(c.Addr == "", "addr", "addr is empty")
	ch.Check(c.MaxBodyBytes < 1024, "max_body_bytes", "max_body_bytes must be at least 1024")
	ch.Check(c.MaxInflightBytes < c.MaxBodyBytes, "max_inflight_bytes", "max_inflight_bytes must be at least max_body_bytes (%d)", c.MaxBodyBytes)
	ch.Check(c.MaxBatchRecords < 1, "max_batch_records", "max_batch_records must be at least 1")
	ch.Check(c.IP != IPDrop && c.IP != IPTruncate && c.IP != IPKeep, "ip", "ip must be drop, truncate or keep, not %q", c.IP)
	ch.Check(c.AckTimeout <= 0, "ack_timeout", "ack_timeout must be positive")
	ch.Check(c.ClockSkew < 0, "clock_skew", "clock_skew must not be negative")
	ch.Check(c.ProbeInterval <= 0, "probe_interval", "probe_interval must be positive")
	ch.Check(c.GCPercent < 25, "gc_percent", "gc_percent must be at least 25")
	seen := map[string]bool{}
	for i, k := range c.WriteKeys {
		const key = "write_keys"
		ch.Check(k.Key == "", key, "write_keys[%d]: key is empty", i)
		ch.Check(seen[k.Key] && k.Key != "", key, "write_keys[%d]: key repeats an earlier one", i)
		ch.Check(k.Source == "", key, "write_keys[%d]: source is empty", i)
		ch.Check(k.RatePerSecond < 0, key, "write_keys[%d]: rate_per_second must not be negative", i)
		seen[k.Key] = true
	}
	return ch.Err()
}
