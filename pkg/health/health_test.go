package health

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestStatusFailAndPass(t *testing.T) {
	var changes []string
	s := New(func(check string, err error) {
		changes = append(changes, check+"="+map[bool]string{true: "fail", false: "pass"}[err != nil])
	})
	if s.Err() != nil {
		t.Fatal("a new status must be ready")
	}
	s.Fail("dead_letter", errors.New("topic missing"))
	s.Fail("clickhouse", errors.New("down"))
	s.Fail("clickhouse", errors.New("still down")) // no second change
	err := s.Err()
	if err == nil || err.Error() != "clickhouse: still down\ndead_letter: topic missing" {
		t.Fatalf("Err() = %q", err)
	}
	s.Pass("clickhouse")
	s.Pass("clickhouse")
	if !s.Failing("dead_letter") || s.Failing("clickhouse") {
		t.Fatal("dead_letter must fail and clickhouse pass")
	}
	s.Pass("dead_letter")
	if s.Err() != nil {
		t.Fatalf("all passed: %v", s.Err())
	}
	want := "dead_letter=fail,clickhouse=fail,clickhouse=pass,dead_letter=pass"
	if got := strings.Join(changes, ","); got != want {
		t.Fatalf("changes %s, want %s", got, want)
	}
}

// A write that fails keeps its check failing until it succeeds: the
// retry-forever-while-ready defect.
func TestRetryFailsWhileRetrying(t *testing.T) {
	s := New(nil)
	attempts := 0
	var seenFailing bool
	err := s.Retry(context.Background(), "dead_letter", time.Millisecond, time.Millisecond, 0, func(context.Context) error {
		attempts++
		if attempts > 1 {
			seenFailing = seenFailing || s.Failing("dead_letter")
		}
		if attempts < 4 {
			return errors.New("UNKNOWN_TOPIC_OR_PARTITION")
		}
		return nil
	}, nil)
	if err != nil || attempts != 4 {
		t.Fatalf("err %v after %d attempts", err, attempts)
	}
	if !seenFailing {
		t.Fatal("the check did not fail while the write was retried")
	}
	if s.Err() != nil {
		t.Fatalf("the check still fails after the write succeeded: %v", s.Err())
	}
}

// Two writes retried at once under one check: the one that succeeds does
// not pass the check while the other is still failing.
func TestRetryPassesWhenNoConcurrentRetryFails(t *testing.T) {
	s := New(nil)
	release := make(chan struct{})
	failedOnce := make(chan struct{})
	stuck := make(chan error, 1)
	go func() {
		attempts := 0
		stuck <- s.Retry(context.Background(), "clickhouse", time.Millisecond, time.Millisecond, 0, func(context.Context) error {
			attempts++
			if attempts == 2 {
				close(failedOnce)
			}
			select {
			case <-release:
				return nil
			default:
				return errors.New("TOO_MANY_PARTS")
			}
		}, nil)
	}()
	<-failedOnce
	if err := s.Retry(context.Background(), "clickhouse", time.Millisecond, time.Millisecond, 0, func(context.Context) error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if !s.Failing("clickhouse") {
		t.Fatal("one write's success passed the check while another write to it was still retried")
	}
	close(release)
	if err := <-stuck; err != nil {
		t.Fatal(err)
	}
	if s.Err() != nil {
		t.Fatalf("the check still fails after both writes succeeded: %v", s.Err())
	}
}

// An attempt that hangs fails its check after the stall deadline, before
// it returns: a hung server is not ready.
func TestRetryStall(t *testing.T) {
	s := New(nil)
	var failedDuring atomic.Bool
	start := time.Now()
	err := s.Retry(context.Background(), "clickhouse", time.Millisecond, time.Millisecond, 50*time.Millisecond, func(context.Context) error {
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) && !s.Failing("clickhouse") {
			time.Sleep(5 * time.Millisecond)
		}
		failedDuring.Store(s.Failing("clickhouse"))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !failedDuring.Load() || time.Since(start) > time.Second {
		t.Fatalf("a hung attempt was not marked failing within the stall deadline (%s)", time.Since(start))
	}
	if s.Err() != nil {
		t.Fatalf("the check still fails after the attempt succeeded: %v", s.Err())
	}
}

func TestProbe(t *testing.T) {
	s := New(nil)
	var hung atomic.Bool
	hung.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Probe(ctx, "clickhouse_ping", 10*time.Millisecond, 30*time.Millisecond, func(ctx context.Context) error {
			if hung.Load() {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
	}()
	waitFor(t, func() bool { return s.Failing("clickhouse_ping") })
	hung.Store(false)
	waitFor(t, func() bool { return !s.Failing("clickhouse_ping") })
	cancel()
	<-done
}

// A check that ignores its context (a client blocked on a hung server)
// still fails the probe at the timeout, and only one such run is left
// waiting at a time.
func TestProbeOfACheckThatIgnoresItsContext(t *testing.T) {
	s := New(nil)
	release := make(chan struct{})
	var runs atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Probe(ctx, "kafka_ping", 10*time.Millisecond, 30*time.Millisecond, func(context.Context) error {
			if runs.Add(1) == 1 {
				<-release
			}
			return nil
		})
	}()
	waitFor(t, func() bool { return s.Failing("kafka_ping") })
	time.Sleep(100 * time.Millisecond)
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs started while the first had not returned, want 1", n)
	}
	close(release)
	waitFor(t, func() bool { return !s.Failing("kafka_ping") })
	cancel()
	<-done
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
