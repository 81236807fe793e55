package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// recordingConn is a driver.Conn whose batches record what is appended to
// them; it implements only PrepareBatch.
type recordingConn struct {
	driver.Conn
	stmt  string
	batch *recordingBatch
}

func (c *recordingConn) PrepareBatch(_ context.Context, stmt string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	c.stmt = stmt
	c.batch = &recordingBatch{}
	return c.batch, nil
}

// recordingBatch records each column's values per block. Row-by-row
// Append is an error: the touchpoints insert appends whole columns.
type recordingBatch struct {
	driver.Batch
	columns   map[int]*recordingColumn
	blocks    int // blocks sent, by Flush and Send
	rowAppend bool
	sent      bool
}

func (b *recordingBatch) Append(...any) error {
	b.rowAppend = true
	return errors.New("row-by-row append")
}
func (b *recordingBatch) Flush() error { b.blocks++; return nil }
func (b *recordingBatch) Send() error  { b.blocks++; b.sent = true; return nil }
func (b *recordingBatch) Abort() error { return nil }

func (b *recordingBatch) Column(i int) driver.BatchColumn {
	if b.columns == nil {
		b.columns = map[int]*recordingColumn{}
	}
	if b.columns[i] == nil {
		b.columns[i] = &recordingColumn{batch: b}
	}
	return b.columns[i]
}

// recordingColumn keeps a copy of every value appended, and the block of
// each.
type recordingColumn struct {
	batch  *recordingBatch
	values []any
	blocks []int
	wholes int // calls of Append with a whole column
}

func (c *recordingColumn) Append(v any) error {
	c.wholes++
	s := reflect.ValueOf(v)
	for i := 0; i < s.Len(); i++ {
		c.values = append(c.values, s.Index(i).Interface())
		c.blocks = append(c.blocks, c.batch.blocks)
	}
	return nil
}

func (c *recordingColumn) AppendRow(v any) error {
	if elems, ok := v.([]*string); ok { // copied at once, as clickhouse-go's arrays do
		values := make([]string, len(elems))
		for i, e := range elems {
			values[i] = *e
		}
		v = values
	}
	c.values = append(c.values, v)
	c.blocks = append(c.blocks, c.batch.blocks)
	return nil
}

// testRows returns n rows whose every field differs from row to row, with
// arrays of 0, 1 and 2 entries in turn.
func testRows(n int) []TouchpointRow {
	rows := make([]TouchpointRow, n)
	at := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		s := func(field string) string { return fmt.Sprintf("%s-%d", field, i) }
		arr := func(field string) []string {
			a := []string{}
			for j := 0; j < i%3; j++ {
				a = append(a, fmt.Sprintf("%s-%d-%d", field, i, j))
			}
			return a
		}
		rows[i] = TouchpointRow{EventID: s("id"), EventTime: at.Add(time.Duration(i) * time.Second), EventMillis: uint16(i % 1000),
			EventType: s("type"), Channel: s("channel"), Campaign: s("campaign"), UTMSource: s("src"), UTMMedium: s("med"),
			UTMCampaign: s("camp"), UTMContent: s("content"), UTMTerm: s("term"), Referrer: s("ref"), PageURL: s("url"),
			PersonID: s("person"), IdentifierTypes: arr("itype"), IdentifierValues: arr("ival"), Revenue: int64(i) * 1000,
			Currency: s("cur"), OrderID: s("order"), PropertyKeys: arr("pkey"), PropertyValues: arr("pval"),
			DeviceType: s("device"), OS: s("os"), Country: s("country"), SourcePartition: int32(i % 7), SourceOffset: int64(i) + 100,
			IngestedAt: at.Add(time.Duration(i) * time.Minute)}
	}
	return rows
}

// rowValues is r as the insert's 27 columns, in the order of the
// touchpoints table.
func rowValues(r TouchpointRow) []any {
	return []any{r.EventID, r.EventTime, r.EventMillis, r.EventType, r.Channel, r.Campaign,
		r.UTMSource, r.UTMMedium, r.UTMCampaign, r.UTMContent, r.UTMTerm, r.Referrer, r.PageURL, r.PersonID,
		r.IdentifierTypes, r.IdentifierValues, r.Revenue, r.Currency, r.OrderID, r.PropertyKeys, r.PropertyValues,
		r.DeviceType, r.OS, r.Country, r.SourcePartition, r.SourceOffset, r.IngestedAt}
}

func TestTouchpointColumnsInsertWholeColumnsInBlocks(t *testing.T) {
	const n = 2*touchpointBlockRows + 1 // two full blocks and one of 1 row
	rows := testRows(n)
	conn := &recordingConn{}
	var cols TouchpointColumns
	for round := 0; round < 2; round++ { // the second insert reuses the kept columns
		if err := cols.Insert(context.Background(), conn, rows); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		b := conn.batch
		if b.rowAppend || !b.sent || b.blocks != 3 {
			t.Fatalf("round %d: row-by-row append %v, sent %v, blocks %d; want false, true, 3", round, b.rowAppend, b.sent, b.blocks)
		}
		if len(b.columns) != 27 {
			t.Fatalf("round %d: %d columns appended, want 27", round, len(b.columns))
		}
		for c := 0; c < 27; c++ {
			col := b.columns[c]
			if len(col.values) != n {
				t.Fatalf("round %d: column %d has %d values, want %d", round, c, len(col.values), n)
			}
			array := c == 14 || c == 15 || c == 19 || c == 20
			if !array && col.wholes != 3 {
				t.Errorf("round %d: column %d appended %d times, want once per block (3)", round, c, col.wholes)
			}
		}
		for i, r := range rows {
			for c, want := range rowValues(r) {
				col := b.columns[c]
				if !reflect.DeepEqual(col.values[i], want) || col.blocks[i] != i/touchpointBlockRows {
					t.Fatalf("round %d: column %d row %d: %v in block %d, want %v in block %d",
						round, c, i, col.values[i], col.blocks[i], want, i/touchpointBlockRows)
				}
			}
		}
	}
	const stmt = `INSERT INTO touchpoints (event_id, event_time, event_millis, event_type, channel, campaign, ` +
		`utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer, page_url, person_id, ` +
		`identifier_types, identifier_values, revenue, currency, order_id, property_keys, property_values, ` +
		`device_type, os, country, source_partition, source_offset, ingested_at)`
	if conn.stmt != stmt {
		t.Errorf("statement\n%s\nwant\n%s", conn.stmt, stmt)
	}
	// The kept room holds on to no row's strings.
	kept := cols.columns[0].(*scalarColumn[string])
	if cap(kept.values) < touchpointBlockRows {
		t.Errorf("event_id keeps room for %d values, want at least %d", cap(kept.values), touchpointBlockRows)
	}
	for i, v := range kept.values[:cap(kept.values)] {
		if v != "" {
			t.Fatalf("kept event_id value %d is %q after the insert, want empty", i, v)
		}
	}
}

// TestArrayColumnGoesToClickHouseGo appends arrays the way arrayColumn
// does to clickhouse-go's own Array(String) column, reusing one slice of
// pointers from row to row: the column holds every row's strings, and an
// append takes no allocation per element.
func TestArrayColumnGoesToClickHouseGo(t *testing.T) {
	col, err := column.Type("Array(String)").Column("property_keys", &column.ServerContext{})
	if err != nil {
		t.Fatal(err)
	}
	rows := testRows(6) // arrays of 0, 1 and 2 entries
	a := &arrayColumn{column: "property_keys", get: func(r *TouchpointRow) []string { return r.PropertyKeys }}
	if err := a.appendTo(appender{col}, rows); err != nil {
		t.Fatal(err)
	}
	if col.Rows() != len(rows) {
		t.Fatalf("%d rows, want %d", col.Rows(), len(rows))
	}
	for i, r := range rows {
		var got []string
		if err := col.ScanRow(&got, i); err != nil {
			t.Fatal(err)
		}
		if want := r.PropertyKeys; !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			t.Errorf("row %d: %q, want %q", i, got, want)
		}
	}
	many := []TouchpointRow{{PropertyKeys: []string{"a", "b", "c", "d", "e", "f", "g", "h"}}}
	if n := testing.AllocsPerRun(100, func() {
		if err := a.appendTo(appender{col}, many); err != nil {
			t.Fatal(err)
		}
	}); n >= float64(len(many[0].PropertyKeys)) {
		t.Errorf("%v allocations to append an array of %d, want fewer than one per element", n, len(many[0].PropertyKeys))
	}
}

// appender is a clickhouse-go column as a batch hands it out.
type appender struct{ col column.Interface }

func (a appender) Append(v any) error {
	_, err := a.col.Append(v)
	return err
}

func (a appender) AppendRow(v any) error { return a.col.AppendRow(v) }

func TestTouchpointColumnsInsertNothing(t *testing.T) {
	conn := &recordingConn{}
	var cols TouchpointColumns
	if err := cols.Insert(context.Background(), conn, nil); err != nil || conn.batch != nil {
		t.Fatalf("inserting no rows: error %v, batch prepared %v; want neither", err, conn.batch != nil)
	}
}
