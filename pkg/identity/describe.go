package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
)

// Person is what ClickHouse records of the person of an identifier.
type Person struct {
	PersonID string `json:"person_id"`
	// FirstSeen is when the person was first seen.
	FirstSeen   time.Time         `json:"first_seen"`
	Identifiers []KnownIdentifier `json:"identifiers"`
	Merges      []PersonMerge     `json:"merges"`
	Refusals    []PersonRefusal   `json:"refusals"`
}

// KnownIdentifier is one identifier of a person.
type KnownIdentifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// PersonMerge is a merge in the person's history: a person merged into it
// or into a person it absorbed later.
type PersonMerge struct {
	MergedPersonID    string    `json:"merged_person_id"`
	SurvivingPersonID string    `json:"surviving_person_id"`
	RequestID         string    `json:"request_id"`
	MergedAt          time.Time `json:"merged_at"`
}

// PersonRefusal is a link with another person that the rules refused.
type PersonRefusal struct {
	OtherPersonID   string    `json:"other_person_id"`
	ConflictingType string    `json:"conflicting_type"`
	Reason          string    `json:"reason"`
	RequestID       string    `json:"request_id"`
	RefusedAt       time.Time `json:"refused_at"`
}

// The queries of Describe, with ? for their arguments.
const (
	personOfQuery    = `SELECT person_id FROM identity_map FINAL WHERE identifier_type = ? AND identifier_value = ?`
	identifiersQuery = `SELECT identifier_type, identifier_value, first_seen FROM identity_map FINAL
WHERE person_id = ? ORDER BY identifier_type, identifier_value`
	mergesQuery = `SELECT merged_person_id, surviving_person_id, request_id, merged_at FROM identity_merges FINAL
WHERE has(?, surviving_person_id) ORDER BY merged_at, merged_person_id`
	refusalsQuery = `SELECT if(person_id = ?, other_person_id, person_id), conflicting_type, reason, request_id, refused_at
FROM identity_refusals FINAL WHERE person_id = ? OR other_person_id = ? ORDER BY refused_at, request_id`
)

// DescribeQueries returns the queries Describe runs, with ? for their
// arguments (the third takes an array of person ids), for compatibility
// checks.
func DescribeQueries() []string {
	return []string{personOfQuery, identifiersQuery, mergesQuery, refusalsQuery}
}

// ErrUnknownIdentifier reports an identifier the resolver has not seen.
var ErrUnknownIdentifier = errors.New("unknown identifier")

// Describe returns the person of id (normalised and hashed as stored) with
// all its identifiers, the persons merged into it and the links refused, as
// ClickHouse holds them.
func Describe(ctx context.Context, conn driver.Conn, id identifiers.Identifier) (*Person, error) {
	p := &Person{}
	err := conn.QueryRow(ctx, personOfQuery, id.Type, id.Value).Scan(&p.PersonID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w %s:%s", ErrUnknownIdentifier, id.Type, id.Value)
		}
		return nil, fmt.Errorf("looking up %s: %w", id.Type, err)
	}
	if err := scanAll(ctx, conn, identifiersQuery, []any{p.PersonID}, func(scan func(...any) error) error {
		var k KnownIdentifier
		err := scan(&k.Type, &k.Value, &p.FirstSeen)
		p.Identifiers = append(p.Identifiers, k)
		return err
	}); err != nil {
		return nil, err
	}
	// Every person merged into this one, directly or through a person it
	// absorbed, had the singleton id of one of its identifiers.
	ids := make([]string, 0, len(p.Identifiers))
	for _, k := range p.Identifiers {
		ids = append(ids, stitch.SingletonID(identifiers.Identifier{Type: k.Type, Value: k.Value}))
	}
	if err := scanAll(ctx, conn, mergesQuery, []any{ids}, func(scan func(...any) error) error {
		var m PersonMerge
		err := scan(&m.MergedPersonID, &m.SurvivingPersonID, &m.RequestID, &m.MergedAt)
		p.Merges = append(p.Merges, m)
		return err
	}); err != nil {
		return nil, err
	}
	err = scanAll(ctx, conn, refusalsQuery, []any{p.PersonID, p.PersonID, p.PersonID}, func(scan func(...any) error) error {
		var r PersonRefusal
		err := scan(&r.OtherPersonID, &r.ConflictingType, &r.Reason, &r.RequestID, &r.RefusedAt)
		p.Refusals = append(p.Refusals, r)
		return err
	})
	return p, err
}

// scanAll runs a query and calls row for each row with its scan function.
func scanAll(ctx context.Context, conn driver.Conn, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("reading identity records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return fmt.Errorf("reading identity records: %w", err)
		}
	}
	return rows.Err()
}
