package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// Store keeps alert states and the notification history in ClickHouse
// (alert_states, alert_notifications).
type Store struct {
	conn driver.Conn

	mu      sync.Mutex
	version uint64 // of the last written state rows
}

// NewStore returns a store on conn.
func NewStore(conn driver.Conn) *Store { return &Store{conn: conn} }

// stateKey identifies a state among all rules'.
type stateKey struct {
	rule, group string
}

func keyOf(rule string, g Group) stateKey { return stateKey{rule: rule, group: g.Key()} }

// States returns every stored state, ordered by rule and group.
func (s *Store) States(ctx context.Context) ([]*State, error) {
	states, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	return sortStates(states), nil
}

// load returns every stored state by key.
func (s *Store) load(ctx context.Context) (map[stateKey]*State, error) {
	rows, err := s.conn.Query(ctx, analytics.AlertStatesQuery)
	if err != nil {
		return nil, fmt.Errorf("reading alert states: %w", err)
	}
	defer rows.Close()
	out := map[stateKey]*State{}
	for rows.Next() {
		var (
			st             State
			status, outbox string
			streak         uint32
			defined        uint8
			version        uint64
		)
		if err := rows.Scan(&st.Rule, &st.Group.Channel, &st.Group.Campaign, &status, &streak, &st.Incident,
			&st.PendingSince, &st.FiredAt, &st.ResolvedAt, &st.EvaluatedAt, &st.Value, &st.Currency, &defined, &outbox, &version); err != nil {
			return nil, fmt.Errorf("reading alert states: %w", err)
		}
		st.Status, st.Streak, st.Defined = Status(status), int(streak), defined == 1
		if err := json.Unmarshal([]byte(outbox), &st.Outbox); err != nil {
			return nil, fmt.Errorf("reading the outbox of alert %s/%s: %w", st.Rule, st.Group.Key(), err)
		}
		out[keyOf(st.Rule, st.Group)] = &st
		s.mu.Lock()
		s.version = max(s.version, version)
		s.mu.Unlock()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alert states: %w", err)
	}
	return out, nil
}

// Save writes states, each replacing the stored state of its rule and group.
func (s *Store) Save(ctx context.Context, states []*State) error {
	if len(states) == 0 {
		return nil
	}
	s.mu.Lock()
	// Versions grow with every write, also when the clock does not.
	s.version = max(s.version+1, uint64(time.Now().UnixNano()))
	version := s.version
	s.mu.Unlock()
	rows := make([]clickhouse.AlertStateRow, len(states))
	for i, st := range states {
		outbox, err := json.Marshal(st.Outbox)
		if err != nil {
			return fmt.Errorf("encoding the outbox of alert %s/%s: %w", st.Rule, st.Group.Key(), err)
		}
		defined := uint8(0)
		if st.Defined {
			defined = 1
		}
		rows[i] = clickhouse.AlertStateRow{
			Rule: st.Rule, GroupKey: st.Group.Key(), Channel: st.Group.Channel, Campaign: st.Group.Campaign,
			Status: string(st.Status), Streak: uint32(st.Streak), Incident: st.Incident,
			PendingSince: storable(st.PendingSince), FiredAt: storable(st.FiredAt), ResolvedAt: storable(st.ResolvedAt),
			EvaluatedAt: storable(st.EvaluatedAt), Value: st.Value, Currency: st.Currency, Defined: defined, Outbox: string(outbox), Version: version,
		}
	}
	if err := clickhouse.InsertAlertStates(ctx, s.conn, rows); err != nil {
		return fmt.Errorf("writing alert states: %w", err)
	}
	return nil
}

// Record adds notifications to the history.
func (s *Store) Record(ctx context.Context, ns []*rules.Notification) error {
	rows := make([]clickhouse.AlertNotificationRow, len(ns))
	for i, n := range ns {
		rows[i] = clickhouse.AlertNotificationRow{
			IdempotencyKey: n.Key, Incident: n.Incident, Status: n.Status, Rule: n.Rule, Severity: n.Severity,
			KPI: string(n.KPI), Channel: n.Channel, Campaign: n.Campaign, Value: n.Value, Reference: n.Reference,
			Score: n.Score, Currency: n.Currency, WindowStart: n.WindowStart, WindowEnd: n.WindowEnd, NotifiedAt: n.At, Message: n.Message,
		}
	}
	if err := clickhouse.InsertAlertNotifications(ctx, s.conn, rows); err != nil {
		return fmt.Errorf("writing alert notifications: %w", err)
	}
	return nil
}

// storable maps the zero time, which DateTime cannot hold, to the epoch,
// which reads back as the epoch: callers compare with it only through
// Before/After, where both mean "never".
func storable(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

// sortStates returns states ordered by rule and group.
func sortStates(states map[stateKey]*State) []*State {
	out := make([]*State, 0, len(states))
	for _, s := range states {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Group.Key() < out[j].Group.Key()
	})
	return out
}
