package clickhouse

import (
	"reflect"
	"testing"
	"time"
)

// TestExpiredPartitions: a month is dropped only when all of it is before
// the cutoff (UTC); the month that holds the cutoff, and a month that ends
// one second after it, are kept; a cutoff at midnight of the first of a
// month drops the month before.
func TestExpiredPartitions(t *testing.T) {
	parts := []uint32{202603, 202512, 202601, 202602, 202411}
	for _, c := range []struct {
		cutoff time.Time
		want   []uint32
	}{
		{time.Date(2026, 1, 14, 9, 0, 0, 0, time.UTC), []uint32{202411, 202512}},
		{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), []uint32{202411, 202512, 202601}},
		{time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC), []uint32{202411, 202512}},
		// 2026-02-01 00:30 in Paris is still January in UTC.
		{time.Date(2026, 2, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), []uint32{202411, 202512}},
		{time.Date(2024, 11, 30, 0, 0, 0, 0, time.UTC), nil},
		{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), []uint32{202411, 202512, 202601, 202602, 202603}},
	} {
		if got := ExpiredPartitions(parts, c.cutoff); !reflect.DeepEqual(got, c.want) {
			t.Errorf("cutoff %s: got %v, want %v", c.cutoff, got, c.want)
		}
	}
}

// TestRetentionValidate: 0 is off, a day or more is accepted, anything
// between is refused with the family's key.
func TestRetentionValidate(t *testing.T) {
	if err := (Retention{Touchpoints: 400 * 24 * time.Hour, SegmentChanges: 24 * time.Hour}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Retention{AlertNotifications: time.Hour, Touchpoints: -time.Hour}.Validate()
	if err == nil || err.Error() != "invalid clickhouse config: retention -1h0m0s of touchpoints must be 0 (keep for ever) or at least 1d\n"+
		"invalid clickhouse config: retention 1h0m0s of alert_notifications must be 0 (keep for ever) or at least 1d" {
		t.Fatalf("got %v", err)
	}
}
