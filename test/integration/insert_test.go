package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// TestInsertTouchpointsStreamsBlocksAsOnePart inserts 40,001 touchpoints,
// nine blocks (eight of 5,000 and one of 1 row), in one INSERT: every value
// comes back in its row (arrays of 0, 1 and 2 entries across the blocks'
// edges), ClickHouse writes them as one part, and the channel KPI view
// counts each purchase once.
func TestInsertTouchpointsStreamsBlocksAsOnePart(t *testing.T) {
	ctx, conn := preparedDatabase(t, 2*time.Minute)
	const n = 40_001
	day := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	rows := make([]clickhouse.TouchpointRow, n)
	for i := range rows {
		r := clickhouse.TouchpointRow{EventID: fmt.Sprintf("e%d", i), EventType: "page_view", Channel: "email",
			Campaign: "welcome", EventTime: day.Add(time.Duration(i) * time.Second), SourceOffset: int64(i),
			IdentifierTypes: []string{}, IdentifierValues: []string{}, PropertyKeys: []string{}, PropertyValues: []string{},
			IngestedAt: day}
		for j := 0; j < i%3; j++ {
			r.IdentifierTypes = append(r.IdentifierTypes, fmt.Sprintf("t%d", j))
			r.IdentifierValues = append(r.IdentifierValues, fmt.Sprintf("v%d.%d", i, j))
		}
		if i%10 == 0 {
			r.EventType, r.Revenue = "purchase", int64(i)*1000
			r.PropertyKeys, r.PropertyValues = []string{"order"}, []string{r.EventID}
		}
		rows[i] = r
	}
	var cols clickhouse.TouchpointColumns
	if err := cols.Insert(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	got, err := conn.Query(ctx, `SELECT event_id, event_time, event_type, revenue, identifier_types, identifier_values,
	property_keys, property_values FROM touchpoints ORDER BY source_offset`)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	i := 0
	for ; got.Next(); i++ {
		var r clickhouse.TouchpointRow
		if err := got.Scan(&r.EventID, &r.EventTime, &r.EventType, &r.Revenue, &r.IdentifierTypes, &r.IdentifierValues,
			&r.PropertyKeys, &r.PropertyValues); err != nil {
			t.Fatal(err)
		}
		want := rows[min(i, n-1)]
		if fmt.Sprint(r.EventID, r.EventTime.UTC(), r.EventType, r.Revenue, r.IdentifierTypes, r.IdentifierValues, r.PropertyKeys, r.PropertyValues) !=
			fmt.Sprint(want.EventID, want.EventTime, want.EventType, want.Revenue, want.IdentifierTypes, want.IdentifierValues, want.PropertyKeys, want.PropertyValues) {
			t.Fatalf("row %d is %+v, want %+v", i, r, want)
		}
	}
	if err := got.Err(); err != nil || i != n {
		t.Fatalf("read %d rows (error %v), want %d", i, err, n)
	}
	// One part, counting inactive ones: the nine blocks were not written as
	// nine parts and merged.
	var parts uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'touchpoints'`).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts != 1 {
		t.Errorf("touchpoints has %d parts, want 1", parts)
	}
	// Purchases are rows 0, 10, ..., 40000: 4,001 of them, revenue
	// 1000 * 10 * (0 + 1 + ... + 4000) micro-units = 80,020 units.
	var conversions uint64
	var revenue float64
	if err := conn.QueryRow(ctx, `SELECT sum(conversions), sum(revenue) FROM channel_kpis`).Scan(&conversions, &revenue); err != nil {
		t.Fatal(err)
	}
	if conversions != 4001 || revenue != 80020 {
		t.Errorf("channel_kpis: %d conversions, revenue %v; want 4001 and 80020", conversions, revenue)
	}
}
