package clickhouse

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// AlertStateRow is one row of alert_states: the state of an alert rule and
// group.
type AlertStateRow struct {
	Rule, GroupKey, Channel, Campaign, Status string
	Streak                                    uint32
	Incident                                  string
	PendingSince, FiredAt, ResolvedAt         time.Time
	EvaluatedAt                               time.Time
	Value                                     float64
	Currency                                  string
	Defined                                   uint8
	Outbox                                    string
	Version                                   uint64
}

// AlertNotificationRow is one row of alert_notifications.
type AlertNotificationRow struct {
	IdempotencyKey, Incident, Status, Rule, Severity, KPI, Channel, Campaign string
	Value, Reference, Score                                                  float64
	Currency                                                                 string
	WindowStart, WindowEnd, NotifiedAt                                       time.Time
	Message                                                                  string
}

// InsertAlertStates writes rows to alert_states in one batch.
func InsertAlertStates(ctx context.Context, conn driver.Conn, rows []AlertStateRow) error {
	return insert(ctx, conn, `INSERT INTO alert_states (rule, group_key, channel, campaign, status, streak, incident,
	pending_since, fired_at, resolved_at, evaluated_at, value, currency, defined, outbox, version)`,
		len(rows), func(b driver.Batch, i int) error {
			r := &rows[i]
			return b.Append(r.Rule, r.GroupKey, r.Channel, r.Campaign, r.Status, r.Streak, r.Incident,
				r.PendingSince, r.FiredAt, r.ResolvedAt, r.EvaluatedAt, r.Value, r.Currency, r.Defined, r.Outbox, r.Version)
		})
}

// InsertAlertNotifications writes rows to alert_notifications in one batch.
func InsertAlertNotifications(ctx context.Context, conn driver.Conn, rows []AlertNotificationRow) error {
	return insert(ctx, conn, `INSERT INTO alert_notifications (idempotency_key, incident, status, rule, severity, kpi,
	channel, campaign, value, reference, score, currency, window_start, window_end, notified_at, message)`,
		len(rows), func(b driver.Batch, i int) error {
			r := &rows[i]
			return b.Append(r.IdempotencyKey, r.Incident, r.Status, r.Rule, r.Severity, r.KPI, r.Channel, r.Campaign,
				r.Value, r.Reference, r.Score, r.Currency, r.WindowStart, r.WindowEnd, r.NotifiedAt, r.Message)
		})
}

// SegmentChangeRow is one row of segment_changes.
type SegmentChangeRow struct {
	Segment, PersonID string
	Entered           uint8
	ChangedAt         time.Time
	ChangedMillis     uint16
	Features          string
	WrittenAt         time.Time
}

// InsertSegmentChanges writes rows to segment_changes in one batch.
func InsertSegmentChanges(ctx context.Context, conn driver.Conn, rows []SegmentChangeRow) error {
	return insert(ctx, conn, `INSERT INTO segment_changes (segment, person_id, entered, changed_at, changed_millis, features, written_at)`,
		len(rows), func(b driver.Batch, i int) error {
			r := &rows[i]
			return b.Append(r.Segment, r.PersonID, r.Entered, r.ChangedAt, r.ChangedMillis, r.Features, r.WrittenAt)
		})
}
