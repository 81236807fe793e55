package health

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/backoff"
)

// Writes retries the writes of a service (to ClickHouse, Kafka, a schema
// registry) the way every service does: with the service's retry settings,
// keeping Status's check of the write's target failing while it is retried
// (Status.Retry), and counting and logging every failed attempt.
type Writes struct {
	// Status is the service's health status.
	Status *Status
	// Settings are the service's retry settings.
	Settings backoff.Settings
	// Stall is how long one attempt may go unanswered before the target's
	// check fails while it still waits; zero disables it.
	Stall time.Duration
	// Failures counts the failed attempts, by target (its only label).
	Failures *prometheus.CounterVec
	// Log gets a warning for every failed attempt.
	Log *zap.Logger
}

// Retry runs op, the write to target, until it succeeds or ctx ends; it
// returns nil or ctx's error.
func (w Writes) Retry(ctx context.Context, target string, op func(context.Context) error) error {
	return w.Status.Retry(ctx, target, w.Settings.RetryBackoff, w.Settings.RetryBackoffMax, w.Stall, op,
		func(attempt int, wait time.Duration, err error) {
			w.Failures.WithLabelValues(target).Inc()
			w.Log.Warn("write failed, retrying", zap.String("target", target), zap.Int("attempt", attempt),
				zap.Duration("backoff", wait), zap.Error(err))
		})
}
