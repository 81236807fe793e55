package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetryBacksOffUntilSuccess(t *testing.T) {
	var waits []time.Duration
	calls := 0
	err := Retry(context.Background(), time.Millisecond, 3*time.Millisecond, func(context.Context) error {
		if calls++; calls < 5 {
			return errors.New("down")
		}
		return nil
	}, func(attempt int, wait time.Duration, err error) {
		if attempt != len(waits)+1 || err == nil {
			t.Errorf("attempt %d, err %v", attempt, err)
		}
		waits = append(waits, wait)
	})
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond}
	if err != nil || calls != 5 || len(waits) != len(want) {
		t.Fatalf("err %v after %d calls, waits %v", err, calls, waits)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("wait %d = %s, want %s", i+1, waits[i], want[i])
		}
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := Retry(ctx, time.Hour, time.Hour, func(context.Context) error { return errors.New("down") },
		func(int, time.Duration, error) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
