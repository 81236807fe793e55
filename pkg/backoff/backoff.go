// Package backoff retries an operation with exponential backoff and jitter
// until it succeeds or its context ends, and holds the retry settings every
// service embeds in its configuration.
package backoff

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Settings are the retry settings of a service: the first wait after a
// failed write and the most the wait grows to. Every service config embeds
// them with `yaml:",inline"`, so the keys sit in the service's own section.
type Settings struct {
	// RetryBackoff bounds the first wait after a failed attempt (the wait
	// is drawn from its upper half, see Policy); the bound doubles after
	// each further failure up to RetryBackoffMax.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// RetryBackoffMax bounds every wait.
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max"`
}

// DefaultSettings returns the retry settings the services default to:
// 200ms, doubling up to 10s.
func DefaultSettings() Settings {
	return Settings{RetryBackoff: 200 * time.Millisecond, RetryBackoffMax: 10 * time.Second}
}

// ErrSettings reports invalid retry settings.
var ErrSettings = errors.New("retry_backoff must be positive and at most retry_backoff_max")

// Validate returns ErrSettings unless RetryBackoff is positive and at most
// RetryBackoffMax.
func (s Settings) Validate() error {
	if s.RetryBackoff <= 0 || s.RetryBackoffMax < s.RetryBackoff {
		return ErrSettings
	}
	return nil
}

// Check records invalid settings in checks, at the retry_backoff key.
func (s Settings) Check(checks *pipefile.Checks) {
	if err := s.Validate(); err != nil {
		checks.Add("retry_backoff", err)
	}
}

// Policy returns the policy of s, with random jitter.
func (s Settings) Policy() Policy {
	return Policy{Initial: s.RetryBackoff, Max: s.RetryBackoffMax}
}

// Policy is how Retry waits between attempts. The n-th wait is drawn with
// equal jitter from [c/2, c), where c is Initial doubled n-1 times and
// capped at Max: retries of many instances that failed together (a
// ClickHouse restart) spread out instead of arriving in step, and no wait
// is shorter than half its exponential value.
type Policy struct {
	// Initial is the first wait's ceiling; Max caps every ceiling.
	Initial, Max time.Duration
	// Rand returns a number in [0, 1); nil means math/rand/v2's Float64.
	// A constant makes the waits deterministic, e.g. in tests.
	Rand func() float64
}

// wait returns the wait drawn for a ceiling.
func (p Policy) wait(ceiling time.Duration) time.Duration {
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	half := ceiling / 2
	return ceiling - half + time.Duration(float64(half)*r())
}

// Retry runs op until it returns nil or ctx ends, waiting as p says
// between attempts. failed is called after each failed attempt with the
// attempt number (from 1), the coming wait and the error. Retry returns
// nil, or ctx's error.
func (p Policy) Retry(ctx context.Context, op func(context.Context) error, failed func(attempt int, wait time.Duration, err error)) error {
	ceiling := p.Initial
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := p.wait(ceiling)
		failed(attempt, wait, err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		ceiling = min(ceiling*2, p.Max)
	}
}
