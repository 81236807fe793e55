package integration

import (
	"context"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// TestSpendRestatements publishes spend, restates some of it, and replays the
// whole topic: the spend table holds the latest value of every key, and an
// unknown channel goes to the dead-letter topic.
func TestSpendRestatements(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 3, nil)
	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	day := touchpoint.DayOf(time.Now().Add(-48 * time.Hour))
	prev := touchpoint.DayOf(day.AddDate(0, 0, -1))
	clicks := int64(40)
	spend := func(d touchpoint.Day, channel, campaign, source string, cost touchpoint.Money) *touchpoint.Spend {
		return &touchpoint.Spend{Date: d, Channel: channel, Campaign: campaign, Cost: cost, Currency: "USD", Source: source, Clicks: &clicks}
	}
	for _, s := range []*touchpoint.Spend{
		spend(day, "paid_search", "brand", "google_ads", 100_000_000),
		spend(day, "paid_social", "spring", "meta_ads", 50_000_000),
		spend(prev, "paid_search", "brand", "google_ads", 80_000_000),
		spend(day, "paid_search", "brand", "google_ads", 120_500_000), // restates 100
		spend(day, "Paid Search", "brand", "google_ads", 130_000_000), // an alias: restates again
		spend(day, "telepathy", "x", "psychic_ads", 1_000_000),        // unknown channel
	} {
		if err := p.Spend(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Hand-computed: the latest value of each key, in micros.
	want := map[string]int64{
		day.String() + "|paid_search|brand|google_ads":  130_000_000,
		day.String() + "|paid_social|spring|meta_ads":   50_000_000,
		prev.String() + "|paid_search|brand|google_ads": 80_000_000,
	}
	check := func(stage string) {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT toString(date), channel, campaign, source, cost, clicks FROM spend FINAL ORDER BY date, channel")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]int64{}
		for rows.Next() {
			var (
				d, ch, camp, src string
				cost             int64
				c                *int64
			)
			if err := rows.Scan(&d, &ch, &camp, &src, &cost, &c); err != nil {
				t.Fatal(err)
			}
			if c == nil || *c != clicks {
				t.Errorf("%s: clicks %v, want %d", stage, c, clicks)
			}
			got[d+"|"+ch+"|"+camp+"|"+src] = cost
		}
		if len(got) != len(want) {
			t.Fatalf("%s: spend rows %v, want %v", stage, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: %s = %d, want %d (all: %v)", stage, k, got[k], v, got)
			}
		}
	}
	proc := startIngest(t, cfgPath, logPath(t))
	waitCommitted(ctx, t, cfg)
	check("first pass")
	dead := readDeadLetters(ctx, t, cfg, 1)
	for _, r := range dead {
		if header(r, ingest.HeaderReason) != string(touchpoint.ReasonInvalidField) || header(r, ingest.HeaderSourceTopic) != cfg.Kafka.Topics.Spend {
			t.Fatalf("unknown channel dead letter: %v", r.Headers)
		}
	}
	if err := proc.Terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
	resetToEarliest(ctx, t, cfg)
	proc = startIngest(t, cfgPath, logPath(t))
	waitCommitted(ctx, t, cfg)
	check("after replay")
	if err := proc.Terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
}
