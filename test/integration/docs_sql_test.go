package integration

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/docsql"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestDocsSQLExamplesSurviveAReplay runs every SQL example of README.md and
// docs/ on data the services ingested (ingest, the identity resolver and the
// segments service as processes), replays the touchpoints from the earliest
// offsets once the identity merges are known, and runs them again: each
// gives the same rows. The README's example counted uniqExact(person_id),
// which the replay changes (2,001 became 1,776 in the field); the test
// checks that it still does, so that it exercises what it guards against.
func TestDocsSQLExamplesSurviveAReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	blocks, err := docsql.Blocks(testenv.RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	// One touchpoints partition: the segments router then reads the days in
	// order, and no purchase falls behind the watermark of a later day.
	cfg, conn, cfgPath := setup(ctx, t, 1, func(c *config.Config) {
		c.Segments.Partitions = 2
		c.Segments.IdleAdvance = 500 * time.Millisecond
	})
	log := logPath(t)
	ingest := startIngest(t, cfgPath, log)
	startResolver(t, cfgPath, log)
	startSegments(t, cfgPath, log)
	const persons = 8
	publishJourneys(ctx, t, cfg, persons)

	// Wait for the first ingestion, every merge, and the two high-value
	// customers (purchases of 500 and 700) in the segments, as their
	// surviving persons: a merged person leaves its segments when the merge
	// takes effect there, and its survivor enters at that time, so a
	// snapshot taken before would see member_since change.
	waitCommitted(ctx, t, cfg)
	waitFor(ctx, t, "every merge and both high-value customers", func() error {
		var resolved, mergedMembers uint64
		if err := conn.QueryRow(ctx, "SELECT uniqExact(resolved_person_id) FROM touchpoints_resolved").Scan(&resolved); err != nil {
			return err
		}
		if err := conn.QueryRow(ctx, `SELECT count() FROM segment_members WHERE person_id IN
			(SELECT person_id FROM person_overrides FINAL WHERE surviving_person_id != '')`).Scan(&mergedMembers); err != nil {
			return err
		}
		members, err := table.Run(ctx, conn, segmentsExample(t, blocks).SQL)
		if err != nil {
			return err
		}
		if resolved != persons || mergedMembers != 0 || len(members.Rows) != 2 || members.Rows[0][0] == members.Rows[1][0] {
			return fmt.Errorf("%d resolved persons, %d members of segments merged into others, high-value members %v", resolved, mergedMembers, members.Rows)
		}
		return nil
	})
	before := runExamples(ctx, t, conn, blocks)
	for _, b := range blocks {
		if len(before[b.String()]) == 0 {
			t.Errorf("%s gives no rows on the test data: it would pass whatever it computes\n%s", b, b.SQL)
		}
	}
	storedBefore := storedPersons(ctx, t, conn)

	// Replay: the ingest group from the earliest offsets, in a later second
	// so that the rewritten rows replace the first ones.
	if err := ingest.Terminate(time.Minute); err != nil {
		t.Fatalf("ingest did not shut down cleanly: %v", err)
	}
	resetToEarliest(ctx, t, cfg)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	replayStart := time.Now().UTC().Truncate(time.Second)
	startIngest(t, cfgPath, log)
	waitCommitted(ctx, t, cfg)
	var replayed uint64
	if err := conn.QueryRow(ctx, "SELECT countIf(ingested_at >= ?) FROM touchpoints FINAL", replayStart).Scan(&replayed); err != nil {
		t.Fatal(err)
	}
	if want := uint64(journeyEvents(persons)); replayed != want {
		t.Fatalf("the replay rewrote %d of %d events", replayed, want)
	}
	if storedAfter := storedPersons(ctx, t, conn); storedAfter == storedBefore {
		t.Errorf("the replay left uniqExact(person_id) at %d: it did not re-resolve the stored persons", storedAfter)
	} else {
		t.Logf("uniqExact(person_id) went from %d to %d with the replay; the resolved persons stayed %d", storedBefore, storedAfter, persons)
	}

	after := runExamples(ctx, t, conn, blocks)
	for _, b := range blocks {
		if got, want := after[b.String()], before[b.String()]; !slices.Equal(got, want) {
			t.Errorf("%s changed with the replay:\nbefore: %v\nafter:  %v\n%s", b, want, got, b.SQL)
		}
	}
}

// journeyEvents is how many touchpoints publishJourneys publishes for n
// persons: six each, and a purchase for every other one.
func journeyEvents(n int) int { return 6*n + (n+1)/2 }

// publishJourneys publishes, for each of n persons, a journey across two
// devices on its own day of November 2026 (an ad click and a page view on
// device A, an email click and a cart on device B, a login on each with the
// customer id) and, for every other person, a purchase of 100, 300, 500,
// ... on device A; and spend for the paid search and email channels.
func publishJourneys(ctx context.Context, t *testing.T, cfg config.Config, n int) {
	t.Helper()
	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range n {
		day := time.Date(2026, 11, 3+i, 9, 0, 0, 0, time.UTC)
		a, b, c := fmt.Sprintf("device-a-%d", i), fmt.Sprintf("device-b-%d", i), fmt.Sprintf("cust-%d", i)
		events := []*touchpoint.Touchpoint{
			{EventType: "click", Channel: "paid_search", Campaign: "spring", Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": a})},
			{EventType: "email_click", Channel: "email", Campaign: "newsletter", Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": b})},
			{EventType: "page_view", Channel: "direct", Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": a})},
			{EventType: "add_to_cart", Channel: "direct", Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": b})},
			{EventType: "login", Channel: "direct", Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": b, "customer_id": c})},
			{EventType: "login", Channel: "direct", Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": a, "customer_id": c})},
		}
		if i%2 == 0 {
			revenue := touchpoint.Money((100 + 100*i) * 1_000_000)
			events = append(events, &touchpoint.Touchpoint{EventType: "purchase", Channel: "direct", Revenue: &revenue, Currency: "USD",
				Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": a, "customer_id": c})})
		}
		for k, e := range events {
			e.EventID = fmt.Sprintf("p%d-e%d", i, k)
			e.EventTime = day.Add(time.Duration(k) * 30 * time.Minute)
			if err := p.Touchpoint(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, ch := range []string{"paid_search", "email"} {
			if err := p.Spend(ctx, &touchpoint.Spend{Date: touchpoint.Day{Time: day.Truncate(24 * time.Hour)}, Channel: ch,
				Cost: touchpoint.Money(40_000_000), Currency: "USD", Source: "test"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// segmentsExample returns the SQL example of docs/segments.md.
func segmentsExample(t *testing.T, blocks []docsql.Block) docsql.Block {
	t.Helper()
	for _, b := range blocks {
		if b.File == filepath.Join("docs", "segments.md") && strings.Contains(b.SQL, "segment_members") {
			return b
		}
	}
	t.Fatal("docs/segments.md has no SQL example on segment_members")
	return docsql.Block{}
}

// runExamples runs every block and returns its rows, each rendered as text
// (floats to 10 significant digits, as their sums may be added up in any
// order), sorted.
func runExamples(ctx context.Context, t *testing.T, conn driver.Conn, blocks []docsql.Block) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, b := range blocks {
		res, err := table.Run(ctx, conn, b.SQL)
		if err != nil {
			t.Fatalf("%s does not run: %v\n%s", b, err, b.SQL)
		}
		var rows []string
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				if f, ok := v.(float64); ok && !math.IsNaN(f) {
					cells[i] = strconv.FormatFloat(f, 'g', 10, 64)
				} else {
					cells[i] = fmt.Sprint(v)
				}
			}
			rows = append(rows, strings.Join(cells, " | "))
		}
		slices.Sort(rows)
		out[b.String()] = rows
	}
	return out
}

// storedPersons counts the stored (unresolved) person ids, as the README's
// example used to.
func storedPersons(ctx context.Context, t *testing.T, conn driver.Conn) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(person_id) FROM touchpoints FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls check until it passes, failing the test with its last error
// when ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, check func() error) {
	t.Helper()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
