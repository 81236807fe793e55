package clickhouse

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// IdentityMapRow is one row of identity_map: an identifier and its person.
type IdentityMapRow struct {
	IdentifierType, IdentifierValue, PersonID string
	FirstSeen                                 time.Time
	Version                                   uint64
}

// IdentityMergeRow is one row of identity_merges.
type IdentityMergeRow struct {
	MergedPersonID, SurvivingPersonID, RequestID string
	MergedAt                                     time.Time
	Version                                      uint64
}

// IdentityRefusalRow is one row of identity_refusals.
type IdentityRefusalRow struct {
	RequestID, PersonID, OtherPersonID, ConflictingType, Reason string
	RefusedAt                                                   time.Time
	Version                                                     uint64
}

// InsertIdentityMap writes rows to identity_map in one batch.
func InsertIdentityMap(ctx context.Context, conn driver.Conn, rows []IdentityMapRow) error {
	return insert(ctx, conn, `INSERT INTO identity_map (identifier_type, identifier_value, person_id, first_seen, version)`,
		len(rows), func(b driver.Batch, i int) error {
			r := &rows[i]
			return b.Append(r.IdentifierType, r.IdentifierValue, r.PersonID, r.FirstSeen, r.Version)
		})
}

// InsertIdentityMerges writes rows to identity_merges in one batch.
func InsertIdentityMerges(ctx context.Context, conn driver.Conn, rows []IdentityMergeRow) error {
	return insert(ctx, conn, `INSERT INTO identity_merges (merged_person_id, surviving_person_id, request_id, merged_at, version)`,
		len(rows), func(b driver.Batch, i int) error {
			r := &rows[i]
			return b.Append(r.MergedPersonID, r.SurvivingPersonID, r.RequestID, r.MergedAt, r.Version)
		})
}

// InsertIdentityRefusals writes rows to identity_refusals in one batch.
func InsertIdentityRefusals(ctx context.Context, conn driver.Conn, rows []IdentityRefusalRow) error {
	return insert(ctx, conn, `INSERT INTO identity_refusals (request_id, person_id, other_person_id, conflicting_type, reason, refused_at, version)`,
		len(rows), func(b driver.Batch, i int) error {
			r := &rows[i]
			return b.Append(r.RequestID, r.PersonID, r.OtherPersonID, r.ConflictingType, r.Reason, r.RefusedAt, r.Version)
		})
}
