package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// touchpointColumn is one column of the touchpoints insert: its name, and
// how it is filled from rows and handed to clickhouse-go.
type touchpointColumn interface {
	name() string
	// appendTo appends the column's values of rows to col.
	appendTo(col driver.BatchColumn, rows []TouchpointRow) error
	// reset drops the values kept since the last appendTo, keeping the room.
	reset()
}

// scalarColumn is a column of one value per row. Its values are gathered
// into a slice, kept across inserts, that clickhouse-go takes whole, without
// boxing each value into an interface as a row-by-row Append does.
type scalarColumn[T any] struct {
	column string
	get    func(*TouchpointRow) T
	values []T
}

func (c *scalarColumn[T]) name() string { return c.column }

func (c *scalarColumn[T]) appendTo(col driver.BatchColumn, rows []TouchpointRow) error {
	c.values = c.values[:0]
	for i := range rows {
		c.values = append(c.values, c.get(&rows[i]))
	}
	return col.Append(c.values)
}

func (c *scalarColumn[T]) reset() {
	// Clear all the room, which earlier and larger blocks filled too, so
	// that it holds on to no row's strings.
	c.values = c.values[:0]
	clear(c.values[:cap(c.values)])
}

// arrayColumn is an Array(String) column. clickhouse-go appends a slice of
// arrays by reflection, element by element; one array at a time it does not
// reflect, so the arrays are appended row by row. It hands each element to
// the nested column as an interface, which takes an allocation for a
// string and none for a pointer: so each row's array goes as pointers to
// its strings (the column copies them at once), gathered in elems, kept
// from one row and one insert to the next.
type arrayColumn struct {
	column string
	get    func(*TouchpointRow) []string
	elems  []*string
}

func (c *arrayColumn) name() string { return c.column }

func (c *arrayColumn) appendTo(col driver.BatchColumn, rows []TouchpointRow) error {
	for i := range rows {
		values := c.get(&rows[i])
		c.elems = c.elems[:0]
		for j := range values {
			c.elems = append(c.elems, &values[j])
		}
		if err := col.AppendRow(c.elems); err != nil {
			return err
		}
	}
	return nil
}

func (c *arrayColumn) reset() {
	// Holds on to no row's strings.
	c.elems = c.elems[:0]
	clear(c.elems[:cap(c.elems)])
}

func stringColumn(name string, get func(*TouchpointRow) string) touchpointColumn {
	return &scalarColumn[string]{column: name, get: get}
}

func timeColumn(name string, get func(*TouchpointRow) time.Time) touchpointColumn {
	return &scalarColumn[time.Time]{column: name, get: get}
}

// TouchpointColumns writes touchpoint rows column by column: each column's
// values are gathered from the rows and appended to the batch at once. The
// gathered values are kept, emptied, for the next Insert, so that inserting
// batch after batch does not allocate them again. The zero value is ready to
// use. A TouchpointColumns is not safe for concurrent use.
type TouchpointColumns struct {
	columns []touchpointColumn
}

// touchpointColumns returns the columns of the touchpoints table, in the
// order of the insert's column list.
func touchpointColumns() []touchpointColumn {
	return []touchpointColumn{
		stringColumn("event_id", func(r *TouchpointRow) string { return r.EventID }),
		timeColumn("event_time", func(r *TouchpointRow) time.Time { return r.EventTime }),
		&scalarColumn[uint16]{column: "event_millis", get: func(r *TouchpointRow) uint16 { return r.EventMillis }},
		stringColumn("event_type", func(r *TouchpointRow) string { return r.EventType }),
		stringColumn("channel", func(r *TouchpointRow) string { return r.Channel }),
		stringColumn("campaign", func(r *TouchpointRow) string { return r.Campaign }),
		stringColumn("utm_source", func(r *TouchpointRow) string { return r.UTMSource }),
		stringColumn("utm_medium", func(r *TouchpointRow) string { return r.UTMMedium }),
		stringColumn("utm_campaign", func(r *TouchpointRow) string { return r.UTMCampaign }),
		stringColumn("utm_content", func(r *TouchpointRow) string { return r.UTMContent }),
		stringColumn("utm_term", func(r *TouchpointRow) string { return r.UTMTerm }),
		stringColumn("referrer", func(r *TouchpointRow) string { return r.Referrer }),
		stringColumn("page_url", func(r *TouchpointRow) string { return r.PageURL }),
		stringColumn("person_id", func(r *TouchpointRow) string { return r.PersonID }),
		&arrayColumn{column: "identifier_types", get: func(r *TouchpointRow) []string { return r.IdentifierTypes }},
		&arrayColumn{column: "identifier_values", get: func(r *TouchpointRow) []string { return r.IdentifierValues }},
		&scalarColumn[int64]{column: "revenue", get: func(r *TouchpointRow) int64 { return r.Revenue }},
		stringColumn("currency", func(r *TouchpointRow) string { return r.Currency }),
		stringColumn("order_id", func(r *TouchpointRow) string { return r.OrderID }),
		&arrayColumn{column: "property_keys", get: func(r *TouchpointRow) []string { return r.PropertyKeys }},
		&arrayColumn{column: "property_values", get: func(r *TouchpointRow) []string { return r.PropertyValues }},
		stringColumn("device_type", func(r *TouchpointRow) string { return r.DeviceType }),
		stringColumn("os", func(r *TouchpointRow) string { return r.OS }),
		stringColumn("country", func(r *TouchpointRow) string { return r.Country }),
		&scalarColumn[int32]{column: "source_partition", get: func(r *TouchpointRow) int32 { return r.SourcePartition }},
		&scalarColumn[int64]{column: "source_offset", get: func(r *TouchpointRow) int64 { return r.SourceOffset }},
		timeColumn("ingested_at", func(r *TouchpointRow) time.Time { return r.IngestedAt }),
	}
}

// insertTouchpoints is the touchpoints insert, its column list that of
// touchpointColumns.
var insertTouchpoints = func() string {
	var names []string
	for _, c := range touchpointColumns() {
		names = append(names, c.name())
	}
	return "INSERT INTO touchpoints (" + strings.Join(names, ", ") + ")"
}()

// touchpointBlockRows is the most rows of one block of a touchpoints
// insert. A larger insert streams several blocks, which ClickHouse gathers
// into one part (up to its min_insert_block_size_rows, 1,048,576 by
// default), so the server's cost per row is that of one large insert while
// this process encodes one block at a time in the same buffers.
// clickhouse-go makes a batch's column buffers anew for each INSERT and
// keeps them from one block to the next, so small blocks fill buffers that
// have already grown instead of growing them by copying: an insert of
// 20,000 rows in blocks of 5,000 costs this process about half the CPU it
// costs in one block, and holds a quarter of the memory.
const touchpointBlockRows = 5_000

// Insert writes rows to the touchpoints table in one INSERT, streaming
// blocks of at most 5,000 rows.
func (t *TouchpointColumns) Insert(ctx context.Context, conn driver.Conn, rows []TouchpointRow) error {
	if len(rows) == 0 {
		return nil
	}
	if t.columns == nil {
		t.columns = touchpointColumns()
	}
	defer func() {
		for _, c := range t.columns {
			c.reset()
		}
	}()
	b, err := conn.PrepareBatch(ctx, insertTouchpoints)
	if err != nil {
		return fmt.Errorf("preparing batch: %w", err)
	}
	for start := 0; start < len(rows); start += touchpointBlockRows {
		if start > 0 {
			if err := b.Flush(); err != nil {
				_ = b.Abort()
				return fmt.Errorf("sending the block of rows %d to %d: %w", start-touchpointBlockRows, start-1, err)
			}
		}
		block := rows[start:min(start+touchpointBlockRows, len(rows))]
		for i, c := range t.columns {
			if err := c.appendTo(b.Column(i), block); err != nil {
				_ = b.Abort()
				return fmt.Errorf("appending column %s of %d rows: %w", c.name(), len(block), err)
			}
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("sending batch of %d rows: %w", len(rows), err)
	}
	return nil
}
