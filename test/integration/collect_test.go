package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/testenv"
)

// startCollectPipeline prepares a test's topics and database, runs ingest,
// the identity resolver and the collector (write key "wk_test", source
// "web") as processes, and returns the collector's base URL.
func startCollectPipeline(ctx context.Context, t *testing.T, tune func(*collect.Config)) (config.Config, driver.Conn, string) {
	t.Helper()
	cfg, conn, cfgPath := setup(ctx, t, 2, func(c *config.Config) {
		c.Collect.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		c.Collect.WriteKeys = []collect.WriteKey{{Key: "wk_test", Source: "web", Origins: []string{"*"}}}
		c.Collect.MaxBodyBytes = 8 << 20
		if tune != nil {
			tune(&c.Collect)
		}
	})
	log := logPath(t)
	startIngest(t, cfgPath, log)
	startResolver(t, cfgPath, log)
	return cfg, conn, testenv.StartCollect(t, cfgPath, log)
}

// post sends body to the collector with the test's write key and returns
// the status and the decoded answer.
func post(t *testing.T, base, path, contentType, body string) (int, collect.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.SetBasicAuth("wk_test", "")
	cl := &http.Client{Timeout: 60 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r collect.Response
	if err := json.Unmarshal(b, &r); err != nil && resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST %s: %d, answer not JSON: %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode, r
}

// TestCollectBadInput sends the collector each kind of bad request and a
// 10,000-record batch with 10 bad records, on the real servers: each bad
// request gets its documented status and reason (a bad record's reason
// being the dead-letter reason ingest would give), every good record is
// queryable in ClickHouse, and the touchpoints topic holds exactly the good
// ones (nothing is dead-lettered).
func TestCollectBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, conn, base := startCollectPipeline(ctx, t, func(c *collect.Config) { c.MaxBodyBytes = 2 << 20 })
	now := time.Now().UTC().Format(time.RFC3339)
	for _, c := range []struct {
		name, path, contentType, body string
		status                        int
		reason                        string
	}{
		{"malformed JSON", "/v1/track", "application/json", `{"type":"track","event":`, 400, collect.ReasonMalformed},
		{"wrong content type", "/v1/track", "application/xml", `<track/>`, 415, collect.ReasonContentType},
		{"missing both ids", "/v1/track", "application/json", `{"event":"Product Added","messageId":"bad-1"}`, 400, "missing_field"},
		{"oversize body", "/v1/track", "application/json", `{"event":"X","userId":"u","properties":{"p":"` + strings.Repeat("x", 3<<20) + `"}}`, 413, collect.ReasonTooLarge},
		{"invalid email", "/v1/identify", "application/json", `{"userId":"u-1","messageId":"bad-2","traits":{"email":"jane.example.com"}}`, 400, "invalid_identifier"},
		{"negative revenue", "/v1/track", "application/json", `{"event":"Order Completed","messageId":"bad-3","userId":"u-1","properties":{"revenue":-10,"currency":"EUR"}}`, 400, "negative_revenue"},
		{"touchline form, empty body", "/v1/touchpoints", "application/json", "", 400, collect.ReasonMalformed},
		{"touchline form, bad field", "/v1/touchpoints", "application/json", `{"event_id":"bad-4","event_time":"` + now + `","event_type":"click","identifiers":{"anonymous_id":"a"},"currency":"euro"}`, 400, "invalid_field"},
	} {
		status, r := post(t, base, c.path, c.contentType, c.body)
		if status != c.status || (c.status != 413 && r.Reason != c.reason) {
			t.Errorf("%s: %d %q (%s); want %d %q", c.name, status, r.Reason, r.Error, c.status, c.reason)
		}
	}
	// A bad write key.
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/track", strings.NewReader(`{"event":"X","userId":"u"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("wk_wrong", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad write key: %d, want 401", resp.StatusCode)
	}

	// 10,000 records, 10 of them bad in five ways: 9,990 good ones with
	// 1.5 units of revenue each.
	var msgs []string
	bad := map[int]string{}
	badKinds := []struct{ body, reason string }{
		{`{"type":"track","event":"Order Completed","messageId":"b-%d","userId":"u","properties":{"revenue":-1}}`, "negative_revenue"},
		{`{"type":"identify","messageId":"b-%d","userId":"u","traits":{"email":"nope"}}`, "invalid_identifier"},
		{`{"type":"track","event":"Product Added","messageId":"b-%d"}`, "missing_field"},
		{`{"type":"track","event":"Order Completed","messageId":"b-%d","userId":"u","properties":{"revenue":1,"currency":"EURO"}}`, "invalid_field"},
		{`{"type":"page","messageId":"b-%d","anonymousId":"a","timestamp":"1999-01-01T00:00:00Z"}`, "invalid_time"},
	}
	for i := range 10000 {
		if i%1000 == 500 {
			k := badKinds[len(bad)%len(badKinds)]
			bad[i] = k.reason
			msgs = append(msgs, fmt.Sprintf(k.body, i))
			continue
		}
		msgs = append(msgs, fmt.Sprintf(`{"type":"track","event":"Order Completed","messageId":"g-%d","anonymousId":"a-%d",`+
			`"properties":{"revenue":1.5,"currency":"EUR","order_id":"o-%d"},"timestamp":"%s"}`, i, i%97, i, now))
	}
	status, r := post(t, base, "/v1/batch", "application/json", `{"batch":[`+strings.Join(msgs, ",")+`]}`)
	if status != 200 || r.Accepted != 9990 || len(r.Rejected) != 10 {
		t.Fatalf("batch: %d, accepted %d, rejected %v", status, r.Accepted, r.Rejected)
	}
	for _, rej := range r.Rejected {
		if bad[rej.Index] != rej.Reason {
			t.Errorf("rejected %+v, want index with reason %q", rej, bad[rej.Index])
		}
	}

	got, err := testenv.WaitTotals(ctx, conn, 9990)
	if err != nil || got.Rows != 9990 || got.Revenue != 9990*1_500_000 {
		t.Fatalf("ClickHouse holds %d rows, revenue %d (%v); want 9990, %d", got.Rows, got.Revenue, err, 9990*1_500_000)
	}
	var purchases, sources uint64
	if err := conn.QueryRow(ctx, "SELECT countIf(event_type = 'purchase'), countIf(has(property_keys, 'source')) FROM touchpoints FINAL").Scan(&purchases, &sources); err != nil {
		t.Fatal(err)
	}
	if purchases != 9990 || sources != 9990 {
		t.Errorf("%d purchases, %d with a source; want 9990 each", purchases, sources)
	}
	if n := topicRecords(ctx, t, cfg, cfg.Kafka.Topics.Touchpoints); n != 9990 {
		t.Errorf("the touchpoints topic holds %d records, want the 9990 good ones", n)
	}
	if n := topicRecords(ctx, t, cfg, cfg.Kafka.Topics.DeadLetter); n != 0 {
		t.Errorf("%d dead letters: a bad record reached the topic", n)
	}
}

// TestCollectKafkaOutage stops the broker with SIGSTOP for 30 s while a
// client keeps sending, as an SDK does, retrying what was not answered
// 200: no request is answered 200 while the broker is stopped, none waits
// longer than its bounded wait, and after the broker returns every
// message is queryable exactly once (messageId is the event id, so
// attempts that did reach Kafka count once).
func TestCollectKafkaOutage(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	_, conn, base := startCollectPipeline(ctx, t, func(c *collect.Config) { c.AckTimeout = 3 * time.Second })
	// Each message keeps its timestamp; each attempt has a new sentAt, as
	// the SDKs set it when they send.
	created := map[int]string{}
	message := func(i int) string {
		if created[i] == "" {
			created[i] = time.Now().UTC().Format(time.RFC3339Nano)
		}
		return fmt.Sprintf(`{"batch":[{"type":"track","event":"Order Completed","messageId":"m-%d","userId":"u-%d",`+
			`"properties":{"revenue":2,"currency":"EUR"},"timestamp":"%s"}],"sentAt":"%s"}`,
			i, i%5, created[i], time.Now().UTC().Format(time.RFC3339Nano))
	}
	var pending []int
	sent, okDuringPause := 0, 0
	send := func() {
		var still []int
		for _, i := range pending {
			start := time.Now()
			status, _ := post(t, base, "/v1/batch", "application/json", message(i))
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("a request took %s", took)
			}
			if status != 200 {
				still = append(still, i)
			}
		}
		pending = still
	}
	for range 5 { // before the outage
		pending = append(pending, sent)
		sent++
	}
	send()
	if len(pending) != 0 {
		t.Fatalf("%d requests failed before the outage", len(pending))
	}
	pausedAt := pause(t, s.Kafka)
	var during []int
	for time.Since(pausedAt) < 30*time.Second {
		before := len(pending)
		pending = append(pending, sent)
		sent++
		send()
		okDuringPause += before + 1 - len(pending)
		during = append(during, len(pending))
	}
	if okDuringPause != 0 || len(during) == 0 {
		t.Errorf("%d requests were answered 200 while the broker was stopped (%d rounds)", okDuringPause, len(during))
	}
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the broker stopped: %v %v, want 503", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := s.Kafka.Resume(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages sent, %d unanswered after 30 s of outage", sent, len(pending))
	for deadline := time.Now().Add(2 * time.Minute); len(pending) > 0; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still refused 2 minutes after the broker returned", len(pending))
		}
		send()
	}
	got, err := testenv.WaitTotals(ctx, conn, uint64(sent))
	if err != nil || got.Rows != uint64(sent) || got.Revenue != int64(sent)*2_000_000 {
		t.Fatalf("%d rows, revenue %d (%v); want %d rows, %d", got.Rows, got.Revenue, err, sent, int64(sent)*2_000_000)
	}
	var ids uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(event_id) FROM touchpoints FINAL").Scan(&ids); err != nil || ids != uint64(sent) {
		t.Errorf("%d distinct event ids (%v), want %d", ids, err, sent)
	}
}

// TestCollectStitchesAndClassifies sends what a web shop's SDK sends: a
// page view from an ad click (a gclid, no UTM parameters), an identify
// with the anonymous id and the user id, and an order by the user id
// alone. Each is stored with its event type and channel, the order with
// its revenue, and all three resolve to one person.
func TestCollectStitchesAndClassifies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, conn, base := startCollectPipeline(ctx, t, nil)
	status, r := post(t, base, "/v1/batch", "text/plain", `{"batch":[
		{"type":"page","messageId":"s-1","anonymousId":"anon-s","context":{"page":{"url":"https://shop.example.com/shoes?gclid=G-1"}}},
		{"type":"identify","messageId":"s-2","anonymousId":"anon-s","userId":"user-s","traits":{"email":"Stitch@Example.com"}}]}`)
	if status != 200 || r.Accepted != 2 {
		t.Fatalf("page and identify: %d %+v", status, r)
	}
	status, r = post(t, base, "/v1/track", "application/json",
		`{"messageId":"s-3","userId":"user-s","event":"Order Completed","properties":{"revenue":"99.90","currency":"EUR","order_id":"o-s"}}`)
	if status != 200 || r.Accepted != 1 {
		t.Fatalf("order: %d %+v", status, r)
	}
	if _, err := testenv.WaitTotals(ctx, conn, 3); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT event_id, event_type, channel, revenue, order_id FROM touchpoints FINAL ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, typ, ch, order string
		var revenue int64
		if err := rows.Scan(&id, &typ, &ch, &revenue, &order); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d %s", id, typ, ch, revenue, order))
	}
	rows.Close()
	// The identify and the order carry no campaign: direct.
	want := "s-1 page_view paid_search 0 |s-2 identify direct 0 |s-3 purchase direct 99900000 o-s"
	if strings.Join(got, "|") != want {
		t.Errorf("rows:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		var persons uint64
		if err := conn.QueryRow(ctx, "SELECT uniqExact(resolved_person_id) FROM touchpoints_resolved").Scan(&persons); err != nil {
			t.Fatal(err)
		}
		if persons == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d persons a minute after the identify, want 1", persons)
		}
	}
}

// TestCollectCapsBytesInFlight stops the broker while a request of about
// 3,000 bytes waits for its acknowledgement, with collect.max_inflight_bytes
// at 5,000: a second request of about 3,000 bytes is answered 503
// overloaded with Retry-After at once, rather than joining the wait. After
// the broker returns, both are delivered by retries, exactly once each.
func TestCollectCapsBytesInFlight(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, conn, base := startCollectPipeline(ctx, t, func(c *collect.Config) {
		c.MaxBodyBytes, c.MaxInflightBytes, c.AckTimeout = 4096, 5000, 5*time.Second
	})
	// A retry keeps the message's timestamp, as the SDKs do: the event
	// time is part of the key ClickHouse deduplicates on.
	at := time.Now().UTC().Format(time.RFC3339Nano)
	message := func(id string) string {
		return fmt.Sprintf(`{"batch":[{"type":"track","event":"Order Completed","messageId":"%s","userId":"u-%s","timestamp":"%s",`+
			`"properties":{"revenue":3,"currency":"EUR","pad":"%s"}}]}`, id, id, at, strings.Repeat("x", 2900))
	}
	first := make(chan int, 1)
	pause(t, s.Kafka)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/batch", strings.NewReader(message("m-1")))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("wk_test", "")
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	time.Sleep(time.Second) // the first request is read and waits for Kafka
	start := time.Now()
	status, resp := post(t, base, "/v1/batch", "application/json", message("m-2"))
	if took := time.Since(start); status != http.StatusServiceUnavailable || resp.Reason != collect.ReasonOverloaded || took > time.Second {
		t.Errorf("second request: %d %q after %s, want 503 %q at once", status, resp.Reason, took, collect.ReasonOverloaded)
	}
	if err := s.Kafka.Resume(); err != nil {
		t.Fatal(err)
	}
	if code := <-first; code != http.StatusOK && code != http.StatusServiceUnavailable {
		t.Errorf("first request: %d, want 200 or 503 (not acknowledged in time)", code)
	}
	for _, id := range []string{"m-1", "m-2"} {
		for attempt := 0; ; attempt++ {
			if status, _ := post(t, base, "/v1/batch", "application/json", message(id)); status == http.StatusOK {
				break
			}
			if attempt == 60 {
				t.Fatalf("%s still refused a minute after the broker returned", id)
			}
			time.Sleep(time.Second)
		}
	}
	got, err := testenv.WaitTotals(ctx, conn, 2)
	if err != nil || got.Rows != 2 || got.Revenue != 6_000_000 {
		t.Fatalf("%d rows, revenue %d (%v); want 2 rows, 6000000", got.Rows, got.Revenue, err)
	}
}
