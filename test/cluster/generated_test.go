package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/test/testenv"
)

// generatedEvents is how many generated touchpoints
// TestClusterGeneratedRunMatchesOneServer ingests: TOUCHLINE_CLUSTER_EVENTS
// (make test-cluster sets 200,000), else 20,000.
func generatedEvents(t *testing.T) int {
	if s := os.Getenv("TOUCHLINE_CLUSTER_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			t.Fatalf("TOUCHLINE_CLUSTER_EVENTS=%q: want a number of at least 1000", s)
		}
		return n
	}
	return 20_000
}

// pipeline is one run of the identity resolver and the ingest service, into
// one server or into the cluster.
type pipeline struct {
	name string
	cfg  config.Config
	path string
}

// startPipelines prepares the topics, a database on the lone server and one
// on the cluster, runs a resolver and an ingest service for each as
// processes until the test ends, and publishes n generated touchpoints and
// their spend. The two pipelines share every topic and have groups of their
// own: both ingest services read the same records, and both resolvers apply
// the same link requests (both ingests send theirs to the one links
// partition) in the same order, so their identity decisions are the same.
func startPipelines(ctx context.Context, t *testing.T, n int) (one, many pipeline) {
	t.Helper()
	name := uniqueName(t)
	base := single.Config(name)
	base.Ingest.BatchSize = 5000
	var out []pipeline
	for _, onCluster := range []bool{false, true} {
		cfg, label := base, "one"
		if onCluster {
			label = "cluster"
			cfg.ClickHouse = cluster.ClickHouseConfig(base.ClickHouse.Database)
			cfg.Ingest.Group, cfg.Identity.Group = name+".cluster.ingest", name+".cluster.identity"
			cfg.StateDir += "-cluster"
		}
		conn, err := testenv.Prepare(ctx, cfg, 4)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		conn.Close()
		p := pipeline{name: label, cfg: cfg, path: filepath.Join(t.TempDir(), "touchline.yaml")}
		if err := testenv.WriteConfig(cfg, p.path); err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(t.TempDir(), label+".log")
		t.Cleanup(func() {
			if t.Failed() {
				if b, err := os.ReadFile(log); err == nil {
					t.Logf("%s log tail:\n%s", label, b[max(0, len(b)-8000):])
				}
			}
		})
		for _, args := range [][]string{{"--config", p.path, "identity"}, {"--config", p.path, "ingest"}} {
			proc, err := testenv.StartProcess(touchlineBin, log, args...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(proc.Kill)
		}
		out = append(out, p)
	}
	if _, err := testenv.PublishGenerated(ctx, base, n, 7, 0, nil); err != nil {
		t.Fatal(err)
	}
	return out[0], out[1]
}

// settled waits until ingest has committed every touchpoint and spend
// record and the resolver every link request.
func (p pipeline) settled(ctx context.Context, t *testing.T) {
	t.Helper()
	waitCommitted(ctx, t, p.cfg, p.cfg.Ingest.Group, p.cfg.Kafka.Topics.Touchpoints, p.cfg.Kafka.Topics.Spend)
	waitCommitted(ctx, t, p.cfg, p.cfg.Identity.Group, p.cfg.Kafka.Topics.IdentityLinks)
}

// waitCommitted waits until group has committed the end offset of every
// partition of topics.
func waitCommitted(ctx context.Context, t *testing.T, cfg config.Config, group string, topics ...string) {
	t.Helper()
	if err := testenv.WaitCommitted(ctx, cfg, group, topics...); err != nil {
		t.Fatal(err)
	}
}

// query runs `touchline query args... --format json` on the pipeline's
// database and returns its output.
func (p pipeline) query(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, touchlineBin, append([]string{"--config", p.path, "query"}, append(args, "--format", "json")...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: touchline query %v: %v\n%s", p.name, args, err, stderr.String())
	}
	return string(out)
}

// TestClusterGeneratedRunMatchesOneServer publishes generated traffic and
// runs two pipelines of the identity resolver and the ingest service on it:
// one writes to a lone ClickHouse server, the other to the cluster. Once both have committed everything,
// every analysis (funnel, attribution with every model, ROMI, cohorts,
// overview, the channel KPIs view) and the identity tables are identical,
// to the last row, and so are the touchpoint totals, which match the
// generated traffic.
func TestClusterGeneratedRunMatchesOneServer(t *testing.T) {
	theCluster(t)
	n := generatedEvents(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	one, many := startPipelines(ctx, t, n)
	one.settled(ctx, t)
	many.settled(ctx, t)
	// Each ingest's link requests reach both resolvers: wait again.
	one.settled(ctx, t)
	synced(ctx, t, cluster, many.cfg.ClickHouse.Database)

	from := time.Now().UTC().AddDate(0, 0, -40).Format("2006-01-02")
	var queries [][]string
	for _, model := range []string{"first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay"} {
		queries = append(queries, []string{"attribution", "--model", model, "--lookback", "30d", "--from", from},
			[]string{"romi", "--model", model, "--by-campaign", "--from", from})
	}
	queries = append(queries,
		[]string{"funnel", "--steps", "page_view,purchase", "--window", "1d", "--breakdown", "channel", "--from", from},
		[]string{"cohort", "--period", "week", "--periods", "6", "--from", from},
		[]string{"cohort", "--period", "day", "--periods", "10", "--by", "first_seen", "--activity", "any", "--by-channel", "--from", from},
		[]string{"overview", "--from", from},
		[]string{"overview", "--by-day", "--from", from})
	for _, q := range queries {
		a, b := one.query(ctx, t, q...), many.query(ctx, t, q...)
		if !sameJSON(t, a, b) {
			t.Errorf("query %v differs:\none server: %.2000s\ncluster:    %.2000s", q, a, b)
		} else if len(a) < 100 {
			t.Errorf("query %v answers almost nothing (%q): the comparison proves little", q, a)
		}
	}
	for _, sql := range []string{
		"SELECT count(), sum(revenue) FROM touchpoints FINAL",
		"SELECT * FROM channel_kpis ORDER BY date, channel, campaign",
		"SELECT * FROM channel_money ORDER BY date, channel, campaign, currency",
		"SELECT date, channel, campaign, source, cost, currency, impressions, clicks FROM spend_current ORDER BY date, channel, campaign, source",
		"SELECT identifier_type, identifier_value, person_id FROM identity_map FINAL ORDER BY identifier_type, identifier_value",
		"SELECT person_id, surviving_person_id FROM person_overrides FINAL ORDER BY person_id",
		"SELECT merged_person_id, surviving_person_id FROM identity_merges FINAL ORDER BY merged_person_id, surviving_person_id",
		"SELECT resolved_person_id, count() FROM touchpoints_resolved GROUP BY resolved_person_id ORDER BY resolved_person_id",
	} {
		a, b := dump(ctx, t, one, sql), dump(ctx, t, many, sql)
		if !sameJSON(t, a, b) {
			t.Errorf("%s differs: %s", sql, firstDifference(a, b))
		}
	}
	var rows uint64
	conn, err := clickhouse.Open(ctx, many.cfg.ClickHouse, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.QueryRow(ctx, "SELECT count() FROM touchpoints FINAL").Scan(&rows); err != nil || rows != uint64(n) {
		t.Errorf("the cluster holds %d touchpoints (%v), want %d", rows, err, n)
	}
}

// dump runs sql on the pipeline's database and returns its rows as JSON.
func dump(ctx context.Context, t *testing.T, p pipeline, sql string) string {
	t.Helper()
	conn, err := clickhouse.Open(ctx, p.cfg.ClickHouse, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := table.Run(ctx, conn, sql)
	if err != nil {
		t.Fatalf("%s: %s: %v", p.name, sql, err)
	}
	b, err := json.Marshal(res.Rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstDifference describes where two JSON arrays of rows part.
func firstDifference(a, b string) string {
	var x, y []any
	_ = json.Unmarshal([]byte(a), &x)
	_ = json.Unmarshal([]byte(b), &y)
	for i := range min(len(x), len(y)) {
		if !closeEnough(x[i], y[i]) {
			return fmt.Sprintf("%d and %d rows; row %d is %v on one server, %v on the cluster", len(x), len(y), i, x[i], y[i])
		}
	}
	return fmt.Sprintf("%d rows on one server, %d on the cluster", len(x), len(y))
}

// sameJSON reports whether two JSON documents are equal, numbers within a
// relative 1e-9: a sum of floating-point numbers (attribution credits) is
// added up in another order when the shards' partial sums are merged, which
// changes its last binary digits and nothing else.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%v: %.200s", err, a)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%v: %.200s", err, b)
	}
	return closeEnough(x, y)
}

func closeEnough(x, y any) bool {
	switch x := x.(type) {
	case float64:
		y, ok := y.(float64)
		return ok && math.Abs(x-y) <= 1e-9*math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
	case []any:
		y, ok := y.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !closeEnough(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := y.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !closeEnough(v, y[k]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(x, y)
}
