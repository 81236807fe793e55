package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

// segmentsRange is the range of the segments and person pages' test: the
// UTC days 2026-09-01, 02 and 03.
var segmentsRange = []string{"--from", "2026-09-01", "--to", "2026-09-04"}

// storeSegmentsAndPersons writes, through the writers the segments, identity
// and ingest services use, the segment changes, identities, merge and
// touches that TestWebUISegments reads back. p_old merged into p_a.
func storeSegmentsAndPersons(ctx context.Context, t *testing.T, conn driver.Conn) {
	t.Helper()
	at := func(month, day, hour int) time.Time {
		return time.Date(2026, time.Month(month), day, hour, 0, 0, 0, time.UTC)
	}
	change := func(segment, person string, entered uint8, when time.Time) clickhouse.SegmentChangeRow {
		return clickhouse.SegmentChangeRow{Segment: segment, PersonID: person, Entered: entered, ChangedAt: when, Features: "{}", WrittenAt: when}
	}
	if err := clickhouse.InsertSegmentChanges(ctx, conn, []clickhouse.SegmentChangeRow{
		change("vip", "p_a", 1, at(8, 20, 10)),
		change("vip", "p_b", 1, at(8, 25, 0)), change("vip", "p_b", 0, at(9, 2, 9)),
		change("vip", "p_c", 1, at(9, 1, 12)),
		change("vip", "p_d", 1, at(9, 2, 8)), change("vip", "p_d", 0, at(9, 3, 18)),
		change("cart_abandoners", "p_old", 1, at(9, 3, 7)),
		change("cart_abandoners", "p_e", 1, at(9, 5, 0)),
		change("late", "p_e", 1, at(9, 6, 0)),
	}); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.InsertIdentityMap(ctx, conn, []clickhouse.IdentityMapRow{
		{IdentifierType: "email", IdentifierValue: "h_email_a", PersonID: "p_a", FirstSeen: at(8, 1, 0), Version: 1},
		{IdentifierType: "anonymous_id", IdentifierValue: "h_anon_old", PersonID: "p_old", FirstSeen: at(8, 2, 0), Version: 1},
		{IdentifierType: "customer_id", IdentifierValue: "cust-a", PersonID: "p_old", FirstSeen: at(8, 2, 0), Version: 1},
		{IdentifierType: "email", IdentifierValue: "h_email_b", PersonID: "p_b", FirstSeen: at(8, 3, 0), Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.InsertIdentityMerges(ctx, conn, []clickhouse.IdentityMergeRow{
		{MergedPersonID: "p_old", SurvivingPersonID: "p_a", RequestID: "req-1", MergedAt: at(8, 15, 0), Version: 1},
		{MergedPersonID: "p_x", SurvivingPersonID: "p_b", RequestID: "req-2", MergedAt: at(8, 16, 0), Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.InsertPersonOverrides(ctx, conn, []clickhouse.PersonOverrideRow{
		{PersonID: "p_old", SurvivingPersonID: "p_a", MergedAt: at(8, 15, 0), Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	touch := func(id, person, typ, channel, device string, when time.Time, millis uint16, revenue int64) clickhouse.TouchpointRow {
		return clickhouse.TouchpointRow{EventID: id, EventTime: when, EventMillis: millis, EventType: typ, Channel: channel,
			Campaign: "fall", UTMSource: channel + "_src", PersonID: person, Revenue: revenue, DeviceType: device, IngestedAt: when}
	}
	if err := clickhouse.InsertTouchpoints(ctx, conn, []clickhouse.TouchpointRow{
		touch("e1", "p_old", "page_view", "web", "desktop", at(9, 1, 9), 0, 0),
		touch("e2", "p_a", "email_click", "email", "mobile", at(9, 1, 10), 250, 0),
		touch("e3", "p_a", "purchase", "paid_search", "mobile", at(9, 2, 11), 7, 25_500_000),
		touch("e4", "p_b", "page_view", "web", "desktop", at(9, 2, 12), 0, 0),
		touch("e5", "p_a", "page_view", "web", "desktop", at(9, 10, 0), 0, 0),
	}); err != nil {
		t.Fatal(err)
	}
}

// TestWebUISegments stores segment changes, identities, a merge and touches
// as the services do, and drives Chromium over the segments page and the
// person page: no error is logged, every table equals `touchline query
// segment-history`, `segments`, `segment-members` and `person-*` for the
// same parameters, and the figures are those computed by hand.
func TestWebUISegments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := servers(t).Config(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	storeSegmentsAndPersons(ctx, t, conn)

	// By hand, from the touchline query JSON: vip starts the range with p_a
	// and p_b; p_c enters on the 1st; p_d enters and p_b exits on the 2nd;
	// p_d exits on the 3rd. cart_abandoners gets p_old (now p_a) on the 3rd; late
	// changed only after the range.
	history := cliRows(ctx, t, cfg, append([]string{"segment-history"}, segmentsRange...)...)
	var got []string
	for _, r := range history {
		got = append(got, fmt.Sprintf("%s %s +%v -%v =%v", r["segment"], r["day"], r["entered"], r["exited"], r["members"]))
	}
	want := "[cart_abandoners 2026-09-01 +0 -0 =0 cart_abandoners 2026-09-02 +0 -0 =0 cart_abandoners 2026-09-03 +1 -0 =1 " +
		"vip 2026-09-01 +1 -0 =3 vip 2026-09-02 +1 -1 =3 vip 2026-09-03 +0 -1 =2]"
	if fmt.Sprint(got) != want {
		t.Errorf("segment history %v, want %s", got, want)
	}
	counts := cliRows(ctx, t, cfg, "segments")
	if fmt.Sprint(counts) != "[map[members:2 segment:cart_abandoners] map[members:1 segment:late] map[members:2 segment:vip]]" {
		t.Errorf("segments: %v", counts)
	}
	members := cliRows(ctx, t, cfg, "segment-members", "--segment", "cart_abandoners")
	if fmt.Sprint(members) != "[map[person:p_a person_id:p_old since:2026-09-03 07:00:00] map[person:p_e person_id:p_e since:2026-09-05 00:00:00]]" {
		t.Errorf("segment members of cart_abandoners: %v", members)
	}
	// touchline segments members runs the same query.
	if out := string(touchlineOn(ctx, t, cfg, "segments", "members", "cart_abandoners", "--format", "json")); out !=
		string(cliQuery(ctx, t, cfg, "segment-members", "--segment", "cart_abandoners", "--format", "json")) {
		t.Errorf("touchline segments members cart_abandoners:\n%s", out)
	}
	person := []string{"--person", "p_a"}
	identifiers := cliRows(ctx, t, cfg, "person-identifiers", "--person", "p_a")
	if fmt.Sprint(identifiers) != "[map[identifier_type:anonymous_id identifier_value:h_anon_old seen:2026-08-02 00:00:00] "+
		"map[identifier_type:customer_id identifier_value:cust-a seen:2026-08-02 00:00:00] "+
		"map[identifier_type:email identifier_value:h_email_a seen:2026-08-01 00:00:00]]" {
		t.Errorf("person identifiers: %v", identifiers)
	}
	merges := cliRows(ctx, t, cfg, "person-merges", "--person", "p_a")
	if fmt.Sprint(merges) != "[map[merged:2026-08-15 00:00:00 merged_person_id:p_old request_id:req-1 surviving_person_id:p_a]]" {
		t.Errorf("person merges: %v", merges)
	}
	touches := cliRows(ctx, t, cfg, append([]string{"person-touches"}, append(person, segmentsRange...)...)...)
	got = nil
	for _, r := range touches {
		got = append(got, fmt.Sprintf("%s %s %s %s %v %s", r["touched"], r["channel"], r["event_type"], r["device_type"], r["revenue_units"], r["person_id"]))
	}
	want = "[2026-09-01 09:00:00.000 web page_view desktop 0 p_old 2026-09-01 10:00:00.250 email email_click mobile 0 p_a " +
		"2026-09-02 11:00:00.007 paid_search purchase mobile 25.5 p_a]"
	if fmt.Sprint(got) != want {
		t.Errorf("person touches %v, want %s", got, want)
	}
	changes := cliRows(ctx, t, cfg, append([]string{"person-segments"}, append(person, segmentsRange...)...)...)
	if fmt.Sprint(changes) != "[map[change:entered changed:2026-09-03 07:00:00.000 person_id:p_old segment:cart_abandoners]]" {
		t.Errorf("person segments: %v", changes)
	}

	// The person of an identifier (normalised as ingest does: the blanks
	// trimmed): p_old's customer id, so p_a, the person p_old merged into.
	for _, analysis := range []string{"person-identifiers", "person-merges", "person-touches", "person-segments"} {
		byID := cliQuery(ctx, t, cfg, append([]string{analysis, "--format", "json"}, append(person, segmentsRange...)...)...)
		byIdentifier := cliQuery(ctx, t, cfg, append([]string{analysis, "--format", "json", "--person", " customer_id: cust-a "}, segmentsRange...)...)
		if string(byIdentifier) != string(byID) {
			t.Errorf("%s of customer_id:cust-a:\n%s\nwant those of p_a:\n%s", analysis, byIdentifier, byID)
		}
	}

	base := startUI(ctx, t, cfg)
	b := newBrowser(ctx, t)
	shots := artifacts(t)
	p := b.show(t, base+"/#/segments?from=2026-09-01&to=2026-09-04&segment=cart_abandoners", filepath.Join(shots, "segments.png"))
	sameRows(t, "segment history", p.Tables["segment-history"], history)
	sameRows(t, "segments", p.Tables["segments"], counts)
	sameRows(t, "members of cart_abandoners", p.Tables["segment-members"], members)
	if p.Charts != 1 {
		t.Errorf("%d charts drawn, want the members per day", p.Charts)
	}
	b.sqlView(ctx, t, cfg, [][]string{append([]string{"segment-history"}, segmentsRange...), {"segments"}, {"segment-members", "--segment", "cart_abandoners"}})

	p = b.show(t, base+"/#/person?from=2026-09-01&to=2026-09-04&person=p_a", filepath.Join(shots, "person.png"))
	sameRows(t, "identifiers", p.Tables["person-identifiers"], identifiers)
	sameRows(t, "merges", p.Tables["person-merges"], merges)
	sameRows(t, "touches", p.Tables["person-touches"], touches)
	sameRows(t, "segment changes", p.Tables["person-segments"], changes)
	if p.Charts != 1 {
		t.Errorf("%d charts drawn, want the touch timeline", p.Charts)
	}
	p = b.show(t, base+"/#/person?from=2026-09-01&to=2026-09-04&person=customer_id%3Acust-a", filepath.Join(shots, "person-by-identifier.png"))
	sameRows(t, "touches of customer_id:cust-a", p.Tables["person-touches"], touches)
	sameRows(t, "identifiers of customer_id:cust-a", p.Tables["person-identifiers"], identifiers)
}
