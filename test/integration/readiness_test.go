package integration

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// readiness polls a service's /readyz every 100ms and keeps every change of
// its answer (0 while the service does not answer).
type readiness struct {
	url  string
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	changes []readyChange
}

type readyChange struct {
	at   time.Time
	code int
	body string
}

func watchReadiness(t *testing.T, addr string) *readiness {
	r := &readiness{url: "http://" + addr + "/readyz", stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		client := &http.Client{Timeout: time.Second}
		for {
			code, body := 0, ""
			if resp, err := client.Get(r.url); err == nil {
				var b bytes.Buffer
				_, _ = b.ReadFrom(resp.Body)
				resp.Body.Close()
				code, body = resp.StatusCode, strings.TrimSpace(b.String())
			}
			r.mu.Lock()
			if n := len(r.changes); n == 0 || r.changes[n-1].code != code {
				r.changes = append(r.changes, readyChange{time.Now(), code, body})
			}
			r.mu.Unlock()
			select {
			case <-r.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(r.close)
	return r
}

func (r *readiness) close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// last returns the latest answer and when it started.
func (r *readiness) last() readyChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.changes) == 0 {
		return readyChange{}
	}
	return r.changes[len(r.changes)-1]
}

// waitFor waits up to within for the answer code and returns when it
// started.
func (r *readiness) waitFor(t *testing.T, code int, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if l := r.last(); l.code == code {
			return l.at
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/readyz did not answer %d within %s; answers: %s", code, within, r)
	return time.Time{}
}

// notReadySoonAfter waits for a 503 and fails the test unless it came
// within 6 seconds of since, when what happened.
func (r *readiness) notReadySoonAfter(t *testing.T, since time.Time, what string) {
	t.Helper()
	if took := r.waitFor(t, http.StatusServiceUnavailable, 20*time.Second).Sub(since); took > 6*time.Second {
		t.Fatalf("/readyz said 503 %s after %s; want within 6s:%s", took, what, r)
	}
}

// waitForBody waits up to within for a 503 whose body contains text.
func (r *readiness) waitForBody(t *testing.T, text string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if l := r.last(); l.code == http.StatusServiceUnavailable && strings.Contains(l.body, text) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/readyz did not answer 503 with %q within %s; answers: %s", text, within, r)
}

// String lists the answers with their times.
func (r *readiness) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, c := range r.changes {
		fmt.Fprintf(&b, "\n  %s %d %s", c.at.Format("15:04:05.000"), c.code, c.body)
	}
	return b.String()
}

// answersAfterReady returns the answers after the first 200.
func (r *readiness) answersAfterReady() []readyChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range r.changes {
		if c.code == http.StatusOK {
			return append([]readyChange(nil), r.changes[i:]...)
		}
	}
	return nil
}

// withHTTPAddr gives the service a fixed metrics address, to poll /readyz.
func withHTTPAddr(t *testing.T, addr *string) func(*config.Config) {
	*addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	return func(c *config.Config) { c.HTTPAddr = *addr }
}

// bombHex is a 42-byte touchpoint (Confluent wire format, schema id 1)
// that claims 2^31-1 identifiers: a decoder that reserves room for what a
// record claims before reading it runs out of memory.
const bombHex = "00000000010c626f6d622d31f0adc3afc76812706167655f76696577000000000000000000feffffff0f"

// TestIngestHostileStreamStaysReady publishes good records with, between
// them, a record claiming 2^31-1 map entries, a 1.01 MB record (too large
// to be dead-lettered whole), invalid UTF-8 and every other kind of bad
// record, to a namespace whose dead-letter topic does not exist yet: the
// ingest process creates it, every good record is queryable, every bad one
// is in the dead-letter topic, the process never exits and /readyz answers
// 200 throughout.
func TestIngestHostileStreamStaysReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var addr string
	cfg := servers(t).Config(uniqueName(t))
	withHTTPAddr(t, &addr)(&cfg)
	// Only the input topics exist: ingest creates the dead-letter and
	// identity topics.
	cl, err := kafka.NewClient(cfg.Kafka, nil, kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(ctx, cl, 2, 1, cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend); err != nil {
		t.Fatal(err)
	}
	if missing, err := kafka.MissingTopics(ctx, cl, cfg.Kafka.Topics.DeadLetter); err != nil || len(missing) != 1 {
		t.Fatalf("the dead-letter topic must not exist before ingest starts: %v %v", missing, err)
	}
	conn, cfgPath := migrateAndConfigure(ctx, t, cfg)

	now := time.Now().UTC().Truncate(time.Millisecond)
	bomb, err := hex.DecodeString(bombHex)
	if err != nil {
		t.Fatal(err)
	}
	huge := goodTouchpoint("huge", now, 1)
	huge.PageURL = "https://example.com/?q=" + strings.Repeat("a", 1_009_900-len("https://example.com/?q="))
	hugeValue := encodeTouchpoint(ctx, t, huge)
	badUTF8 := goodTouchpoint("bad-utf8", now, 1)
	badUTF8.Identifiers = touchpoint.AttrsOf(map[string]string{"customer_id": "cus\xff\xfe"})
	bads := append(badRecords(ctx, t, now),
		badRecord{"claims 2^31-1 identifiers", bomb, enrich.ReasonCorrupt},
		badRecord{"invalid UTF-8 identifier", encodeTouchpoint(ctx, t, badUTF8), touchpoint.ReasonInvalidField},
		badRecord{"1.01 MB page_url", hugeValue, touchpoint.ReasonOversizeField},
	)
	if len(hugeValue) < 1_009_900 || len(hugeValue) > 1_048_000 {
		t.Fatalf("the large record is %d bytes; want it over the producer's limit and under the broker's", len(hugeValue))
	}

	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wantIDs []string
	var wantRevenue int64
	publishGood := func(n int) {
		for range n {
			id := fmt.Sprintf("good-%03d", len(wantIDs))
			rev := touchpoint.Money(int64(len(wantIDs)+1) * 10_000)
			if err := p.Touchpoint(ctx, goodTouchpoint(id, now.Add(-time.Duration(len(wantIDs))*time.Second), rev)); err != nil {
				t.Fatal(err)
			}
			wantIDs = append(wantIDs, id)
			wantRevenue += int64(rev)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Half the stream is there when ingest starts; the rest comes while it
	// runs.
	publishBad := func(b badRecord) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: cfg.Kafka.Topics.Touchpoints, Key: []byte(b.name), Value: b.value}).FirstErr(); err != nil {
			t.Fatalf("publishing %s: %v", b.name, err)
		}
	}
	half := len(bads) / 2
	for _, b := range bads[:half] {
		publishGood(5)
		publishBad(b)
	}
	log := logPath(t)
	proc := startIngest(t, cfgPath, log)
	ready := watchReadiness(t, addr)
	ready.waitFor(t, http.StatusOK, time.Minute)
	for _, b := range bads[half:] {
		publishGood(5)
		publishBad(b)
	}
	publishGood(5)

	if _, err := testenv.WaitTotals(ctx, conn, uint64(len(wantIDs))); err != nil {
		t.Fatalf("%v; /readyz answered:%s", err, ready)
	}
	checkExactTotals(ctx, t, cfg, conn, uint64(len(wantIDs)), wantRevenue)
	dead := readDeadLetters(ctx, t, cfg, len(bads))
	for _, b := range bads {
		r := checkDeadLetter(t, dead, b)
		if r == nil {
			continue
		}
		if b.name != "1.01 MB page_url" {
			if !bytes.Equal(r.Value, b.value) || header(r, ingest.HeaderTruncated) != "" {
				t.Errorf("%s: the dead letter does not carry the original bytes", b.name)
			}
			continue
		}
		if header(r, ingest.HeaderTruncated) != "value" || header(r, ingest.HeaderValueBytes) != strconv.Itoa(len(b.value)) ||
			len(r.Value) < 990_000 || !bytes.HasPrefix(b.value, r.Value) {
			t.Errorf("%s: want the value cut to a prefix of under 1,000,012 bytes with headers saying so; got %d bytes, headers truncated=%q bytes=%q",
				b.name, len(r.Value), header(r, ingest.HeaderTruncated), header(r, ingest.HeaderValueBytes))
		}
	}
	if _, _, err := proc.RSS(); err != nil {
		t.Fatalf("the ingest process is gone: %v", err)
	}
	ready.close()
	for _, c := range ready.answersAfterReady() {
		if c.code != http.StatusOK {
			t.Fatalf("/readyz was not 200 throughout although nothing failed:%s", ready)
		}
	}
	if n := strings.Count(readFile(t, log), "ingest started"); n != 1 {
		t.Fatalf("ingest started %d times, want once", n)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metric returns the value of an unlabelled metric on a service's
// /metrics, or "" when it is not there.
func metric(t *testing.T, addr, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("reading /metrics: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// pausable is a server that SIGSTOP and SIGCONT pause and resume.
type pausable interface {
	Pause() error
	Resume() error
}

// pause pauses srv and returns when, resuming it when the test ends if it
// has not been resumed by then.
func pause(t *testing.T, srv pausable) time.Time {
	t.Helper()
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Resume() })
	return time.Now()
}

// startIngestWithChunk starts ingest with its /readyz watched, once ready
// publishes chunk generated touchpoints, waits until they are written and
// returns their revenue.
func startIngestWithChunk(ctx context.Context, t *testing.T, chunk int) (config.Config, driver.Conn, string, *readiness, int64) {
	t.Helper()
	var addr string
	cfg, conn, cfgPath := setup(ctx, t, 2, withHTTPAddr(t, &addr))
	startIngest(t, cfgPath, logPath(t))
	ready := watchReadiness(t, addr)
	ready.waitFor(t, http.StatusOK, time.Minute)
	revenue := publishGenerated(ctx, t, cfg, chunk, 1)
	if _, err := testenv.WaitTotals(ctx, conn, uint64(chunk)); err != nil {
		t.Fatal(err)
	}
	return cfg, conn, addr, ready, revenue
}

// checkExactTotals waits until the touchpoints table holds rows rows and
// the ingest group has committed everything, then checks the rows and the
// revenue are exactly those published.
func checkExactTotals(ctx context.Context, t *testing.T, cfg config.Config, conn driver.Conn, rows uint64, revenue int64) {
	t.Helper()
	if _, err := testenv.WaitTotals(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	waitCommitted(ctx, t, cfg)
	got, err := testenv.TouchpointTotals(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != rows || got.Revenue != revenue {
		t.Fatalf("got %d rows, revenue %d; want %d, %d", got.Rows, got.Revenue, rows, revenue)
	}
}

// TestIngestReadinessHungServers stops ClickHouse, then the Kafka broker,
// with SIGSTOP while ingest runs: a hung server accepts connections and
// answers nothing, so a ClickHouse write waits for the 60 s query timeout
// and a produce forever. /readyz answers 503 (and clickhouse_up is 0 for
// ClickHouse) within a few seconds, both recover after SIGCONT, and
// touchpoints published during and after the pause are ingested exactly.
func TestIngestReadinessHungServers(t *testing.T) {
	s := servers(t)
	for _, tc := range []struct {
		name       string
		server     pausable
		upMetric   bool // touchline_ingest_clickhouse_up follows the pause
		publishing bool // touchpoints can be published during the pause
	}{
		{"clickhouse", s.ClickHouse, true, true},
		{"broker", s.Kafka, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			const chunk = 1000
			cfg, conn, addr, ready, wantRevenue := startIngestWithChunk(ctx, t, chunk)
			paused := pause(t, tc.server)
			if tc.publishing {
				wantRevenue += publishGenerated(ctx, t, cfg, chunk, 2)
			}
			ready.notReadySoonAfter(t, paused, tc.name+" hung")
			if up := metric(t, addr, "touchline_ingest_clickhouse_up"); tc.upMetric && up != "0" {
				t.Fatalf("touchline_ingest_clickhouse_up is %q while ClickHouse hangs", up)
			}
			time.Sleep(time.Until(paused.Add(8 * time.Second)))
			if err := tc.server.Resume(); err != nil {
				t.Fatal(err)
			}
			ready.waitFor(t, http.StatusOK, 2*time.Minute)
			if !tc.publishing {
				wantRevenue += publishGenerated(ctx, t, cfg, chunk, 2)
			}
			checkExactTotals(ctx, t, cfg, conn, 2*chunk, wantRevenue)
			if up := metric(t, addr, "touchline_ingest_clickhouse_up"); up != "1" {
				t.Fatalf("touchline_ingest_clickhouse_up is %q after %s is back", up, tc.name)
			}
			t.Logf("/readyz answered:%s", ready)
		})
	}
}

// TestTopicsCreate runs `touchline topics create` on a namespace where no
// topic exists: it creates every topic with its partitions and compaction,
// a second run creates nothing, and `touchline produce` then succeeds
// where it failed with UNKNOWN_TOPIC_OR_PARTITION.
func TestTopicsCreate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := servers(t).Config(uniqueName(t))
	cfgPath := configFile(t, cfg)
	out := mustTouchline(ctx, t, "topics", "create", "--config", cfgPath)
	tp := cfg.Kafka.Topics
	want := map[string]struct {
		partitions int
		compacted  bool
	}{
		tp.Touchpoints: {6, false}, tp.Spend: {6, false}, tp.DeadLetter: {6, false},
		tp.IdentityLinks: {1, false}, tp.IdentityMap: {int(cfg.Identity.MapPartitions), true}, tp.Alerts: {1, false},
		tp.SegmentInputs: {int(cfg.Segments.Partitions), false}, tp.SegmentChangelog: {int(cfg.Segments.Partitions), true},
		tp.SegmentChanges: {int(cfg.Segments.Partitions), false}, tp.Suppressions(): {1, true},
	}
	adm := admin(t, cfg)
	for topic, w := range want {
		if !strings.Contains(out, fmt.Sprintf("created %s partitions=%d ", topic, w.partitions)) {
			t.Errorf("output lacks the creation of %s with %d partitions:\n%s", topic, w.partitions, out)
		}
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(details[topic].Partitions); got != w.partitions {
			t.Errorf("%s has %d partitions, want %d", topic, got, w.partitions)
		}
		configs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		policy, err := configs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		compacted := false
		for _, c := range policy.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil && *c.Value == "compact" {
				compacted = true
			}
		}
		if compacted != w.compacted {
			t.Errorf("%s compacted: %v, want %v", topic, compacted, w.compacted)
		}
	}
	if out := mustTouchline(ctx, t, "topics", "create", "--config", cfgPath); !strings.Contains(out, "every topic exists") || strings.Contains(out, "created") {
		t.Errorf("a second run printed %q", out)
	}
	file := filepath.Join(t.TempDir(), "events.jsonl")
	line := `{"event_id":"t1","event_time":"` + time.Now().UTC().Add(-time.Minute).Format(time.RFC3339) +
		`","event_type":"click","identifiers":{"customer_id":"c1"}}`
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustTouchline(ctx, t, "produce", "--config", cfgPath, "--file", file); !strings.Contains(out, "produced 1 touchpoint records") {
		t.Errorf("produce printed %q", out)
	}
}

// mustTouchline runs the touchline command and returns its output, failing
// the test when it fails.
func mustTouchline(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	out, err := runTouchline(ctx, args...)
	if err != nil {
		t.Fatalf("touchline %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// migrateAndConfigure migrates the database of cfg and writes its config
// file, creating no topic, and returns a connection (closed when the test
// ends) and the file's path.
func migrateAndConfigure(ctx context.Context, t *testing.T, cfg config.Config) (driver.Conn, string) {
	t.Helper()
	return migrated(ctx, t, cfg), configFile(t, cfg)
}

// migrated migrates the database of cfg and returns a connection to it,
// closed when the test ends.
func migrated(ctx context.Context, t *testing.T, cfg config.Config) driver.Conn {
	t.Helper()
	if _, err := clickhouse.Migrate(ctx, cfg.ClickHouse, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestIngestStartsInFreshNamespace starts ingest three times, each on a
// namespace where no topic exists: each time it creates its topics, waits
// for their leaders, becomes ready and ingests what is published, without
// exiting on the broker's UNKNOWN_TOPIC_OR_PARTITION or
// NOT_LEADER_FOR_PARTITION right after creation.
func TestIngestStartsInFreshNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := range 3 {
		var addr string
		cfg := servers(t).Config(fmt.Sprintf("%s_%d", uniqueName(t), i))
		withHTTPAddr(t, &addr)(&cfg)
		conn, cfgPath := migrateAndConfigure(ctx, t, cfg)
		log := logPath(t)
		proc := startIngest(t, cfgPath, log)
		ready := watchReadiness(t, addr)
		ready.waitFor(t, http.StatusOK, time.Minute)
		publishGenerated(ctx, t, cfg, 200, int64(i))
		if _, err := testenv.WaitTotals(ctx, conn, 200); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		if err := proc.Terminate(time.Minute); err != nil {
			t.Fatalf("start %d: ingest did not shut down cleanly: %v", i, err)
		}
		if n := strings.Count(readFile(t, log), "ingest started"); n != 1 {
			t.Fatalf("start %d: ingest started %d times", i, n)
		}
	}
}

// TestIngestRestartAfterCrashIsQuick kills ingest with SIGKILL and starts it
// again with the default session timeout: the group gives the restarted
// instance the partitions once the dead one's session ends, so it writes
// new records within about the session timeout (10 s; 45 s before).
func TestIngestRestartAfterCrashIsQuick(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 2, nil)
	// The suite's configs set 6 s session timeouts; this test measures the
	// default, so it drops the ingest section's (the first).
	text := readFile(t, cfgPath)
	if !strings.Contains(text, "ingest:\n  group: ") {
		t.Fatalf("unexpected config layout:\n%s", text)
	}
	i := strings.Index(text, "  session_timeout: 6s\n")
	if i < 0 || i > strings.Index(text, "identity:") {
		t.Fatalf("the ingest section has no session_timeout:\n%s", text)
	}
	text = text[:i] + text[i+len("  session_timeout: 6s\n"):]
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	log := logPath(t)
	p := startIngest(t, cfgPath, log)
	const chunk = 1000
	publishGenerated(ctx, t, cfg, chunk, 1)
	if _, err := testenv.WaitTotals(ctx, conn, chunk); err != nil {
		t.Fatal(err)
	}
	waitCommitted(ctx, t, cfg)
	p.Kill()
	crashed := time.Now()
	startIngest(t, cfgPath, log)
	publishGenerated(ctx, t, cfg, chunk, 2)
	if _, err := testenv.WaitTotals(ctx, conn, 2*chunk); err != nil {
		t.Fatal(err)
	}
	took := time.Since(crashed)
	t.Logf("the restarted instance wrote the new records %s after the crash", took.Round(100*time.Millisecond))
	if took > 25*time.Second {
		t.Fatalf("the restarted instance took %s to make progress; want about the 10s session timeout", took)
	}
}

// startWatched runs `touchline <service>` with the config at cfgPath until
// the test ends, and watches its /readyz.
func startWatched(t *testing.T, cfgPath, service string) *readiness {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p, err := testenv.StartProcess(touchlineBin, logPath(t), "--config", cfgPath, "--http-addr", addr, service)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return watchReadiness(t, addr)
}

// TestServicesReadinessHungClickHouse runs the identity, alerts, segments
// and activate services and stops ClickHouse with SIGSTOP: each /readyz
// answers 503 within a few seconds and 200 again after SIGCONT.
func TestServicesReadinessHungClickHouse(t *testing.T) {
	servicesUnderHungServer(t, servers(t).ClickHouse, "ClickHouse")
}

// TestServicesReadinessHungKafka runs the identity, alerts, segments and
// activate services and stops the Kafka broker with SIGSTOP: each /readyz
// answers 503 within a few seconds, also when the service has no input to
// wait on, and 200 again after SIGCONT.
func TestServicesReadinessHungKafka(t *testing.T) {
	servicesUnderHungServer(t, servers(t).Kafka, "the broker")
}

// servicesUnderHungServer runs the identity, alerts, segments and activate
// services, stops srv (named what) with SIGSTOP and checks that each
// /readyz answers 503 within a few seconds and 200 again after SIGCONT.
func servicesUnderHungServer(t *testing.T, srv pausable, what string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, _, cfgPath := setup(ctx, t, 2, nil)
	watches := map[string]*readiness{}
	for _, service := range []string{"identity", "alerts", "segments", "activate"} {
		watches[service] = startWatched(t, cfgPath, service)
	}
	for service, w := range watches {
		t.Run(service+" ready", func(t *testing.T) { w.waitFor(t, http.StatusOK, 2*time.Minute) })
	}
	paused := pause(t, srv)
	for service, w := range watches {
		w.notReadySoonAfter(t, paused, what+" hung under "+service)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	for service, w := range watches {
		w.waitFor(t, http.StatusOK, 2*time.Minute)
		t.Logf("%s /readyz answered:%s", service, w)
	}
}

// TestServicesNotReadyWhileWritesFail moves away tables the services write
// to or read, while ClickHouse itself answers pings: first identity_map,
// which the identity resolver writes, then touchpoints, which ingest
// writes and the alerts rules read (the alerts service starts then, so
// that its rules are due). Each service affected retries and answers 503
// naming the missing table until it is back, then 200; nothing is lost or
// doubled.
func TestServicesNotReadyWhileWritesFail(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 2, nil)
	watches := map[string]*readiness{}
	start := func(service string) { watches[service] = startWatched(t, cfgPath, service) }
	start("ingest")
	start("identity")
	for _, w := range watches {
		w.waitFor(t, http.StatusOK, 2*time.Minute)
	}
	var revenue int64
	for i, phase := range []struct {
		table    string
		affected []string
	}{
		{"identity_map", []string{"identity"}},
		{"touchpoints", []string{"ingest", "alerts"}},
	} {
		if err := conn.Exec(ctx, fmt.Sprintf("RENAME TABLE %s TO %s_away", phase.table, phase.table)); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			start("alerts")
		}
		revenue += publishGenerated(ctx, t, cfg, 500, int64(i))
		for _, service := range phase.affected {
			watches[service].waitForBody(t, phase.table+" doesn't exist", time.Minute)
		}
		if i == 1 { // each failing rule is named once, as the cause of its line
			for _, line := range strings.Split(watches["alerts"].last().body, "\n") {
				if name, _, ok := strings.Cut(strings.TrimPrefix(line, "rule "), ":"); ok && strings.Count(line, "rule "+name+":") > 1 {
					t.Errorf("alerts /readyz repeats the rule: %s", line)
				}
			}
		}
		if err := conn.Exec(ctx, fmt.Sprintf("RENAME TABLE %s_away TO %s", phase.table, phase.table)); err != nil {
			t.Fatal(err)
		}
		for _, w := range watches {
			w.waitFor(t, http.StatusOK, 2*time.Minute)
		}
	}
	checkExactTotals(ctx, t, cfg, conn, 1000, revenue)
	for service, w := range watches {
		t.Logf("%s /readyz answered:%s", service, w)
	}
}
