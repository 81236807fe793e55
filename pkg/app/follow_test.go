package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A service whose identity map stops following its topic with an error
// ends with that error instead of resolving persons from a stale copy.
func TestGuardEndsTheServiceWhenFollowingFails(t *testing.T) {
	f := &FollowedMap{stopped: make(chan struct{})}
	broken := errors.New("disk full")
	var serviceStopped bool
	run := f.Guard(func(ctx context.Context) error {
		<-ctx.Done()
		serviceStopped = true
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- run(context.Background()) }()
	f.err = broken
	close(f.stopped)
	select {
	case err := <-done:
		if !errors.Is(err, broken) || !serviceStopped {
			t.Fatalf("run returned %v (service stopped: %v), want the follower's error after the service stopped", err, serviceStopped)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the service kept running after its identity map stopped following")
	}
}

// When the service's context ends, the guard returns what the service
// returned, and does not wait for the follower.
func TestGuardReturnsTheServiceResult(t *testing.T) {
	f := &FollowedMap{stopped: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Guard(func(ctx context.Context) error { <-ctx.Done(); return nil })(ctx); err != nil {
		t.Fatalf("a clean stop returned %v", err)
	}
	failed := errors.New("flush failed")
	if err := f.Guard(func(context.Context) error { return failed })(context.Background()); !errors.Is(err, failed) {
		t.Fatalf("the service's own error was lost: %v", err)
	}
}
