package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/test/testenv"
)

// clusterAlertRules fire on ctrDrops's data: email's, social's and sms's
// CTR drops, paid_search's never does.
const clusterAlertRules = `rules:
  - name: ctr-below-3pct
    description: a channel's click-through rate under 3% for two evaluations
    kpi: ctr
    scope: channel
    window: 30m
    every: 10m
    threshold: {below: 0.03}
    min_volume: 100
    for: 2
    severity: critical
    cooldown: 2h
    message: 'CTR of {{.Channel}} is {{percent .Value}}'
`

// ctrDrops returns 100 impressions and 5 clicks (CTR 5%) per channel and
// 10 minutes from 09:00 to 13:30 on day, each by a person of its own, except
// in the drops: 1 click in email's buckets from 10:00 to 11:00, in social's
// from 11:30 to 12:00 and in sms's from 12:30 to 13:00.
func ctrDrops(day time.Time) []clickhouse.TouchpointRow {
	drops := map[string][2]time.Duration{"email": {10 * time.Hour, 11 * time.Hour}, "social": {11*time.Hour + 30*time.Minute, 12 * time.Hour},
		"sms": {12*time.Hour + 30*time.Minute, 13 * time.Hour}}
	var rows []clickhouse.TouchpointRow
	row := func(id, typ, channel string, at time.Time) clickhouse.TouchpointRow {
		return clickhouse.TouchpointRow{EventID: id, EventType: typ, Channel: channel, Campaign: "c", EventTime: at,
			PersonID: "p_" + id, IngestedAt: day}
	}
	for _, channel := range []string{"email", "paid_search", "social", "sms"} {
		for b := 9 * time.Hour; b < 13*time.Hour+30*time.Minute; b += 10 * time.Minute {
			clicks := 5
			if d, ok := drops[channel]; ok && b >= d[0] && b < d[1] {
				clicks = 1
			}
			for i := range 100 {
				rows = append(rows, row(fmt.Sprintf("%s-%d-i%d", channel, b/time.Minute, i), "impression", channel, day.Add(b+time.Duration(i)*time.Second)))
			}
			for i := range clicks {
				rows = append(rows, row(fmt.Sprintf("%s-%d-c%d", channel, b/time.Minute, i), "click", channel, day.Add(b+time.Duration(i)*time.Second)))
			}
		}
	}
	return rows
}

// sentList collects notifications across restarts of an engine.
type sentList struct{ sent []rules.Notification }

func (s *sentList) Name() string { return "recording" }

func (s *sentList) Send(_ context.Context, n *rules.Notification) error {
	s.sent = append(s.sent, *n)
	return nil
}

// alertsTarget is one database the alerts service runs on: on the lone
// server or on the cluster.
type alertsTarget struct {
	pipeline
	sink *sentList
}

// TestClusterAlertsMatchOneServer runs the alerts service's engine (as
// `touchline alerts` builds it) on the same touchpoints, written twice as a
// replay would, in a database on the lone server and in one on the
// cluster, evaluating a CTR rule every 10 minutes from 09:30 to 13:30, and
// restarting both services at 10:50, mid-incident.
// Worked out by hand (window 30m, below 3%, for 2): a window with two of its
// three buckets in a drop has 7 clicks in 300 impressions (2.3%), one with
// one 11 (3.7%). Email breaches from 10:20 to 11:10: fires at 10:30,
// resolves at 11:20; social breaches from 11:50 to 12:10: fires at 12:00,
// resolves at 12:20; sms breaches from 12:50 to 13:10: fires at 13:00,
// resolves at 13:20. Both sinks get exactly these six notifications, once
// each across the restart, and alert_states, alert_notifications and the
// alert-state and alert-history analyses are the same on both, row for
// row.
func TestClusterAlertsMatchOneServer(t *testing.T) {
	c := theCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := uniqueName(t)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	set, err := rules.ParseRules("alerts.yaml", []byte(clusterAlertRules))
	if err != nil {
		t.Fatal(err)
	}
	var targets []*alertsTarget
	for _, onCluster := range []bool{false, true} {
		cfg, label := single.Config(name), "one"
		if onCluster {
			cfg.ClickHouse, label = c.ClickHouseConfig(name), "cluster"
		}
		if _, err := clickhouse.Migrate(ctx, cfg.ClickHouse, zap.NewNop()); err != nil {
			t.Fatalf("%s: migrating: %v", label, err)
		}
		conn, err := clickhouse.Open(ctx, cfg.ClickHouse, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		for range 2 {
			if err := clickhouse.InsertTouchpoints(ctx, conn, ctrDrops(day)); err != nil {
				t.Fatalf("%s: %v", label, err)
			}
		}
		p := pipeline{name: label, cfg: cfg, path: filepath.Join(t.TempDir(), "touchline.yaml")}
		if err := testenv.WriteConfig(cfg, p.path); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, &alertsTarget{pipeline: p, sink: &sentList{}})
	}
	synced(ctx, t, c, name)

	engines := make([]*alerts.Engine, len(targets))
	start := func() {
		for i, tg := range targets {
			conn, err := clickhouse.Open(ctx, tg.cfg.ClickHouse, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			e, err := alertscmd.NewEngine(ctx, tg.cfg, conn, set, []alerts.Sink{tg.sink}, alerts.NewMetrics(prometheus.NewRegistry()), zaptest.NewLogger(t))
			if err != nil {
				t.Fatalf("%s: starting the alerts engine: %v", tg.name, err)
			}
			engines[i] = e
		}
	}
	start()
	for at := day.Add(9*time.Hour + 30*time.Minute); !at.After(day.Add(13*time.Hour + 30*time.Minute)); at = at.Add(10 * time.Minute) {
		if at.Equal(day.Add(10*time.Hour + 50*time.Minute)) {
			start() // a restart while email's incident fires
		}
		for i, e := range engines {
			if err := e.Step(ctx, at); err != nil {
				t.Fatalf("%s: step at %s: %v", targets[i].name, at.Format(time.TimeOnly), err)
			}
		}
	}

	want := "firing email 10:30, resolved email 11:20, firing social 12:00, resolved social 12:20, firing sms 13:00, resolved sms 13:20"
	for _, tg := range targets {
		var got []string
		for _, n := range tg.sink.sent {
			got = append(got, fmt.Sprintf("%s %s %s", n.Status, n.Channel, n.At.Format("15:04")))
		}
		if strings.Join(got, ", ") != want {
			t.Errorf("%s: the sink got %v, want %s", tg.name, got, want)
		}
	}
	one, many := targets[0].pipeline, targets[1].pipeline
	synced(ctx, t, c, name)
	for _, sql := range []string{
		`SELECT rule, group_key, channel, campaign, status, streak, incident, pending_since, fired_at, resolved_at,
			evaluated_at, value, defined, outbox FROM alert_states FINAL ORDER BY rule, group_key`,
		`SELECT * FROM alert_notifications FINAL ORDER BY notified_at, idempotency_key`,
		`SELECT count(), uniqExact(idempotency_key) FROM alert_notifications`,
	} {
		a, b := dump(ctx, t, one, sql), dump(ctx, t, many, sql)
		if !sameJSON(t, a, b) {
			t.Errorf("%s differs: %s", sql, firstDifference(a, b))
		}
	}
	if got := dump(ctx, t, many, "SELECT count(), uniqExact(idempotency_key) FROM alert_notifications"); got != `[[6,6]]` {
		t.Errorf("the cluster's alert_notifications, without FINAL, hold %s rows and keys, want 6 and 6", got)
	}
	if got := dump(ctx, t, many, "SELECT channel, status FROM alert_states FINAL ORDER BY channel"); got != `[["email","ok"],["sms","ok"],["social","ok"]]` {
		t.Errorf("the cluster's alert states: %s, want email, sms and social, all ok", got)
	}
	// The three groups' states lie on more than one shard (sharded by rule
	// and group), both replicas of a shard alike: the comparisons above
	// read FINAL across shards.
	perShard := map[int]uint64{}
	for _, r := range c.Replicas() {
		var n uint64
		rc, err := clickhouse.Open(ctx, r.Config(name), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.QueryRow(ctx, "SELECT count() FROM alert_states_local FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if seen, ok := perShard[r.Shard]; ok && seen != n {
			t.Errorf("the replicas of shard %d hold %d and %d alert states", r.Shard, seen, n)
		}
		perShard[r.Shard] = n
	}
	var total uint64
	holding := 0
	for _, n := range perShard {
		total += n
		if n > 0 {
			holding++
		}
	}
	if total != 3 || holding < min(2, len(perShard)) {
		t.Errorf("alert states per shard: %v, want 3 in all, on more than one shard", perShard)
	}
	for _, q := range [][]string{{"alert-state"}, {"alert-history", "--from", "2026-03-01", "--to", "2026-03-03"}} {
		a, b := one.query(ctx, t, q...), many.query(ctx, t, q...)
		if !sameJSON(t, a, b) {
			t.Errorf("query %v differs:\none server: %.2000s\ncluster:    %.2000s", q, a, b)
		} else if len(a) < 100 {
			t.Errorf("query %v answers almost nothing (%q): the comparison proves little", q, a)
		}
	}
}
