package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

// retryWaits runs p.Retry on an op that fails fails times and returns the
// waits failed was told.
func retryWaits(t *testing.T, p Policy, fails int) []time.Duration {
	t.Helper()
	var waits []time.Duration
	calls := 0
	err := p.Retry(context.Background(), func(context.Context) error {
		if calls++; calls <= fails {
			return errors.New("down")
		}
		return nil
	}, func(attempt int, wait time.Duration, err error) {
		if attempt != len(waits)+1 || err == nil {
			t.Errorf("attempt %d, err %v", attempt, err)
		}
		waits = append(waits, wait)
	})
	if err != nil || calls != fails+1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	return waits
}

func TestRetryBacksOffUntilSuccess(t *testing.T) {
	cases := []struct {
		name string
		rand float64
		want []time.Duration // ceilings 4, 8, 12, 12 ms
	}{
		{"low end of the jitter", 0, []time.Duration{2 * time.Millisecond, 4 * time.Millisecond, 6 * time.Millisecond, 6 * time.Millisecond}},
		{"middle of the jitter", 0.5, []time.Duration{3 * time.Millisecond, 6 * time.Millisecond, 9 * time.Millisecond, 9 * time.Millisecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Policy{Initial: 4 * time.Millisecond, Max: 12 * time.Millisecond, Rand: func() float64 { return c.rand }}
			waits := retryWaits(t, p, 4)
			if len(waits) != len(c.want) {
				t.Fatalf("waits %v, want %v", waits, c.want)
			}
			for i := range c.want {
				if waits[i] != c.want[i] {
					t.Errorf("wait %d = %s, want %s", i+1, waits[i], c.want[i])
				}
			}
		})
	}
}

// TestRetryJitterSpreadsWaits checks that the default random source gives
// waits within [ceiling/2, ceiling) that are not all the same.
func TestRetryJitterSpreadsWaits(t *testing.T) {
	p := Policy{Initial: 40 * time.Microsecond, Max: 40 * time.Microsecond}
	waits := retryWaits(t, p, 20)
	distinct := map[time.Duration]bool{}
	for _, w := range waits {
		if w < 20*time.Microsecond || w >= 40*time.Microsecond {
			t.Errorf("wait %s outside [20µs, 40µs)", w)
		}
		distinct[w] = true
	}
	if len(distinct) < 2 {
		t.Errorf("20 waits without jitter: %v", waits)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := Policy{Initial: time.Hour, Max: time.Hour}.Retry(ctx, func(context.Context) error { return errors.New("down") },
		func(int, time.Duration, error) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	cases := []struct {
		s  Settings
		ok bool
	}{
		{DefaultSettings(), true},
		{Settings{RetryBackoff: time.Second, RetryBackoffMax: time.Second}, true},
		{Settings{RetryBackoff: 0, RetryBackoffMax: time.Second}, false},
		{Settings{RetryBackoff: -time.Second, RetryBackoffMax: time.Second}, false},
		{Settings{RetryBackoff: 2 * time.Second, RetryBackoffMax: time.Second}, false},
	}
	for _, c := range cases {
		err := c.s.Validate()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrSettings)) {
			t.Errorf("%+v: Validate() = %v, want ok %v", c.s, err, c.ok)
		}
	}
}

func TestSettingsPolicy(t *testing.T) {
	p := Settings{RetryBackoff: time.Second, RetryBackoffMax: time.Minute}.Policy()
	if p.Initial != time.Second || p.Max != time.Minute || p.Rand != nil {
		t.Errorf("Policy() = %+v", p)
	}
}
