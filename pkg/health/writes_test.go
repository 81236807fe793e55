package health

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/touchline-io/touchline/pkg/backoff"
)

// TestWritesCountLogAndFailTheTarget: two failed attempts at a ClickHouse
// write are counted under its target, logged with their attempt numbers,
// and keep the target's check failing until the third attempt succeeds.
func TestWritesCountLogAndFailTheTarget(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "write_errors_total"}, []string{"target"})
	w := Writes{Status: New(nil), Settings: backoff.Settings{RetryBackoff: time.Millisecond, RetryBackoffMax: time.Millisecond},
		Failures: failures, Log: zap.New(core)}
	calls := 0
	err := w.Retry(context.Background(), "clickhouse", func(context.Context) error {
		if calls++; calls <= 2 {
			if !w.Status.Failing("clickhouse") && calls == 2 {
				t.Error("clickhouse passes after a failed attempt")
			}
			return errors.New("down")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want success at the third", err, calls)
	}
	if got := testutil.ToFloat64(failures.WithLabelValues("clickhouse")); got != 2 {
		t.Errorf("failures %v, want 2", got)
	}
	if w.Status.Failing("clickhouse") {
		t.Error("clickhouse still failing after the write succeeded")
	}
	entries := logs.All()
	if len(entries) != 2 || entries[1].ContextMap()["attempt"] != int64(2) || entries[1].ContextMap()["target"] != "clickhouse" {
		t.Errorf("logged %v, want two warnings, the second for attempt 2 of clickhouse", entries)
	}
}
