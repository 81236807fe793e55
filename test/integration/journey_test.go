package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/analyticscases"
)

// TestJourneyAcrossDevices runs ingest and the identity resolver as
// processes on one person's journey: an anonymous ad click on device A, an
// anonymous email click on device B, a login on B, a login on A with the
// same customer id, and a purchase. Once stitched, the funnel and the
// attribution count one person whose touches include both devices.
func TestJourneyAcrossDevices(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 2, nil)
	log := logPath(t)
	startIngest(t, cfgPath, log)
	startResolver(t, cfgPath, log)

	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	revenue := touchpoint.Money(100_000_000)
	event := func(id, typ, channel string, at time.Duration, ids map[string]string) *touchpoint.Touchpoint {
		tp := &touchpoint.Touchpoint{EventID: id, EventType: typ, Channel: channel, EventTime: t0.Add(at), Identifiers: touchpoint.AttrsOf(ids)}
		if typ == "purchase" {
			tp.Revenue, tp.Currency = &revenue, "USD"
		}
		return tp
	}
	for _, tp := range []*touchpoint.Touchpoint{
		event("j1", "click", "paid_search", 0, map[string]string{"anonymous_id": "device-a"}),
		event("j2", "email_click", "email", time.Hour, map[string]string{"anonymous_id": "device-b"}),
		event("j3", "login", "direct", 2*time.Hour, map[string]string{"anonymous_id": "device-b", "customer_id": "cust-1"}),
		event("j4", "login", "direct", 3*time.Hour, map[string]string{"anonymous_id": "device-a", "customer_id": "cust-1"}),
		event("j5", "purchase", "direct", 4*time.Hour, map[string]string{"anonymous_id": "device-a", "customer_id": "cust-1"}),
	} {
		if err := p.Touchpoint(ctx, tp); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	day := analytics.Range{From: t0.Truncate(24 * time.Hour), To: t0.Truncate(24*time.Hour).AddDate(0, 0, 1)}
	steps, _ := analytics.ParseSteps("click,email_click,purchase")
	funnel := analyticscases.Case{Name: "journey funnel", Key: 1,
		Columns: []string{"step", "step_name", "persons", "conversion_from_first", "conversion_from_previous", "median_seconds_from_first"},
		Want: [][]any{
			{1.0, "click", 1.0, 1.0, 1.0, 0.0},
			{2.0, "email_click", 1.0, 1.0, 1.0, 3600.0},
			{3.0, "purchase", 1.0, 1.0, 1.0, 4 * 3600.0},
		}}
	linear := analytics.DefaultAttribution()
	linear.Model = analytics.Linear
	attribution := analyticscases.Case{Name: "journey attribution", Key: 1,
		Columns: []string{"channel", "conversions", "revenue"},
		Want:    [][]any{{"email", 0.5, 50.0}, {"paid_search", 0.5, 50.0}}}
	var err1, err2 error
	for {
		funnel.SQL, _ = analytics.FunnelQuery{Range: day, Steps: steps, Window: 24 * time.Hour}.SQL()
		attribution.SQL, _ = analytics.AttributionQuery{Range: day, Attribution: linear}.SQL()
		err1, err2 = check(ctx, conn, funnel), check(ctx, conn, attribution)
		if err1 == nil && err2 == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not stitched in time:\n%v\n%v", err1, err2)
		case <-time.After(500 * time.Millisecond):
		}
	}
	// The person first seen (device A's, at the ad click) survived both merges.
	out, err := exec.CommandContext(ctx, touchlineBin, "identity", "show", "customer_id:cust-1", "--format", "json", "--config", cfgPath).Output()
	if err != nil {
		t.Fatalf("identity show: %v\n%s", err, stderrOf(err))
	}
	var shown identity.Person
	if err := json.Unmarshal(out, &shown); err != nil {
		t.Fatalf("identity show printed %s: %v", out, err)
	}
	deviceA := stitch.SingletonID(identifiers.Identifier{Type: "anonymous_id", Value: "device-a"})
	var ids []string
	for _, k := range shown.Identifiers {
		ids = append(ids, k.Type+":"+k.Value)
	}
	if shown.PersonID != deviceA || !shown.FirstSeen.Equal(t0) || len(shown.Merges) != 2 ||
		strings.Join(ids, " ") != "anonymous_id:device-a anonymous_id:device-b customer_id:cust-1" {
		t.Errorf("identity show: %+v, want device A's person, first seen %s, with both devices and the customer id, after 2 merges", shown, t0)
	}
	var persons, stored uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(resolved_person_id), uniqExact(person_id) FROM touchpoints_resolved").Scan(&persons, &stored); err != nil {
		t.Fatal(err)
	}
	if persons != 1 || stored < 2 {
		t.Fatalf("%d resolved persons from %d stored person ids, want 1 from several", persons, stored)
	}
}

// check runs a case's SQL and compares its rows.
func check(ctx context.Context, conn driver.Conn, c analyticscases.Case) error {
	res, err := table.Run(ctx, conn, c.SQL)
	if err != nil {
		return err
	}
	return c.Check(res.Columns, res.Rows)
}
