package integration

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// costlySetup prepares a one-partition segments service's config with the
// given definitions, metrics on a port of their own and ingest limits that
// let fields of up to maxField bytes through, and returns the config, its
// file and the metrics URL.
func costlySetup(ctx context.Context, t *testing.T, definitions string, maxField int) (config.Config, string, string) {
	t.Helper()
	port := freePort(t)
	cfg, _, cfgPath := setup(ctx, t, 1, func(c *config.Config) {
		c.Segments.Partitions = 1
		c.Segments.IdleAdvance = 500 * time.Millisecond
		c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	})
	cfg.Pipelines = segmentsPipelines(t, definitions)
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	limits := fmt.Sprintf("ingest:\n  limits:\n    max_field_bytes: %d\n", maxField)
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(b), "ingest:\n", limits, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, cfgPath, fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
}

// publishViews publishes one page_view per customer, a second apart from
// at, with the property path.
func publishViews(ctx context.Context, t *testing.T, cfg config.Config, at time.Time, customers, paths []string) {
	t.Helper()
	pub, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for i, c := range customers {
		if err := pub.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: "view-" + c, EventTime: at.Add(time.Duration(i) * time.Second),
			EventType: "page_view", Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": c}), Properties: touchpoint.AttrsOf(map[string]string{"path": paths[i]})}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitMetric waits until the metrics at url contain line.
func waitMetric(ctx context.Context, t *testing.T, url, line string) {
	t.Helper()
	for !strings.Contains(scrape(url), line) {
		select {
		case <-ctx.Done():
			t.Fatalf("no %q in the metrics:\n%s", line, scrape(url))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestSegmentsSkipsAnEvaluationPastItsCost runs a condition whose estimate
// fits max_cost, as it assumes fields of at most the default 8192 bytes,
// in a deployment that lets a 100,000-byte property through: the
// evaluation of that person's condition is stopped at max_cost and counted,
// her other segment and the persons before and after her are decided as
// usual, and the service stays up.
func TestSegmentsSkipsAnEvaluationPastItsCost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, cfgPath, metrics := costlySetup(ctx, t, `allowed_lateness: 1s
segments:
  - name: checkout_viewers
    when: last("page_view", "path").matches("checkout-[0-9]+-done")
  - name: viewers
    when: count("page_view") > 0
`, 200_000)
	p := startSegments(t, cfgPath, logPath(t))
	customers := []string{"before", "long", "after"}
	publishViews(ctx, t, cfg, time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond), customers,
		[]string{"/checkout-1-done", "/checkout-2-done?" + strings.Repeat("x", 100_000), "/checkout-3-done"})
	waitMetric(ctx, t, metrics, `touchline_segments_aborted_evaluations_total{expression="checkout_viewers",reason="max_cost"} 1`+"\n")
	waitMetric(ctx, t, metrics, "touchline_segments_changes_total 5\n")
	var got []string
	for _, c := range readChanges(ctx, t, cfg) {
		for _, name := range customers {
			if c.Person == customerPerson(t, cfg, name) {
				got = append(got, fmt.Sprintf("%s %s %v", name, c.Segment, c.Entered))
			}
		}
	}
	sort.Strings(got)
	want := []string{"after checkout_viewers true", "after viewers true", "before checkout_viewers true", "before viewers true", "long viewers true"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("changes %v, want %v", got, want)
	}
	if err := p.Terminate(30 * time.Second); err != nil {
		t.Errorf("the service after the stopped evaluation: %v", err)
	}
}

// TestSegmentsRefusesCostlyDefinitionsAtStart starts the service on a
// condition of two nested all() over 300 elements: it must exit at once,
// naming the file, the line and the estimate.
func TestSegmentsRefusesCostlyDefinitionsAtStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list := "[" + strings.Repeat("1, ", 299) + "1]"
	_, cfgPath, _ := costlySetup(ctx, t, "segments:\n  - name: nested\n    when: |\n      "+list+".all(x, "+list+".all(y, x + y > 0))\n", 8192)
	out, err := runTouchline(ctx, "--config", cfgPath, "segments")
	if err == nil || !strings.Contains(out, "segments.yaml:3: segment \"nested\": its evaluation may cost up to 634211, above max_cost 10000") {
		t.Errorf("the service on a costly condition: %v\n%s", err, out)
	}
}

// TestSegmentsStopsOnSigtermDuringCostlyEvaluations admits, with a raised
// max_cost, a condition that takes seconds per person (three nested loops
// over 300 elements), sends SIGTERM while the service evaluates it, and
// wants the process gone within compose's 10 s grace period, with exit
// status 0 and nothing committed for the interrupted batch.
func TestSegmentsStopsOnSigtermDuringCostlyEvaluations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	items := make([]string, 300)
	for i := range items {
		items[i] = fmt.Sprint(i + 1)
	}
	list := "[" + strings.Join(items, ", ") + "]"
	cfg, cfgPath, metrics := costlySetup(ctx, t, `allowed_lateness: 1s
max_cost: 1000000000
segments:
  - name: slow
    when: |
      count("page_view") > 0 && `+list+`.all(x, `+list+`.all(y, `+list+`.all(z, x + y + z > 0)))
`, 8192)
	p := startSegments(t, cfgPath, logPath(t))
	customers := []string{"c1", "c2", "c3", "c4", "c5"}
	publishViews(ctx, t, cfg, time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond), customers, []string{"/", "/", "/", "/", "/"})
	waitMetric(ctx, t, metrics, `touchline_segments_routed_total{kind="event"} 5`+"\n")
	// The stage reads the five inputs and, the second releasing the first
	// through the watermark, evaluates: each evaluation takes seconds.
	time.Sleep(3 * time.Second)
	if strings.Contains(scrape(metrics), "touchline_segments_changes_total 5\n") {
		t.Fatal("every evaluation finished before SIGTERM; the test needs them slow")
	}
	start := time.Now()
	if err := p.Terminate(10 * time.Second); err != nil {
		t.Fatalf("SIGTERM during costly evaluations: %v", err)
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}
