package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/test/testenv"
)

// flakyWebhook answers 500 to its first `failures` requests, then 200, and
// records what it accepted by idempotency key.
type flakyWebhook struct {
	mu       sync.Mutex
	failures int
	attempts map[string]int
	accepted []rules.Notification
}

func (w *flakyWebhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var n rules.Notification
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil || n.Key != r.Header.Get("Idempotency-Key") {
		http.Error(rw, "bad notification", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.attempts[n.Key]++
	if w.failures > 0 {
		w.failures--
		http.Error(rw, "try later", http.StatusInternalServerError)
		return
	}
	for _, a := range w.accepted {
		if a.Key == n.Key { // a receiver deduplicates by key; the test wants none
			rw.WriteHeader(http.StatusOK)
			return
		}
	}
	w.accepted = append(w.accepted, n)
	rw.WriteHeader(http.StatusOK)
}

// ctrFixture: three channels with 100 impressions and 5 clicks (CTR 5%)
// per 10 minutes from 09:00 to 16:00 on 2026-03-02, except email, which
// gets 1 click (CTR 1%) in the buckets of three drops.
func ctrFixture(day time.Time) []clickhouse.TouchpointRow {
	drops := []struct{ from, to time.Duration }{
		{11 * time.Hour, 12 * time.Hour},
		{12*time.Hour + 40*time.Minute, 13*time.Hour + 10*time.Minute},
		{14*time.Hour + 30*time.Minute, 15*time.Hour + 10*time.Minute},
	}
	var rows []clickhouse.TouchpointRow
	for _, channel := range []string{"email", "paid_search", "social"} {
		for b := 9 * time.Hour; b < 16*time.Hour; b += 10 * time.Minute {
			clicks := 5
			for _, d := range drops {
				if channel == "email" && b >= d.from && b < d.to {
					clicks = 1
				}
			}
			for i := 0; i < 100; i++ {
				rows = append(rows, fixtureRow(fmt.Sprintf("%s-%d-i%d", channel, b/time.Minute, i), "impression", channel, day.Add(b+time.Duration(i)*time.Second)))
			}
			for i := 0; i < clicks; i++ {
				rows = append(rows, fixtureRow(fmt.Sprintf("%s-%d-c%d", channel, b/time.Minute, i), "click", channel, day.Add(b+time.Duration(i)*time.Second)))
			}
		}
	}
	return rows
}

func fixtureRow(id, typ, channel string, at time.Time) clickhouse.TouchpointRow {
	return clickhouse.TouchpointRow{EventID: id, EventType: typ, Channel: channel, Campaign: "c", EventTime: at,
		PersonID: "p_" + id, IngestedAt: time.Now().UTC().Truncate(time.Second)}
}

const ctrRule = `rules:
  - name: ctr-low
    kpi: ctr
    scope: channel
    window: 30m
    every: 10m
    threshold: {below: 0.03}
    min_volume: 100
    for: 3
    severity: critical
    cooldown: 2h
    labels: {team: growth}
    message: 'CTR of {{.Channel}} is {{percent .Value}}'
`

// TestAlertsFireOnceResolveAndSurviveRestarts evaluates a CTR rule every
// 10 minutes over a day with three drops of email's CTR, on real ClickHouse
// and Kafka, with a webhook that fails twice and a restart mid-incident.
// Worked out by hand from the fixture (window 30m, for 3, cooldown 2h):
//   - drop 1 (11:00-12:00): windows ending 11:20, 11:30, 11:40 breach: fires
//     at 11:40; the window ending 12:20 holds two healthy buckets: resolves.
//   - drop 2 (12:40-13:10): breaches at 13:00, 13:10 and 13:20, but the
//     cooldown lasts until 14:20: nothing is sent, and 13:30 clears it.
//   - drop 3 (14:30-15:10): fires at 15:10, resolves at 15:30.
func TestAlertsFireOnceResolveAndSurviveRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 1, nil)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if err := clickhouse.InsertTouchpoints(ctx, conn, ctrFixture(day)); err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(t.TempDir(), "alerts.yaml")
	if err := os.WriteFile(rulesPath, []byte(ctrRule), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := rules.LoadRulesFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	hook := &flakyWebhook{failures: 2, attempts: map[string]int{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	cfg.Alerts.Webhooks = []alerts.WebhookConfig{{Name: "ops", URL: srv.URL}}
	cfg.Alerts.RetryBackoff, cfg.Alerts.RetryBackoffMax = 10*time.Millisecond, 50*time.Millisecond
	cl := alertsClient(ctx, t, cfg)
	newEngine := func() *alerts.Engine {
		sinks := []alerts.Sink{alerts.NewWebhooks(cfg.Alerts)[0], alertTopic(ctx, t, cfg, cl)}
		e, err := alertscmd.NewEngine(ctx, cfg, conn, set, sinks, alerts.NewMetrics(prometheus.NewRegistry()), zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	engine := newEngine()
	for at := day.Add(10 * time.Hour); !at.After(day.Add(15*time.Hour + 40*time.Minute)); at = at.Add(10 * time.Minute) {
		if at.Equal(day.Add(11*time.Hour + 50*time.Minute)) {
			// Mid-incident: list it, dry-run the next evaluation, restart.
			checkAlertsCLI(ctx, t, cfgPath, rulesPath, at)
			engine = newEngine()
		}
		if err := engine.Step(ctx, at); err != nil {
			t.Fatalf("step at %s: %v", at.Format(time.TimeOnly), err)
		}
	}

	want := []string{"firing email 11:40", "resolved email 12:20", "firing email 15:10", "resolved email 15:30"}
	var got []string
	for _, n := range hook.accepted {
		got = append(got, fmt.Sprintf("%s %s %s", n.Status, n.Channel, n.At.Format("15:04")))
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("webhook accepted %v, want %v", got, want)
	}
	first := hook.accepted[0]
	if hook.attempts[first.Key] != 3 || first.Message != "CTR of email is 1.00%" || first.Labels["team"] != "growth" ||
		first.Severity != "critical" || hook.accepted[1].Incident != first.Incident || hook.accepted[2].Incident == first.Incident {
		t.Errorf("first notification %+v after %d attempts", first, hook.attempts[first.Key])
	}
	for key, n := range hook.attempts {
		if key != first.Key && n != 1 {
			t.Errorf("%s was posted %d times", key, n)
		}
	}
	checkAlertTopic(ctx, t, cfg, hook.accepted)
	var history uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM alert_notifications FINAL").Scan(&history); err != nil || history != 4 {
		t.Errorf("alert_notifications holds %d rows (%v), want 4", history, err)
	}
	states, err := alerts.NewStore(conn).States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Status != alerts.StatusOK || len(s.Outbox) > 0 {
			t.Errorf("state at the end: %+v", s)
		}
	}
}

// checkAlertsCLI runs `touchline alerts list` and `alerts eval` while
// email's first incident fires.
func checkAlertsCLI(ctx context.Context, t *testing.T, cfgPath, rulesPath string, at time.Time) {
	t.Helper()
	run := func(args ...string) []map[string]any {
		out, err := exec.CommandContext(ctx, touchlineBin, append(append([]string{"--config", cfgPath, "alerts"}, args...), "--format", "json")...).Output()
		if err != nil {
			t.Fatalf("touchline alerts %v: %v\n%s", args, err, stderrOf(err))
		}
		var rows []map[string]any
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("touchline alerts %v printed %s: %v", args, out, err)
		}
		return rows
	}
	list := run("list")
	if len(list) != 1 || list[0]["channel"] != "email" || list[0]["status"] != "firing" || list[0]["undelivered"] != 0.0 {
		t.Errorf("alerts list: %v", list)
	}
	eval := run("eval", "--rules", rulesPath, "--at", at.Format(time.RFC3339))
	if len(eval) != 3 {
		t.Fatalf("alerts eval: %v", eval)
	}
	for _, row := range eval {
		wantAfter, wantBreach := "ok", 0.0
		if row["channel"] == "email" {
			wantAfter, wantBreach = "firing", 1.0
		}
		if row["after"] != wantAfter || row["breach"] != wantBreach || row["sends"] != "" {
			t.Errorf("alerts eval row %v", row)
		}
	}
}

// checkAlertTopic reads the alerts topic: one Avro record per notification,
// keyed by incident, in order.
func checkAlertTopic(ctx context.Context, t *testing.T, cfg config.Config, want []rules.Notification) {
	t.Helper()
	got := readAlertTopic(ctx, t, cfg, len(want))
	for i, rec := range got {
		if rec["idempotency_key"] != want[i].Key || rec["status"] != want[i].Status ||
			rec["channel"].(map[string]any)["string"] != "email" || math.Abs(rec["value"].(float64)-want[i].Value) > 1e-12 {
			t.Errorf("alert record %d: %v, want %+v", i, rec, want[i])
		}
	}
}

// alertsClient returns a Kafka client of cfg, closed when the test ends,
// once the alerts topic exists.
func alertsClient(ctx context.Context, t *testing.T, cfg config.Config) *kgo.Client {
	t.Helper()
	cl, err := kafka.NewClient(cfg.Kafka, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := kafka.EnsureTopics(ctx, cl, 1, 1, cfg.Kafka.Topics.Alerts); err != nil {
		t.Fatal(err)
	}
	return cl
}

// alertTopic returns the alerts topic sink of cfg, producing through cl.
func alertTopic(ctx context.Context, t *testing.T, cfg config.Config, cl *kgo.Client) *alerts.Topic {
	t.Helper()
	reg, err := kafka.NewRegistry(cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := alerts.NewTopic(ctx, cl, reg, cfg.Kafka.Topics.Alerts)
	if err != nil {
		t.Fatal(err)
	}
	return topic
}

// readAlertTopic reads n Alert records from the start of the alerts topic,
// decoded with their writer's schema, and checks that each is keyed by its
// incident.
func readAlertTopic(ctx context.Context, t *testing.T, cfg config.Config, n int) []map[string]any {
	t.Helper()
	cl, err := kafka.NewClient(cfg.Kafka, nil, kgo.ConsumeTopics(cfg.Kafka.Topics.Alerts), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	reg, err := kafka.NewRegistry(cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	codecs := avro.NewCodecs(reg)
	var got []map[string]any
	for len(got) < n {
		fetches := cl.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatalf("reading the alerts topic after %d records: %v", len(got), err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			_, rec, err := codecs.Decode(ctx, r.Value)
			if err != nil {
				t.Fatalf("alert record: %v", err)
			}
			if string(r.Key) != rec["incident"] {
				t.Errorf("record keyed %q, incident %v", r.Key, rec["incident"])
			}
			got = append(got, rec)
		})
	}
	return got
}

// recordingSink collects notifications.
type recordingSink struct{ sent []rules.Notification }

func (s *recordingSink) Name() string { return "recording" }

func (s *recordingSink) Send(_ context.Context, n *rules.Notification) error {
	s.sent = append(s.sent, *n)
	return nil
}

// TestAnomalyRuleFiresOnlyAtTheSpike evaluates an hourly z-score rule over
// four days of a daily seasonal series of web events with one spike, and a
// small sms channel with a spike of its own under the minimum volume.
// Against the trailing 24 hours, a sinusoid of amplitude A has a standard
// deviation of about A/sqrt(2), so no ordinary hour scores above sqrt(2)
// plus the noise, while the spike scores about (900-200)/71 = 9.9.
func TestAnomalyRuleFiresOnlyAtTheSpike(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, nil)
	start := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	spike := start.Add(3*24*time.Hour + 14*time.Hour)
	var rows []clickhouse.TouchpointRow
	for h := 0; h < 4*24; h++ {
		hour := start.Add(time.Duration(h) * time.Hour)
		web := int(200 + 100*math.Sin(2*math.Pi*float64(h)/24) + float64(h*37%11) - 5)
		sms := 3 + h%3
		if hour.Equal(spike) {
			web, sms = 900, 40
		}
		for channel, n := range map[string]int{"web": web, "sms": sms} {
			for i := 0; i < n; i++ {
				rows = append(rows, fixtureRow(fmt.Sprintf("%s-%d-%d", channel, h, i), "page_view", channel, hour.Add(time.Duration(i)*time.Second)))
			}
		}
	}
	if err := clickhouse.InsertTouchpoints(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	set, err := rules.ParseRules("anomaly.yaml", []byte(`rules:
  - name: volume-anomaly
    kpi: events
    scope: channel
    window: 1h
    every: 1h
    anomaly: {z: 4, trailing: 24}
    min_volume: 50
`))
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	engine, err := alertscmd.NewEngine(ctx, cfg, conn, set, []alerts.Sink{sink}, alerts.NewMetrics(prometheus.NewRegistry()), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for at := start.Add(25 * time.Hour); !at.After(start.Add(4 * 24 * time.Hour)); at = at.Add(time.Hour) {
		if err := engine.Step(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	want := fmt.Sprintf("firing web %s, resolved web %s", spike.Add(time.Hour).Format(time.RFC3339), spike.Add(2*time.Hour).Format(time.RFC3339))
	var got []string
	for _, n := range sink.sent {
		got = append(got, fmt.Sprintf("%s %s %s", n.Status, n.Channel, n.At.Format(time.RFC3339)))
	}
	if strings.Join(got, ", ") != want {
		t.Fatalf("sent %v, want %s", got, want)
	}
	if z := sink.sent[0].Score; z < 8 || z > 12 || sink.sent[0].Value != 900 {
		t.Errorf("spike scored z=%v with value %v, want about 9.9 and 900", z, sink.sent[0].Value)
	}
}

// TestServiceRefusesBadAlertRules starts the alerts service with a rule file
// that has an error: it exits at once, naming the file, line and reason.
func TestServiceRefusesBadAlertRules(t *testing.T) {
	cfg := servers(t).Config(uniqueName(t))
	cfg.Pipelines = t.TempDir()
	bad := "rules:\n  - name: ctr\n    kpi: ctr\n    window: 1h\n    threshold: {belw: 0.01}\n"
	if err := os.WriteFile(filepath.Join(cfg.Pipelines, rules.RulesFile), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, args := range [][]string{{"alerts"}, {"alerts", "check", filepath.Join(cfg.Pipelines, rules.RulesFile)}} {
		out, err := exec.CommandContext(ctx, touchlineBin, append([]string{"--config", cfgPath}, args...)...).CombinedOutput()
		want := filepath.Join(cfg.Pipelines, rules.RulesFile) + `:5: rule "ctr": threshold: unknown key "belw"`
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("touchline %v: %v\n%s\nwant an error with %s", args, err, out, want)
		}
	}
}

// TestUndeliveredNotificationsWaitInTheOutbox: a webhook that fails more
// times than a step's attempts leaves the notification in the outbox, where
// `alerts list` shows it, and a later step (here after a restart) delivers
// it, once.
func TestUndeliveredNotificationsWaitInTheOutbox(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, nil)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if err := clickhouse.InsertTouchpoints(ctx, conn, ctrFixture(day)); err != nil {
		t.Fatal(err)
	}
	set, err := rules.ParseRules("alerts.yaml", []byte(strings.Replace(ctrRule, "for: 3", "for: 1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	hook := &flakyWebhook{failures: 3, attempts: map[string]int{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	cfg.Alerts.Webhooks = []alerts.WebhookConfig{{URL: srv.URL, Format: alerts.FormatJSON}}
	cfg.Alerts.MaxAttempts, cfg.Alerts.RetryBackoff, cfg.Alerts.RetryBackoffMax = 2, 10*time.Millisecond, 10*time.Millisecond
	newEngine := func() *alerts.Engine {
		e, err := alertscmd.NewEngine(ctx, cfg, conn, set, []alerts.Sink{alerts.NewWebhooks(cfg.Alerts)[0]},
			alerts.NewMetrics(prometheus.NewRegistry()), zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	firing := day.Add(11*time.Hour + 20*time.Minute) // the first breach; for: 1
	if err := newEngine().Step(ctx, firing); err != nil {
		t.Fatal(err)
	}
	states, err := alerts.NewStore(conn).States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].Status != alerts.StatusFiring || len(states[0].Outbox) != 1 || len(hook.accepted) != 0 {
		t.Fatalf("after two failed attempts: states %+v, accepted %d", states, len(hook.accepted))
	}
	// The third attempt fails, the fourth is accepted.
	if err := newEngine().Step(ctx, firing.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(hook.accepted) != 1 || hook.accepted[0].Status != alerts.Firing || hook.attempts[hook.accepted[0].Key] != 4 {
		t.Fatalf("accepted %+v after %v", hook.accepted, hook.attempts)
	}
	if states, err = alerts.NewStore(conn).States(ctx); err != nil || len(states[0].Outbox) != 0 {
		t.Fatalf("outbox after delivery: %+v, %v", states, err)
	}
}

// TestAlertsServiceRestartSendsNothingTwice runs the alerts service as a
// process on data of the last 40 minutes (email's CTR at 1%, web's at 5%),
// waits for the one firing notification to be delivered and recorded,
// SIGKILLs the service and starts it again: over several more evaluations
// of the still-breaching rule, the webhook receives nothing more.
func TestAlertsServiceRestartSendsNothingTwice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, conn, _ := setup(ctx, t, 1, nil)
	now := time.Now().UTC().Truncate(time.Minute)
	var rows []clickhouse.TouchpointRow
	for m := 1; m <= 40; m++ {
		at := now.Add(-time.Duration(m) * time.Minute)
		for channel, clicks := range map[string]int{"email": 1, "web": 5} {
			for i := 0; i < 100; i++ {
				rows = append(rows, fixtureRow(fmt.Sprintf("%s-%d-i%d", channel, m, i), "impression", channel, at))
			}
			for i := 0; i < clicks; i++ {
				rows = append(rows, fixtureRow(fmt.Sprintf("%s-%d-c%d", channel, m, i), "click", channel, at))
			}
		}
	}
	if err := clickhouse.InsertTouchpoints(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	cfg.Pipelines = t.TempDir()
	rule := "rules:\n  - name: ctr-low\n    kpi: ctr\n    scope: channel\n    window: 30m\n    every: 1s\n    threshold: {below: 0.03}\n    for: 2\n"
	if err := os.WriteFile(filepath.Join(cfg.Pipelines, rules.RulesFile), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	hook := &flakyWebhook{attempts: map[string]int{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	cfgPath := writeConfigWith(t, cfg, fmt.Sprintf("alerts:\n  tick: 200ms\n  webhooks: [{name: ops, url: %q}]\n", srv.URL))
	log := logPath(t)
	start := func() *testenv.Process {
		p, err := testenv.StartProcess(touchlineBin, log, "--config", cfgPath, "alerts")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		return p
	}
	svc := start()
	// Delivered and recorded: the outbox of email's state is empty again.
	for {
		var outbox string
		err := conn.QueryRow(ctx, "SELECT outbox FROM alert_states FINAL WHERE rule = 'ctr-low' AND channel = 'email' AND status = 'firing'").Scan(&outbox)
		hook.mu.Lock()
		delivered := len(hook.accepted)
		hook.mu.Unlock()
		if err == nil && outbox == "null" && delivered == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no firing notification recorded (webhook got %d): %v", delivered, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	svc.Kill()
	restarted := time.Now().UTC().Truncate(time.Second)
	start()
	// Several evaluations of the restarted service, still breaching.
	time.Sleep(4 * time.Second)
	var evaluated time.Time
	if err := conn.QueryRow(ctx, "SELECT evaluated_at FROM alert_states FINAL WHERE rule = 'ctr-low' AND channel = 'email'").Scan(&evaluated); err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.accepted) != 1 || hook.accepted[0].Channel != "email" || hook.accepted[0].Status != alerts.Firing {
		t.Errorf("webhook got %+v, want the one firing notification of email", hook.accepted)
	}
	for key, n := range hook.attempts {
		if n != 1 {
			t.Errorf("%s was posted %d times", key, n)
		}
	}
	if evaluated.Before(restarted) {
		t.Errorf("the restarted service did not evaluate the rule: last evaluation %s, restart %s", evaluated, restarted)
	}
}

// TestMigrateAppliesAnInterruptedAddColumnAgain puts a migrated database
// back where a run of 0011_alert_currency dies after its first ALTER: the
// migration unrecorded, alert_notifications with the currency column,
// alert_states without. Migrating again applies 0011 (ClickHouse 18.16 has
// no ADD COLUMN IF NOT EXISTS; the existing column counts as added), and a
// state's currency then reads back.
func TestMigrateAppliesAnInterruptedAddColumnAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := servers(t).Config(uniqueName(t))
	conn := migrated(ctx, t, cfg)
	if err := conn.Exec(ctx, "ALTER TABLE alert_states DROP COLUMN currency"); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.Delete(ctx, conn, cfg.ClickHouse, clickhouse.MigrationsTable, "version = 11"); err != nil {
		t.Fatal(err)
	}
	if err := clickhouse.WaitForMutations(ctx, conn, cfg.ClickHouse); err != nil {
		t.Fatal(err)
	}
	done, err := clickhouse.Migrate(ctx, cfg.ClickHouse, zap.NewNop())
	if err != nil || fmt.Sprint(done) != "[0011_alert_currency]" {
		t.Fatalf("migrating again applied %v (%v), want 0011_alert_currency", done, err)
	}
	store := alerts.NewStore(conn)
	if err := store.Save(ctx, []*alerts.State{{Rule: "r", Group: alerts.Group{Channel: "web"}, Status: alerts.StatusOK,
		Value: 240, Currency: "USD", Defined: true}}); err != nil {
		t.Fatal(err)
	}
	states, err := store.States(ctx)
	if err != nil || len(states) != 1 || states[0].Currency != "USD" || states[0].Value != 240 {
		t.Errorf("stored states %v (%v), want r/web at 240 USD", states, err)
	}
}
