// Package backoff retries an operation with exponential backoff until it
// succeeds or its context ends.
package backoff

import (
	"context"
	"time"
)

// Retry runs op until it returns nil or ctx ends, waiting initial, then
// twice as long each time up to max, between attempts. failed is called
// after each failed attempt with the attempt number (from 1), the coming
// wait and the error. Retry returns nil, or ctx's error.
func Retry(ctx context.Context, initial, max time.Duration, op func(context.Context) error, failed func(attempt int, wait time.Duration, err error)) error {
	wait := initial
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failed(attempt, wait, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, max)
	}
}
