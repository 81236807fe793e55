package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TouchpointRow is one row of the touchpoints table.
type TouchpointRow struct {
	EventID          string
	EventTime        time.Time
	EventMillis      uint16
	EventType        string
	Channel          string
	Campaign         string
	UTMSource        string
	UTMMedium        string
	UTMCampaign      string
	UTMContent       string
	UTMTerm          string
	Referrer         string
	PageURL          string
	PersonID         string
	IdentifierTypes  []string
	IdentifierValues []string
	Revenue          int64
	Currency         string
	OrderID          string
	PropertyKeys     []string
	PropertyValues   []string
	DeviceType       string
	OS               string
	Country          string
	SourcePartition  int32
	SourceOffset     int64
	IngestedAt       time.Time
}

// SpendRow is one row of the spend table.
type SpendRow struct {
	Date        time.Time
	Channel     string
	Campaign    string
	Source      string
	Cost        int64
	Currency    string
	Impressions *int64
	Clicks      *int64
	Version     uint64
	IngestedAt  time.Time
}

const insertSpend = `INSERT INTO spend (date, channel, campaign, source, cost, currency, impressions, clicks, version, ingested_at)`

// ExchangeRateRow is one row of the exchange_rates table.
type ExchangeRateRow struct {
	Date       time.Time
	Base       string
	Quote      string
	Rate       float64
	Source     string
	Version    uint64
	IngestedAt time.Time
}

const insertExchangeRates = `INSERT INTO exchange_rates (date, base, quote, rate, source, version, ingested_at)`

// PersonOverrideRow is one row of the person_overrides table: a stored
// person id and the person it now belongs to. A higher Version replaces a
// lower one.
type PersonOverrideRow struct {
	PersonID          string
	SurvivingPersonID string
	MergedAt          time.Time
	Version           uint64
}

const insertPersonOverrides = `INSERT INTO person_overrides (person_id, surviving_person_id, merged_at, version)`

// InsertTouchpoints writes rows to the touchpoints table in one batch, with
// columns of its own. A caller that inserts batch after batch keeps a
// TouchpointColumns instead.
func InsertTouchpoints(ctx context.Context, conn driver.Conn, rows []TouchpointRow) error {
	var c TouchpointColumns
	return c.Insert(ctx, conn, rows)
}

// InsertSpend writes rows to the spend table in one batch.
func InsertSpend(ctx context.Context, conn driver.Conn, rows []SpendRow) error {
	return insert(ctx, conn, insertSpend, len(rows), func(b driver.Batch, i int) error {
		r := &rows[i]
		return b.Append(r.Date, r.Channel, r.Campaign, r.Source, r.Cost, r.Currency, r.Impressions, r.Clicks, r.Version, r.IngestedAt)
	})
}

// InsertExchangeRates writes rows to the exchange_rates table in one batch.
func InsertExchangeRates(ctx context.Context, conn driver.Conn, rows []ExchangeRateRow) error {
	return insert(ctx, conn, insertExchangeRates, len(rows), func(b driver.Batch, i int) error {
		r := &rows[i]
		return b.Append(r.Date, r.Base, r.Quote, r.Rate, r.Source, r.Version, r.IngestedAt)
	})
}

// InsertPersonOverrides writes rows to the person_overrides table in one
// batch.
func InsertPersonOverrides(ctx context.Context, conn driver.Conn, rows []PersonOverrideRow) error {
	return insert(ctx, conn, insertPersonOverrides, len(rows), func(b driver.Batch, i int) error {
		r := &rows[i]
		return b.Append(r.PersonID, r.SurvivingPersonID, r.MergedAt, r.Version)
	})
}

func insert(ctx context.Context, conn driver.Conn, stmt string, n int, appendRow func(driver.Batch, int) error) error {
	if n == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return fmt.Errorf("preparing batch: %w", err)
	}
	for i := 0; i < n; i++ {
		if err := appendRow(b, i); err != nil {
			_ = b.Abort()
			return fmt.Errorf("appending row %d: %w", i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("sending batch of %d rows: %w", n, err)
	}
	return nil
}
