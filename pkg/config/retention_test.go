package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// TestRetentionConfig: clickhouse.retention reads days per table family,
// is off when absent, and refuses an unknown family, a negative duration
// and one under a day, each at its line.
func TestRetentionConfig(t *testing.T) {
	cfg, errs := load(t, "clickhouse:\n  addr: [h:9000]\n")
	if errs != nil || cfg.ClickHouse.Retention != (clickhouse.Retention{}) {
		t.Fatalf("retention must be off by default: %+v, %v", cfg.ClickHouse.Retention, errs)
	}
	cfg, errs = load(t, "clickhouse:\n  retention:\n    touchpoints: 400d\n    segment_changes: 90d\n    alert_notifications: 26w\n")
	if errs != nil {
		t.Fatal(errs)
	}
	day := 24 * time.Hour
	if want := (clickhouse.Retention{Touchpoints: 400 * day, SegmentChanges: 90 * day, AlertNotifications: 182 * day}); cfg.ClickHouse.Retention != want {
		t.Fatalf("retention %+v, want %+v", cfg.ClickHouse.Retention, want)
	}
	_, errs = load(t, "clickhouse:\n  retention:\n    touchpoints: 400d\n    spend: 90d\n")
	if want := []string{"F:4: clickhouse.retention.spend: unknown key"}; !reflect.DeepEqual(errs, want) {
		t.Fatalf("unknown family:\n got %q\nwant %q", errs, want)
	}
	_, errs = load(t, "clickhouse:\n  retention:\n    touchpoints: -1d\n")
	if len(errs) != 1 || errs[0] != `F:3: clickhouse.retention.touchpoints: duration "-1d": want a whole number of days, or a Go duration like 36h` {
		t.Fatalf("negative retention: %q", errs)
	}
	_, errs = load(t, "clickhouse:\n  retention:\n    touchpoints: 400d\n    segment_changes: 12h\n")
	if want := []string{"F:4: clickhouse: invalid clickhouse config: retention 12h0m0s of segment_changes must be 0 (keep for ever) or at least 1d"}; !reflect.DeepEqual(errs, want) {
		t.Fatalf("short retention:\n got %q\nwant %q", errs, want)
	}
}
