package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/segmentsref"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestClusterSegmentsMatchTheChangesTopic runs the segments service as a
// process with its ClickHouse on the cluster, on 16 customers' hand-made
// touchpoints (on two touchpoints partitions): from 10:00 on, customer i
// buys for 60 at 10:00 + i minutes and the even ones buy again for 50
// thirty seconds later; every customer views a page at 11:00 + i seconds,
// which moves the watermark (allowed lateness 10m) past every purchase.
// Worked out by hand with the reference definitions: the even customers,
// and they alone, enter big_spender (a revenue sum of at least 100) at
// their second purchase; nobody enters carts_no_buy (no cart), email_fan
// (no email click) or quiet (the watermark stays within 2h of the page
// views). The changes topic holds exactly these 8 entries; the cluster's
// segment_changes (the Distributed table, FINAL) equals it row for row;
// both replicas of each shard hold the same rows after SYSTEM SYNC
// REPLICA, and both shards hold some; and `touchline query
// segment-members` and `segments` answer what follows from the topic.
func TestClusterSegmentsMatchTheChangesTopic(t *testing.T) {
	c := theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	name := uniqueName(t)
	cfg := single.Config(name)
	cfg.ClickHouse = c.ClickHouseConfig(name)
	cfg.Segments.Partitions = 2
	cfg.Segments.IdleAdvance = time.Hour // historical event times: only the events move the watermarks
	cfg.Pipelines = t.TempDir()
	if err := segmentsref.WritePipelines(cfg.Pipelines, testenv.RepoRoot(), segmentsref.Definitions); err != nil {
		t.Fatal(err)
	}
	conn, err := testenv.Prepare(ctx, cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := pipeline{name: "cluster", cfg: cfg, path: filepath.Join(t.TempDir(), "touchline.yaml")}
	if err := testenv.WriteConfig(cfg, p.path); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "segments.log")
	svc, err := testenv.StartProcess(touchlineBin, log, "--config", p.path, "segments")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Kill)

	personOf, err := segmentsref.CustomerPersons(cfg.Pipelines, cfg.Identifiers.Pepper)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var want []segmentsref.Change
	send := func(customer, id, typ string, at time.Time, revenue touchpoint.Money) {
		t.Helper()
		tp := &touchpoint.Touchpoint{EventID: id, EventTime: at, EventType: typ, Channel: "direct",
			Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": customer})}
		if revenue != 0 {
			tp.Revenue, tp.Currency = &revenue, "USD"
		}
		if err := pub.Touchpoint(ctx, tp); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 16 {
		customer := fmt.Sprintf("cust-%02d", i)
		at := start.Add(time.Duration(i) * time.Minute)
		send(customer, customer+"-buy-1", "purchase", at, 60*touchpoint.MicrosPerUnit)
		if i%2 == 0 {
			send(customer, customer+"-buy-2", "purchase", at.Add(30*time.Second), 50*touchpoint.MicrosPerUnit)
			person, err := personOf(customer)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, segmentsref.Change{Person: person, Segment: "big_spender", Entered: true, At: at.Add(30 * time.Second)})
		}
	}
	for i := range 16 {
		customer := fmt.Sprintf("cust-%02d", i)
		send(customer, customer+"-view", "page_view", start.Add(time.Hour+time.Duration(i)*time.Second), 0)
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// Wait until the changes topic holds the hand-computed changes and the
	// cluster holds what the topic holds.
	var topic, stored []segmentsref.Change
	for {
		topic, stored = changesOnTopic(ctx, t, p), clusterChanges(ctx, t, p)
		if len(topic) >= len(want) && segmentsref.Diff(stored, topic, 0) == "" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the changes topic holds %d changes (want %d), the cluster %d; cluster against topic:\n%s",
				len(topic), len(want), len(stored), segmentsref.Diff(stored, topic, 20))
		case <-time.After(500 * time.Millisecond):
		}
	}
	if diff := segmentsref.Diff(topic, want, 0); diff != "" {
		t.Fatalf("the changes topic differs from the hand-computed changes:\n%s", diff)
	}
	time.Sleep(2 * time.Second) // nothing more may come
	if diff := segmentsref.Diff(clusterChanges(ctx, t, p), changesOnTopic(ctx, t, p), 0); diff != "" {
		t.Fatalf("the cluster's segment_changes differ from the changes topic:\n%s", diff)
	}

	// Every replica of a shard holds the same rows; the shards hold all of
	// them between them, and each some.
	synced(ctx, t, c, name)
	perShard := map[int][]segmentsref.Change{}
	for _, r := range c.Replicas() {
		rc, err := clickhouse.Open(ctx, r.Config(name), nil)
		if err != nil {
			t.Fatal(err)
		}
		rows := readChanges(ctx, t, rc, "segment_changes_local")
		rc.Close()
		if seen, ok := perShard[r.Shard]; ok {
			if diff := segmentsref.Diff(rows, seen, 0); diff != "" {
				t.Errorf("the replicas of shard %d differ (+ only on %s):\n%s", r.Shard, r.Server.Addr(), diff)
			}
		}
		perShard[r.Shard] = rows
	}
	var all []segmentsref.Change
	for shard, rows := range perShard {
		if len(rows) == 0 && len(perShard) > 1 {
			t.Errorf("shard %d holds no segment change", shard)
		}
		all = append(all, rows...)
	}
	if diff := segmentsref.Diff(all, want, 0); diff != "" {
		t.Errorf("the shards' segment_changes_local together differ from the hand-computed changes:\n%s", diff)
	}

	// The analyses of the members answer what follows from the topic.
	type member struct {
		PersonID string `json:"person_id"`
		Person   string `json:"person"`
		Since    string `json:"since"`
	}
	latest := map[[2]string]segmentsref.Change{}
	for _, ch := range topic {
		k := [2]string{ch.Segment, ch.Person}
		if prev, ok := latest[k]; !ok || ch.At.After(prev.At) {
			latest[k] = ch
		}
	}
	var members []member
	counts := map[string]int{}
	for k, ch := range latest {
		if ch.Entered {
			counts[k[0]]++
			if k[0] == "big_spender" {
				members = append(members, member{PersonID: ch.Person, Person: ch.Person, Since: ch.At.Format(time.DateTime)})
			}
		}
	}
	slices.SortFunc(members, func(a, b member) int {
		return cmp.Or(cmp.Compare(a.Since, b.Since), cmp.Compare(a.PersonID, b.PersonID))
	})
	var segmentCounts []map[string]any
	for _, s := range segmentsref.Segments {
		if counts[s] > 0 {
			segmentCounts = append(segmentCounts, map[string]any{"segment": s, "members": counts[s]})
		}
	}
	slices.SortFunc(segmentCounts, func(a, b map[string]any) int {
		return cmp.Compare(a["segment"].(string), b["segment"].(string))
	})
	for _, check := range []struct {
		args []string
		want any
	}{
		{[]string{"segment-members", "--segment", "big_spender"}, members},
		{[]string{"segments"}, segmentCounts},
	} {
		b, err := json.Marshal(check.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.query(ctx, t, check.args...); !sameJSON(t, got, string(b)) {
			t.Errorf("query %v on the cluster:\n%s\nwant (from the changes topic):\n%s", check.args, got, b)
		}
	}
	// By hand: customer 4 bought for 60 at 10:04:00 and for 50 at 10:04:30.
	person4, err := personOf("cust-04")
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(members, func(m member) bool { return m.PersonID == person4 }); i < 0 || members[i].Since != "2026-03-02 10:04:30" {
		t.Errorf("customer 4 is not a big spender since 10:04:30: %v", members)
	}
}

// changesOnTopic reads every committed change on the pipeline's segment
// changes topic.
func changesOnTopic(ctx context.Context, t *testing.T, p pipeline) []segmentsref.Change {
	t.Helper()
	var out []segmentsref.Change
	if err := segmentsref.ReadChanges(ctx, p.cfg.Kafka, func(_ int32, _ string, c segmentsref.Change) error {
		out = append(out, c)
		return nil
	}); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		// The service creates its changes topic when it starts: until then
		// the topic holds no changes.
		t.Fatal(err)
	}
	return out
}

// clusterChanges reads the pipeline's segment_changes, FINAL.
func clusterChanges(ctx context.Context, t *testing.T, p pipeline) []segmentsref.Change {
	t.Helper()
	conn, err := clickhouse.Open(ctx, p.cfg.ClickHouse, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return readChanges(ctx, t, conn, "segment_changes")
}

// readChanges reads a segment changes table of conn's database, FINAL.
func readChanges(ctx context.Context, t *testing.T, conn driver.Conn, tableName string) []segmentsref.Change {
	t.Helper()
	out, err := segmentsref.ReadStoredChanges(ctx, conn, tableName)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
