package activate

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The statuses of a delivery record.
const (
	// Delivered: the destination accepted the change.
	Delivered = "delivered"
	// Dead: every attempt failed; the record is the dead letter.
	Dead = "dead"
)

// Record is one row of activation_deliveries: a change a destination is
// done with.
type Record struct {
	Destination    string
	IdempotencyKey string
	Segment        string
	Person         string
	Entered        bool
	ChangedAt      time.Time
	Status         string
	Attempts       uint32
	Error          string
	RecordedAt     time.Time
}

// Store is the activation service's state in ClickHouse. It is safe for
// concurrent use.
type Store struct {
	conn driver.Conn
}

// NewStore returns the store on conn.
func NewStore(conn driver.Conn) *Store { return &Store{conn: conn} }

// Statements returns the store's queries, with ? for their arguments, for
// compatibility checks.
func Statements() []string {
	return []string{doneQuery, erasedQuery, identifiersQuery, membersQuery, summaryQuery}
}

const doneQuery = `SELECT idempotency_key FROM activation_deliveries FINAL WHERE destination = ? AND has(?, idempotency_key)`

// Done returns which of keys destination is done with (delivered or dead).
func (s *Store) Done(ctx context.Context, destination string, keys []string) (map[string]bool, error) {
	if len(keys) == 0 {
		return map[string]bool{}, nil
	}
	done, err := s.strings(ctx, doneQuery, destination, keys)
	if err != nil {
		return nil, fmt.Errorf("reading the deliveries of %s: %w", destination, err)
	}
	return set(done), nil
}

// strings runs query and returns its one string column.
func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Write records deliveries in one batch.
func (s *Store) Write(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO activation_deliveries (destination, idempotency_key, segment, person_id, entered,
		changed_at, status, attempts, error, recorded_at)`)
	if err != nil {
		return fmt.Errorf("recording deliveries: %w", err)
	}
	for _, r := range recs {
		entered := uint8(0)
		if r.Entered {
			entered = 1
		}
		if err := b.Append(r.Destination, r.IdempotencyKey, r.Segment, r.Person, entered, r.ChangedAt.UTC(), r.Status,
			r.Attempts, r.Error, r.RecordedAt.UTC()); err != nil {
			_ = b.Abort()
			return fmt.Errorf("recording deliveries: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("recording deliveries: %w", err)
	}
	return nil
}

const erasedQuery = `SELECT person_id FROM activation_erasures FINAL WHERE has(?, person_id)`

// Erased returns which of persons `touchline forget` erased.
func (s *Store) Erased(ctx context.Context, persons []string) (map[string]bool, error) {
	if len(persons) == 0 {
		return map[string]bool{}, nil
	}
	erased, err := s.strings(ctx, erasedQuery, persons)
	if err != nil {
		return nil, fmt.Errorf("reading the erased persons: %w", err)
	}
	return set(erased), nil
}

// Forget records persons as erased: from then on, no change of theirs is
// delivered and no audience file lists them. `touchline forget` calls it
// before it deletes their rows.
func Forget(ctx context.Context, conn driver.Conn, persons []string) error {
	b, err := conn.PrepareBatch(ctx, `INSERT INTO activation_erasures (person_id, erased_at)`)
	if err != nil {
		return fmt.Errorf("recording the erasure for activation: %w", err)
	}
	now := time.Now().UTC()
	for _, p := range persons {
		if err := b.Append(p, now); err != nil {
			_ = b.Abort()
			return fmt.Errorf("recording the erasure for activation: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("recording the erasure for activation: %w", err)
	}
	return nil
}

const identifiersQuery = `SELECT person_id, identifier_type, identifier_value FROM identity_map FINAL WHERE has(?, person_id)`

// Identifiers returns the stored identifiers of persons (identity_map), by
// person and type.
func (s *Store) Identifiers(ctx context.Context, persons []string) (map[string]map[string][]string, error) {
	out := map[string]map[string][]string{}
	if len(persons) == 0 {
		return out, nil
	}
	rows, err := s.conn.Query(ctx, identifiersQuery, persons)
	if err != nil {
		return nil, fmt.Errorf("reading the persons' identifiers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p, typ, v string
		if err := rows.Scan(&p, &typ, &v); err != nil {
			return nil, err
		}
		if out[p] == nil {
			out[p] = map[string][]string{}
		}
		out[p][typ] = append(out[p][typ], v)
	}
	return out, rows.Err()
}

const membersQuery = `SELECT person_id FROM segment_members WHERE segment = ?
AND person_id NOT IN (SELECT person_id FROM activation_erasures FINAL) ORDER BY person_id`

// Members returns the current members of segment, without erased persons,
// sorted.
func (s *Store) Members(ctx context.Context, segment string) ([]string, error) {
	members, err := s.strings(ctx, membersQuery, segment)
	if err != nil {
		return nil, fmt.Errorf("reading the members of %s: %w", segment, err)
	}
	return members, nil
}

const summaryQuery = `SELECT destination, status, count(), max(recorded_at) FROM activation_deliveries FINAL
GROUP BY destination, status ORDER BY destination, status`

// Summary is the count of a destination's records of one status.
type Summary struct {
	Destination string    `json:"destination"`
	Status      string    `json:"status"`
	Count       uint64    `json:"count"`
	Last        time.Time `json:"last"`
}

// Summaries returns the records per destination and status.
func (s *Store) Summaries(ctx context.Context) ([]Summary, error) {
	rows, err := s.conn.Query(ctx, summaryQuery)
	if err != nil {
		return nil, fmt.Errorf("reading the deliveries: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var x Summary
		if err := rows.Scan(&x.Destination, &x.Status, &x.Count, &x.Last); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}
