// Package health tracks what keeps a service from doing its work, so that
// its readiness endpoint tells the truth: a write that is being retried, a
// write that has stalled, or a server that does not answer a probe.
package health

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
)

// Status is the set of failing checks of a service, by name (such as
// "clickhouse" or "dead_letter"). The zero value is not usable; create it
// with New. It is safe for concurrent use.
type Status struct {
	mu      sync.Mutex
	failing map[string]error
	// retrying counts, by check, the Retry loops whose last attempt failed
	// or stalled: one loop's success passes the check only when no other
	// loop retrying the same check is failing.
	retrying map[string]int
	onChange func(check string, err error)
}

// New returns a Status with no failing check. onChange, when not nil, is
// called (under the Status's lock, so it must not call back into it) each
// time a check starts failing (err set) or passes again (err nil).
func New(onChange func(check string, err error)) *Status {
	return &Status{failing: map[string]error{}, retrying: map[string]int{}, onChange: onChange}
}

// Fail marks check as failing with err.
func (s *Status) Fail(check string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(check, err)
}

func (s *Status) failLocked(check string, err error) {
	_, was := s.failing[check]
	s.failing[check] = err
	if !was && s.onChange != nil {
		s.onChange(check, err)
	}
}

// Pass marks check as passing.
func (s *Status) Pass(check string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passLocked(check)
}

func (s *Status) passLocked(check string) {
	if _, was := s.failing[check]; was {
		delete(s.failing, check)
		if s.onChange != nil {
			s.onChange(check, nil)
		}
	}
}

// Failing reports whether check is failing.
func (s *Status) Failing(check string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.failing[check]
	return ok
}

// Err returns nil when every check passes, otherwise an error naming each
// failing check with its error, in the order of their names.
func (s *Status) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failing) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.failing))
	for n := range s.failing {
		names = append(names, n)
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	for i, n := range names {
		errs[i] = fmt.Errorf("%s: %w", n, s.failing[n])
	}
	return errors.Join(errs...)
}

// Retry is backoff.Policy.Retry (waits from initial up to max, with
// jitter) that keeps check up to date: it fails while attempts fail, and
// also while one attempt has run longer than stall (a server that accepts
// a connection and never answers), and passes once an attempt succeeds,
// unless another Retry of the same check, running at the same time, is
// failing. A stall of zero disables the stall deadline. failed, when not
// nil, is called after each failed attempt as backoff.Policy.Retry does.
func (s *Status) Retry(ctx context.Context, check string, initial, max, stall time.Duration,
	op func(context.Context) error, failed func(attempt int, wait time.Duration, err error)) error {
	var loop retryLoop // guarded by s.mu
	err := backoff.Policy{Initial: initial, Max: max}.Retry(ctx, func(ctx context.Context) error {
		if stall > 0 {
			timer := time.AfterFunc(stall, func() {
				s.failRetry(check, &loop, fmt.Errorf("a write has had no answer for %s", stall))
			})
			defer timer.Stop()
		}
		return op(ctx)
	}, func(attempt int, wait time.Duration, err error) {
		s.failRetry(check, &loop, err)
		if failed != nil {
			failed(attempt, wait, err)
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	loop.ended = true
	if loop.failing {
		if s.retrying[check]--; s.retrying[check] == 0 {
			delete(s.retrying, check)
		}
	}
	if err == nil && s.retrying[check] == 0 {
		s.passLocked(check)
	}
	return err
}

// retryLoop is the state of one Retry loop that its Status counts.
type retryLoop struct {
	failing bool // counted in Status.retrying
	ended   bool // Retry has returned
}

// failRetry marks check failing with err on behalf of loop, unless loop
// has ended (a stall deadline that fired as its attempt returned).
func (s *Status) failRetry(check string, loop *retryLoop, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if loop.ended {
		return
	}
	if !loop.failing {
		loop.failing = true
		s.retrying[check]++
	}
	s.failLocked(check, err)
}

// Probe runs check every interval, each run bounded by timeout, until ctx
// ends, marking name as failing while check fails or does not answer in
// time. A check that ignores its context's deadline (a client blocked on a
// hung server) still fails name at the timeout; no new run starts until it
// returns, so hung checks do not pile up. Probe returns when ctx ends.
func (s *Status) Probe(ctx context.Context, name string, interval, timeout time.Duration, check func(context.Context) error) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var running chan error // the run not returned yet, nil when none
	for {
		if running == nil {
			running = make(chan error, 1)
			probeCtx, cancel := context.WithTimeout(ctx, timeout)
			go func(result chan<- error) {
				defer cancel()
				result <- check(probeCtx)
			}(running)
		}
		deadline := time.NewTimer(timeout)
		select {
		case <-ctx.Done():
			deadline.Stop()
			return
		case err := <-running:
			running = nil
			if err != nil {
				s.Fail(name, fmt.Errorf("probe failed (timeout %s): %w", timeout, err))
			} else {
				s.Pass(name)
			}
		case <-deadline.C:
			s.Fail(name, fmt.Errorf("probe had no answer within %s", timeout))
		}
		deadline.Stop()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
