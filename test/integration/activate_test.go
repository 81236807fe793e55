package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/test/testenv"
)

// hookSecret is the signing secret of the test's webhook, in the
// environment of the activate service.
const hookSecret = "activate-test-secret"

// hookReceiver is a webhook receiver that verifies every signature, counts
// the POSTs of every idempotency key (a batch's changes one by one, after
// checking the batch's key) and, while down, answers 503.
type hookReceiver struct {
	t     *testing.T
	mu    sync.Mutex
	posts map[string]int
	got   map[string]activate.Payload
	down  bool
	// batches are the POSTs of several changes (a JSON array), in order.
	batches []receivedBatch
	// delay is how long it takes to answer.
	delay time.Duration
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	delay := h.delay
	h.mu.Unlock()
	time.Sleep(delay)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if !activate.Verify([]byte(hookSecret), body, r.Header.Get(activate.SignatureHeader)) {
		h.t.Errorf("a POST with a bad signature: %s", body)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if bytes.HasPrefix(body, []byte("[")) { // a batch
		var ps []activate.Payload
		var keys []string
		err := json.Unmarshal(body, &ps)
		for _, p := range ps {
			keys = append(keys, p.IdempotencyKey)
			h.posts[p.IdempotencyKey]++
			h.got[p.IdempotencyKey] = p
		}
		if err != nil || len(ps) == 0 || activate.BatchKey(keys) != r.Header.Get(activate.IdempotencyHeader) {
			h.t.Errorf("a batch with body %s and key %q: %v", body, r.Header.Get(activate.IdempotencyHeader), err)
		}
		h.batches = append(h.batches, receivedBatch{size: len(ps), at: time.Now()})
		return
	}
	var p activate.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.IdempotencyKey != r.Header.Get(activate.IdempotencyHeader) {
		h.t.Errorf("a POST with body %s and key %q: %v", body, r.Header.Get(activate.IdempotencyHeader), err)
	}
	h.posts[p.IdempotencyKey]++
	h.got[p.IdempotencyKey] = p
}

// receivedBatch is a POST of several changes: how many, and when it came.
type receivedBatch struct {
	size int
	at   time.Time
}

// counts returns the distinct keys received and the POSTs in all.
func (h *hookReceiver) counts() (keys, posts int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.posts {
		posts += n
	}
	return len(h.posts), posts
}

func (h *hookReceiver) setDown(down bool) {
	h.mu.Lock()
	h.down = down
	h.mu.Unlock()
}

// activateRun is the test's pipeline: its config, a producer of changes
// and the changes it produced.
type activateRun struct {
	t       *testing.T
	cfg     config.Config
	conn    driver.Conn
	cfgPath string
	cl      *kgo.Client
	codecs  *avro.Codecs
	schema  int
	rng     *rand.Rand
	persons []string
	group   string
}

// newActivateRun prepares the servers, a pipelines directory with the
// shipped identity rules and segments and a destinations file (a webhook
// to url for cart_abandoners and lapsed_buyers, an audience file of
// lapsed_buyers in audiences, every second), and the changes topic.
func newActivateRun(ctx context.Context, t *testing.T, url, audiences string) *activateRun {
	t.Helper()
	t.Setenv("TL_TEST_HOOK_SECRET", hookSecret)
	cfg, conn, _ := setup(ctx, t, 1, func(c *config.Config) { c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t)) })
	cfg.Pipelines = t.TempDir()
	for _, f := range []string{stitch.RulesFile, "segments.yaml"} {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "pipelines", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.Pipelines, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	group := uniqueName(t) + ".activate"
	dest := fmt.Sprintf(`group: %s
max_attempts: 40
retry_backoff: 200ms
retry_backoff_max: 3s
destinations:
  - name: crm
    kind: webhook
    segments: [cart_abandoners, lapsed_buyers]
    identifiers: [email, phone]
    features: ["*"]
    url: %s
    secret_env: TL_TEST_HOOK_SECRET
    rate: 500
  - name: ads
    kind: audience_file
    segments: [lapsed_buyers]
    identifiers: [email, phone]
    directory: %s
    every: 1s
`, group, url, audiences)
	writeDestinations(t, cfg.Pipelines, dest)
	cl, err := kafka.NewClient(cfg.Kafka, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := kafka.CreateTopics(ctx, cl, kafka.TopicSpec{Name: cfg.Kafka.Topics.SegmentChanges, Partitions: 2, Replication: 1}); err != nil {
		t.Fatal(err)
	}
	reg, err := kafka.NewRegistry(cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	r := &activateRun{t: t, cfg: cfg, conn: conn, cfgPath: configFile(t, cfg), cl: cl, codecs: avro.NewCodecs(reg), rng: rand.New(rand.NewPCG(21, 1)), group: group}
	if r.schema, err = avro.RegisterLatest(ctx, reg, avro.KindSegment, cfg.Kafka.Topics.SegmentChanges); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		r.persons = append(r.persons, fmt.Sprintf("p_act%02d", i))
	}
	return r
}

// produce publishes n generated changes (random persons of pool, or of the
// run when pool is empty; three segments of which the webhook receives two;
// entries and exits) keyed by person, stores them in segment_changes as the
// segments service does, and returns them.
func (r *activateRun) produce(ctx context.Context, n int, from time.Time, pool ...string) []activate.Change {
	if len(pool) == 0 {
		pool = r.persons
	}
	r.t.Helper()
	segments := []string{"cart_abandoners", "lapsed_buyers", "high_value_customers"}
	var out []activate.Change
	var recs []*kgo.Record
	var rows []clickhouse.SegmentChangeRow
	for i := range n {
		c := activate.Change{Person: pool[r.rng.IntN(len(pool))], Segment: segments[r.rng.IntN(len(segments))],
			Entered: r.rng.IntN(3) > 0, At: from.Add(time.Duration(i) * 1500 * time.Millisecond).UTC(),
			Features: map[string]string{"purchases": fmt.Sprint(r.rng.IntN(5))}}
		features := map[string]any{}
		for k, v := range c.Features {
			features[k] = v
		}
		value, err := r.codecs.Encode(ctx, r.schema, map[string]any{"person": c.Person, "segment": c.Segment, "entered": c.Entered, "at": c.At, "features": features})
		if err != nil {
			r.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: r.cfg.Kafka.Topics.SegmentChanges, Key: []byte(c.Person), Value: value})
		entered := uint8(0)
		if c.Entered {
			entered = 1
		}
		rows = append(rows, clickhouse.SegmentChangeRow{Segment: c.Segment, PersonID: c.Person, Entered: entered, ChangedAt: c.At.Truncate(time.Second),
			ChangedMillis: uint16(c.At.Nanosecond() / int(time.Millisecond)), Features: "{}", WrittenAt: time.Now().UTC().Truncate(time.Second)})
		out = append(out, c)
	}
	if err := r.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
	if err := clickhouse.InsertSegmentChanges(ctx, r.conn, rows); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// start runs the activate service as a process and waits until it is
// ready.
func (r *activateRun) start(ctx context.Context, log string) *testenv.Process {
	r.t.Helper()
	return startActivate(ctx, r.t, r.cfgPath, r.cfg.HTTPAddr, log)
}

// startActivate runs the activate service of cfgPath as a process and
// waits until its /readyz at addr answers 200.
func startActivate(ctx context.Context, t *testing.T, cfgPath, addr, log string) *testenv.Process {
	t.Helper()
	p, err := testenv.StartProcess(touchlineBin, log, "--config", cfgPath, "activate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	if err := testenv.WaitReady(ctx, p, "http://"+addr, log); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeDestinations writes a destinations file into the pipelines
// directory dir.
func writeDestinations(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, activate.DestinationsFile), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newHookReceiver returns a receiver that is up.
func newHookReceiver(t *testing.T) *hookReceiver {
	return &hookReceiver{t: t, posts: map[string]int{}, got: map[string]activate.Payload{}}
}

// startHookReceiver serves a receiver that is up until the test ends, and
// returns it and its URL.
func startHookReceiver(t *testing.T) (*hookReceiver, string) {
	hook := newHookReceiver(t)
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	return hook, srv.URL
}

// webhookKeys returns the idempotency keys of the changes the webhook
// receives (cart_abandoners and lapsed_buyers), without those of persons
// in except.
func webhookKeys(changes []activate.Change, except ...string) map[string]bool {
	keys := map[string]bool{}
	for _, c := range changes {
		if (c.Segment == "cart_abandoners" || c.Segment == "lapsed_buyers") && !slices.Contains(except, c.Person) {
			keys[activate.IdempotencyKey("crm", c)] = true
		}
	}
	return keys
}

// waitDelivered waits until the receiver holds every key of want, each
// posted once, and activation_deliveries records them (but those of the
// erased person, whose records forget deleted), or ctx ends.
func waitDelivered(ctx context.Context, t *testing.T, h *hookReceiver, conn driver.Conn, want map[string]bool, erased string) {
	t.Helper()
	waitDeliveredResent(ctx, t, h, conn, want, erased, 0)
}

// waitDeliveredResent is waitDelivered with up to resent POSTs of keys
// posted before: those a SIGKILL caught between their POST and its record
// (docs/activation.md), which a receiver drops by their key.
func waitDeliveredResent(ctx context.Context, t *testing.T, h *hookReceiver, conn driver.Conn, want map[string]bool, erased string, resent int) {
	t.Helper()
	for {
		keys, posts := h.counts()
		var recorded, wantRecorded uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM activation_deliveries FINAL WHERE destination = 'crm' AND status = 'delivered'").Scan(&recorded)
		h.mu.Lock()
		for k := range want {
			if p, ok := h.got[k]; !ok || p.Person != erased {
				wantRecorded++
			}
		}
		h.mu.Unlock()
		if err == nil && keys == len(want) && posts >= keys && posts-keys <= resent && recorded == wantRecorded {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("received %d keys in %d POSTs, %d recorded; want the %d keys once each (%v)", keys, posts, recorded, len(want), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, n := range h.posts {
		if !want[k] {
			t.Errorf("received %s, which no change of the webhook's segments has", k)
		}
		if n != 1 && resent == 0 {
			t.Errorf("%s posted %d times", k, n)
		}
	}
}

// readyStatus returns the service's /readyz status code and body.
func readyStatus(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestActivateWebhookExactlyOnce delivers generated changes of two
// partitions to a local receiver that verifies every signature: exactly one
// POST per change of the webhook's segments, none for the other segment;
// none again after the service is SIGKILLed and restarted; every change
// produced during a 60 s outage of the receiver once it is back, while
// /readyz says the deliveries are being retried; after an erasure, none of
// the person's changes, neither new ones nor replayed ones, and no row of
// hers in the audience file; a replay sends the range again with the same
// keys.
func TestActivateWebhookExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hook, url := startHookReceiver(t)
	audiences := t.TempDir()
	r := newActivateRun(ctx, t, url, audiences)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	// Persons 0 and 1 have an email and a phone, stored as ingest stores
	// them (SHA-256 of the normal forms).
	ids := []clickhouse.IdentityMapRow{
		{IdentifierType: "email", IdentifierValue: sha("ann@example.com"), PersonID: "p_act00", FirstSeen: start, Version: 1},
		{IdentifierType: "phone", IdentifierValue: sha("+442079460958"), PersonID: "p_act00", FirstSeen: start, Version: 1},
		{IdentifierType: "email", IdentifierValue: sha("bob@example.de"), PersonID: "p_act01", FirstSeen: start, Version: 1},
	}
	if err := clickhouse.InsertIdentityMap(ctx, r.conn, ids); err != nil {
		t.Fatal(err)
	}
	changes := r.produce(ctx, 300, start)
	log := logPath(t)
	svc := r.start(ctx, log)
	waitDelivered(ctx, t, hook, r.conn, webhookKeys(changes), "")
	for k, p := range hook.got {
		if p.Person == "p_act00" && (p.Identifiers["email_sha256"] != sha("ann@example.com") || p.Identifiers["phone_sha256"] != sha("+442079460958")) {
			t.Fatalf("%s: identifiers %v", k, p.Identifiers)
		}
	}
	if err := testenv.WaitCommitted(ctx, r.cfg, r.group, r.cfg.Kafka.Topics.SegmentChanges); err != nil {
		t.Fatal(err)
	}

	// SIGKILL and restart: nothing again.
	svc.Kill()
	r.start(ctx, log)
	time.Sleep(3 * time.Second)
	waitDelivered(ctx, t, hook, r.conn, webhookKeys(changes), "")

	// A 60 s outage: /readyz says so; every change comes after it.
	hook.setDown(true)
	during := r.produce(ctx, 60, start.Add(30*time.Minute))
	changes = append(changes, during...)
	outage := time.Now()
	sawRetries := false
	for time.Since(outage) < 60*time.Second {
		if code, body := readyStatus(t, r.cfg.HTTPAddr); code == http.StatusServiceUnavailable && strings.Contains(body, "destination crm: delivery failing") {
			sawRetries = true
		}
		time.Sleep(time.Second)
	}
	if !sawRetries {
		t.Error("/readyz never said that the deliveries to crm were failing during the outage")
	}
	hook.setDown(false)
	waitDelivered(ctx, t, hook, r.conn, webhookKeys(changes), "")
	if code, body := readyStatus(t, r.cfg.HTTPAddr); code != http.StatusOK {
		t.Errorf("/readyz after the outage: %d %s", code, body)
	}

	// Erasure: `touchline forget` erases ann (p_act00), with the identity
	// resolver running; her later changes are not sent, nor are they on a
	// replay; the next audience files have no row of hers, and
	// segment_changes and activation_deliveries none either.
	if !audienceHas(ctx, t, audiences, sha("ann@example.com")) {
		t.Log("ann is not a member of lapsed_buyers in this run; the audience check is vacuous")
	}
	resolverCfg := r.cfg
	resolverCfg.HTTPAddr = "127.0.0.1:0" // the activate service has the other
	startResolver(t, configFile(t, resolverCfg), log)
	if out, err := runTouchline(ctx, "--config", r.cfgPath, "forget", "email: Ann@Example.com ", "--timeout", "1m"); err != nil {
		t.Fatalf("forget: %v\n%s", err, out)
	}
	for _, table := range []string{"segment_changes", "activation_deliveries"} {
		var n uint64
		if err := r.conn.QueryRow(ctx, "SELECT count() FROM "+table+" FINAL WHERE person_id = 'p_act00'").Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows of ann after forget (%v)", table, n, err)
		}
	}
	erasedAt := time.Now()
	after := r.produce(ctx, 40, start.Add(45*time.Minute), "p_act00", "p_act01")
	if len(webhookKeys(after)) == len(webhookKeys(after, "p_act00")) {
		t.Fatal("no change of ann for the webhook after her erasure: the test would show nothing")
	}
	want := webhookKeys(changes)
	for k := range webhookKeys(after, "p_act00") {
		want[k] = true
	}
	waitDelivered(ctx, t, hook, r.conn, want, "p_act00")
	for _, p := range hook.got {
		if p.Person == "p_act00" && p.At.After(start.Add(45*time.Minute-time.Second)) {
			t.Errorf("ann's change %+v was delivered after her erasure", p)
		}
	}
	waitAudienceWithout(ctx, t, audiences, erasedAt, sha("ann@example.com"), sha("+442079460958"))

	// Replay everything: each key once more, none of ann's.
	before := map[string]int{}
	hook.mu.Lock()
	for k, n := range hook.posts {
		before[k] = n
	}
	hook.mu.Unlock()
	replay, err := runTouchline(ctx, "--config", r.cfgPath, "activate", "replay", "--destination", "crm", "--from", start.Add(-time.Minute).Format(time.RFC3339))
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, replay)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for k, n := range hook.posts {
		p := hook.got[k]
		switch {
		case p.Person == "p_act00" && n != before[k]:
			t.Errorf("replay sent ann's %s again", k)
		case p.Person != "p_act00" && n != before[k]+1:
			t.Errorf("replay sent %s %d times, want once more than %d", k, n-before[k], before[k])
		}
	}
}

// sha returns the hex SHA-256 of s.
func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// audienceHas reports whether the audience file of lapsed_buyers has
// value in any field.
func audienceHas(ctx context.Context, t *testing.T, dir, value string) bool {
	t.Helper()
	for _, row := range readAudience(ctx, t, filepath.Join(dir, "lapsed_buyers.csv")) {
		if slices.Contains(row, value) {
			return true
		}
	}
	return false
}

// waitAudienceWithout waits until the audience files of lapsed_buyers
// (full and delta) have been written after since, and checks that neither
// holds any of values.
func waitAudienceWithout(ctx context.Context, t *testing.T, dir string, since time.Time, values ...string) {
	t.Helper()
	for _, f := range []string{"lapsed_buyers.csv", "lapsed_buyers.delta.csv"} {
		path := filepath.Join(dir, f)
		for {
			if st, err := os.Stat(path); err == nil && st.ModTime().After(since.Add(time.Second)) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s not written after the erasure", f)
			case <-time.After(200 * time.Millisecond):
			}
		}
		for _, row := range readAudience(ctx, t, path) {
			for _, v := range values {
				if slices.Contains(row, v) {
					t.Errorf("%s still has %s after the erasure: %v", f, v, row)
				}
			}
		}
	}
}

// readAudience reads a CSV audience file, waiting for it to exist.
func readAudience(ctx context.Context, t *testing.T, path string) [][]string {
	t.Helper()
	for {
		f, err := os.Open(path)
		if err == nil {
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never written", path)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestActivateWebhookBatches delivers generated changes to a webhook with
// batch_size 7 and batch_wait 3s: every change exactly once, in POSTs that
// are signed JSON arrays under the key of their changes' keys, all of 7
// changes but the last; the whole batches at once, the last once its first
// change has waited batch_wait; none again after a restart; and, after a
// SIGKILL while batches flow, at most the changes of the batch in flight
// again.
func TestActivateWebhookBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hook, url := startHookReceiver(t)
	r := newActivateRun(ctx, t, url, t.TempDir())
	const size, wait = 7, 3 * time.Second
	writeDestinations(t, r.cfg.Pipelines, fmt.Sprintf(`group: %s
destinations:
  - name: crm
    kind: webhook
    segments: [cart_abandoners, lapsed_buyers]
    url: %s
    secret_env: TL_TEST_HOOK_SECRET
    rate: 500
    batch_size: %d
    batch_wait: %s
`, r.group, url, size, wait))
	changes := r.produce(ctx, 150, time.Now().Add(-time.Hour).Truncate(time.Second))
	want := webhookKeys(changes)
	if len(want)%size == 0 {
		t.Fatalf("%d changes for the webhook fill whole batches: no partial batch to show", len(want))
	}
	log := logPath(t)
	started := time.Now()
	svc := r.start(ctx, log)
	waitDelivered(ctx, t, hook, r.conn, want, "")
	hook.mu.Lock()
	batches := append([]receivedBatch(nil), hook.batches...)
	hook.mu.Unlock()
	if len(batches) != len(want)/size+1 {
		t.Fatalf("%d batches for %d changes, want %d", len(batches), len(want), len(want)/size+1)
	}
	for i, b := range batches[:len(batches)-1] {
		if b.size != size {
			t.Errorf("batch %d has %d changes, want %d", i, b.size, size)
		}
	}
	// Whole batches go at once; the partial one waits batch_wait from the
	// poll that brought its first change, just before the first batch.
	first, last := batches[0], batches[len(batches)-1]
	if last.size != len(want)%size || last.at.Sub(first.at) < wait-time.Second || last.at.Sub(started) < wait {
		t.Errorf("the last batch has %d changes, %s after the first; want %d, about batch_wait %s after", last.size, last.at.Sub(first.at), len(want)%size, wait)
	}
	if whole := batches[len(batches)-2]; whole.at.Sub(first.at) >= wait/2 {
		t.Errorf("the whole batches were held: the last came %s after the first", whole.at.Sub(first.at))
	}
	if err := testenv.WaitCommitted(ctx, r.cfg, r.group, r.cfg.Kafka.Topics.SegmentChanges); err != nil {
		t.Fatal(err)
	}
	svc.Kill()
	svc = r.start(ctx, log)
	time.Sleep(wait + time.Second)
	waitDelivered(ctx, t, hook, r.conn, want, "")

	// A SIGKILL while batches flow (each answered after 30ms) posts again
	// at most the batch in flight: 7 changes, with their keys.
	hook.mu.Lock()
	hook.delay = 30 * time.Millisecond
	hook.mu.Unlock()
	_, before := hook.counts()
	changes = append(changes, r.produce(ctx, 600, time.Now().Add(-30*time.Minute).Truncate(time.Second))...)
	want = webhookKeys(changes)
	waitUntil(ctx, t, "batches of the new changes", func() bool { _, posts := hook.counts(); return posts >= before+5*size })
	svc.Kill()
	keys, posts := hook.counts()
	if keys >= len(want) {
		t.Fatal("every change was posted before the SIGKILL: the test shows nothing")
	}
	t.Logf("SIGKILL with %d of %d changes posted", posts, len(want))
	r.start(ctx, log)
	waitDeliveredResent(ctx, t, hook, r.conn, want, "", size)
	keys, posts = hook.counts()
	t.Logf("%d changes posted again after the SIGKILL, with their keys", posts-keys)
}
