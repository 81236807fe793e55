package collect

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/channel"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// fakeSender records what it is given; err fails every send, block makes
// sends wait for their context.
type fakeSender struct {
	mu    sync.Mutex
	got   []*touchpoint.Touchpoint
	err   error
	block bool
}

func (f *fakeSender) TouchpointsSync(ctx context.Context, ts []*touchpoint.Touchpoint) error {
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.err != nil {
		return f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range ts {
		f.got = append(f.got, copied(t))
	}
	return nil
}

// copied is a copy of t that shares no memory with it, as a Sender must
// keep what it keeps: a request's touchpoints are reused after it.
func copied(t *touchpoint.Touchpoint) *touchpoint.Touchpoint {
	b, err := json.Marshal(t)
	if err != nil {
		panic(err)
	}
	c := &touchpoint.Touchpoint{}
	if err := json.Unmarshal(b, c); err != nil {
		panic(err)
	}
	return c
}

func (f *fakeSender) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, len(f.got))
	for i, t := range f.got {
		ids[i] = t.EventID
	}
	return ids
}

// ingestValidator is the ingest service's validation as it runs with the
// shipped pipelines directory: its channel and identity rules.
func ingestValidator(t testing.TB) Validator {
	t.Helper()
	dir := filepath.Join("..", "..", "pipelines")
	ids, err := stitch.LoadRules(filepath.Join(dir, stitch.RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	norm, err := ids.Normalizer("")
	if err != nil {
		t.Fatal(err)
	}
	channels, err := channel.Load(filepath.Join(dir, "channels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	proc := enrich.NewProcessor(avro.NewCodecs(nil), channels, norm, ids, touchpoint.DefaultLimits())
	return proc.Check
}

func newTestServer(t testing.TB, send Sender, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.WriteKeys = []WriteKey{
		{Key: "wk_web", Source: "website", Origins: []string{"https://shop.example.com"}},
		{Key: "wk_srv", Source: "backend"},
	}
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return NewServer(cfg, DefaultMapping(), ingestValidator(t), send, NewMetrics(prometheus.NewRegistry()), zap.NewNop())
}

type call struct {
	path, body, key, contentType, origin, encoding string
}

func (s *Server) do(c call) (*httptest.ResponseRecorder, Response) {
	req := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body))
	if c.contentType == "" {
		c.contentType = "application/json"
	}
	req.Header.Set("Content-Type", c.contentType)
	if c.key != "" {
		req.SetBasicAuth(c.key, "")
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	if c.encoding != "" {
		req.Header.Set("Content-Encoding", c.encoding)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	var resp Response
	_ = json.Unmarshal(w.Body.Bytes(), &resp)
	return w, resp
}

func track(id, extra string) string {
	return `{"type":"track","event":"Product Added","messageId":"` + id + `","anonymousId":"a-1"` + extra + `}`
}

// TestServerDeliversAndAnswersAfterTheAcknowledgement: a track call is
// sent, then answered 200 with what was accepted.
func TestServerDeliversAndAnswersAfterTheAcknowledgement(t *testing.T) {
	send := &fakeSender{}
	s := newTestServer(t, send, nil)
	w, resp := s.do(call{path: "/v1/track", body: track("m-1", ""), key: "wk_srv"})
	if w.Code != 200 || !resp.Success || resp.Accepted != 1 || len(send.got) != 1 {
		t.Fatalf("%d %s, sent %d", w.Code, w.Body, len(send.got))
	}
	if got := send.got[0]; got.EventType != "add_to_cart" || got.Properties.Get("source") != "backend" {
		t.Errorf("sent %+v", got)
	}
	// analytics-next: /v1/t, text/plain, the write key in the body.
	w, _ = s.do(call{path: "/v1/t", contentType: "text/plain", origin: "https://shop.example.com",
		body: `{"event":"Product Added","messageId":"m-2","anonymousId":"a","writeKey":"wk_web"}`})
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Errorf("browser call: %d %s %v", w.Code, w.Body, w.Header())
	}
	// gzip.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"batch":[` + track("m-3", "") + `,` + track("m-4", "") + `]}`))
	_ = zw.Close()
	w, resp = s.do(call{path: "/v1/batch", body: gz.String(), key: "wk_srv", encoding: "gzip"})
	if w.Code != 200 || resp.Accepted != 2 {
		t.Errorf("gzip batch: %d %s", w.Code, w.Body)
	}
	// touchline's own form, one and many.
	tp := `{"event_id":"e-%d","event_time":"%s","event_type":"purchase","identifiers":{"customer_id":"c"},"revenue":10,"currency":"EUR"}`
	now := time.Now().UTC().Format(time.RFC3339)
	w, resp = s.do(call{path: "/v1/touchpoints", body: fmt.Sprintf(tp, 1, now), key: "wk_srv"})
	if w.Code != 200 || resp.Accepted != 1 {
		t.Errorf("touchpoint: %d %s", w.Code, w.Body)
	}
	w, resp = s.do(call{path: "/v1/touchpoints", body: "[" + fmt.Sprintf(tp, 2, now) + "," + fmt.Sprintf(tp, 3, now) + "]", key: "wk_srv"})
	if w.Code != 200 || resp.Accepted != 2 {
		t.Errorf("touchpoints: %d %s", w.Code, w.Body)
	}
	if got := strings.Join(send.ids(), ","); got != "m-1,m-2,m-3,m-4,e-1,e-2,e-3" {
		t.Errorf("sent %s", got)
	}
}

// TestServerBadInput: every bad request gets its documented status and
// reason, the reason of a bad record being the dead-letter reason, and
// nothing bad is sent.
func TestServerBadInput(t *testing.T) {
	send := &fakeSender{}
	s := newTestServer(t, send, func(c *Config) { c.MaxBodyBytes = 4096 })
	for _, c := range []struct {
		name   string
		call   call
		status int
		reason string
		errSub string
	}{
		{"malformed JSON", call{path: "/v1/track", body: `{"type":"track",`, key: "wk_srv"}, 400, ReasonMalformed, "invalid JSON"},
		{"trailing data", call{path: "/v1/track", body: track("x", "") + `{}`, key: "wk_srv"}, 400, ReasonMalformed, "after the JSON value"},
		{"wrong content type", call{path: "/v1/track", body: track("x", ""), key: "wk_srv", contentType: "application/x-www-form-urlencoded"}, 415, ReasonContentType, ""},
		{"missing both ids", call{path: "/v1/track", body: `{"event":"X","messageId":"x"}`, key: "wk_srv"}, 400, "missing_field", "identifiers: needs at least one entry"},
		{"oversize body", call{path: "/v1/track", body: track("x", `,"properties":{"p":"`+strings.Repeat("x", 5000)+`"}`), key: "wk_srv"}, 413, ReasonTooLarge, "larger than 4096 bytes"},
		{"no write key", call{path: "/v1/track", body: track("x", "")}, 401, ReasonWriteKey, "no write key"},
		{"bad write key", call{path: "/v1/track", body: track("x", ""), key: "wk_nope"}, 401, ReasonWriteKey, "unknown write key"},
		{"invalid email", call{path: "/v1/identify", body: `{"userId":"u","traits":{"email":"not-an-email"}}`, key: "wk_srv"}, 400, "invalid_identifier", "email"},
		{"negative revenue", call{path: "/v1/track", body: `{"event":"Order Completed","userId":"u","properties":{"revenue":-5}}`, key: "wk_srv"}, 400, "negative_revenue", "revenue: is negative (-5)"},
		{"origin not allowed", call{path: "/v1/track", body: track("x", ""), key: "wk_srv", origin: "https://shop.example.com"}, 403, ReasonOrigin, "not allowed"},
		{"unknown touchpoint field", call{path: "/v1/touchpoints", body: `{"event_id":"x","colour":"red"}`, key: "wk_srv"}, 400, ReasonMalformed, "unknown field"},
		{"bad gzip", call{path: "/v1/track", body: "not gzip", key: "wk_srv", encoding: "gzip"}, 400, ReasonMalformed, "gzip"},
		{"empty touchpoints body", call{path: "/v1/touchpoints", body: "", key: "wk_srv"}, 400, ReasonMalformed, "invalid JSON"},
		{"white space as touchpoints body", call{path: "/v1/touchpoints", body: " \r\n", key: "wk_srv"}, 400, ReasonMalformed, "invalid JSON"},
		{"empty batch body", call{path: "/v1/batch", body: "", key: "wk_srv"}, 400, ReasonMalformed, "invalid JSON"},
		{"empty track body", call{path: "/v1/track", body: "", key: "wk_srv"}, 400, ReasonMalformed, "invalid JSON"},
	} {
		w, resp := s.do(c.call)
		if w.Code != c.status || resp.Success || resp.Reason != c.reason || !strings.Contains(resp.Error, c.errSub) {
			t.Errorf("%s: %d %s; want %d %s %q", c.name, w.Code, w.Body, c.status, c.reason, c.errSub)
		}
	}
	if len(send.got) != 0 {
		t.Errorf("sent %v", send.ids())
	}
}

// TestServerBatchAcceptsTheGoodAndListsTheBad: 10,000 records with 10
// bad ones: the 9,990 good ones are sent, the bad ones listed by index.
func TestServerBatchAcceptsTheGoodAndListsTheBad(t *testing.T) {
	send := &fakeSender{}
	s := newTestServer(t, send, func(c *Config) { c.MaxBodyBytes = 8 << 20 })
	var msgs []string
	var wantBad []Rejected
	for i := range 10000 {
		if i%1000 == 7 {
			msgs = append(msgs, fmt.Sprintf(`{"type":"track","event":"Order Completed","messageId":"m-%d","userId":"u","properties":{"revenue":-1}}`, i))
			wantBad = append(wantBad, Rejected{Index: i, Reason: "negative_revenue", Error: "revenue: is negative (-1)"})
			continue
		}
		msgs = append(msgs, fmt.Sprintf(`{"type":"page","messageId":"m-%d","anonymousId":"a-%d"}`, i, i%37))
	}
	w, resp := s.do(call{path: "/v1/batch", key: "wk_srv", body: `{"batch":[` + strings.Join(msgs, ",") + `]}`})
	if w.Code != 200 || resp.Accepted != 9990 || len(send.got) != 9990 {
		t.Fatalf("%d, accepted %d, sent %d", w.Code, resp.Accepted, len(send.got))
	}
	if fmt.Sprint(resp.Rejected) != fmt.Sprint(wantBad) {
		t.Errorf("rejected %v\nwant %v", resp.Rejected, wantBad)
	}
	for _, tp := range send.got {
		if tp.Revenue != nil {
			t.Fatalf("a bad record was sent: %+v", tp)
		}
	}
	// A batch of nothing but bad records is refused whole.
	w, resp = s.do(call{path: "/v1/batch", key: "wk_srv", body: `{"batch":[{"type":"track","event":"X"},{"type":"nope","userId":"u"}]}`})
	if w.Code != 400 || len(resp.Rejected) != 2 || resp.Rejected[1].Reason != "invalid_field" {
		t.Errorf("all bad: %d %s", w.Code, w.Body)
	}
}

// TestServerAnswers503WhenKafkaFails: never 200 for records Kafka did not
// acknowledge, and never a request that waits longer than ack_timeout.
func TestServerAnswers503WhenKafkaFails(t *testing.T) {
	s := newTestServer(t, &fakeSender{err: errors.New("broker gone")}, nil)
	w, resp := s.do(call{path: "/v1/track", body: track("m", ""), key: "wk_srv"})
	if w.Code != 503 || resp.Reason != ReasonUnavailable || w.Header().Get("Retry-After") != "1" || !strings.Contains(resp.Error, "broker gone") {
		t.Errorf("failing Kafka: %d %s %v", w.Code, w.Body, w.Header())
	}
	s = newTestServer(t, &fakeSender{block: true}, func(c *Config) { c.AckTimeout = 200 * time.Millisecond })
	start := time.Now()
	w, _ = s.do(call{path: "/v1/track", body: track("m", ""), key: "wk_srv"})
	if took := time.Since(start); w.Code != 503 || took > 2*time.Second {
		t.Errorf("hung Kafka: %d after %s", w.Code, took)
	}
}

// TestServerRateLimit: 10 records a second; a batch of 10 spends it, the
// next request waits about a second.
func TestServerRateLimit(t *testing.T) {
	s := newTestServer(t, &fakeSender{}, func(c *Config) { c.WriteKeys[1].RatePerSecond = 10 })
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	batch := `{"batch":[` + strings.TrimSuffix(strings.Repeat(track("m", "")+",", 10), ",") + `]}`
	if w, _ := s.do(call{path: "/v1/batch", body: batch, key: "wk_srv"}); w.Code != 200 {
		t.Fatalf("first batch: %d %s", w.Code, w.Body)
	}
	w, resp := s.do(call{path: "/v1/track", body: track("m", ""), key: "wk_srv"})
	if w.Code != 429 || resp.Reason != ReasonRateLimited || w.Header().Get("Retry-After") != "1" {
		t.Errorf("over the rate: %d %s %v", w.Code, w.Body, w.Header())
	}
	if w, _ := s.do(call{path: "/v1/track", body: track("m", ""), key: "wk_web"}); w.Code != 200 {
		t.Errorf("another key is not limited: %d", w.Code)
	}
	now = now.Add(150 * time.Millisecond)
	if w, _ := s.do(call{path: "/v1/track", body: track("m", ""), key: "wk_srv"}); w.Code != 200 {
		t.Errorf("after 150ms: %d %s", w.Code, w.Body)
	}
}

func TestServerCORSPreflight(t *testing.T) {
	s := newTestServer(t, &fakeSender{}, nil)
	for origin, want := range map[string]int{"https://shop.example.com": 204, "https://evil.example": 403, "": 403} {
		req := httptest.NewRequest(http.MethodOptions, "/v1/t", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		wantAllow := ""
		if want == 204 {
			wantAllow = origin
		}
		if w.Code != want || w.Header().Get("Access-Control-Allow-Origin") != wantAllow {
			t.Errorf("preflight from %q: %d %v", origin, w.Code, w.Header())
		}
	}
}

// TestServerBatchWithoutIDsOrWithBadMessages: in a batch with a message
// without messageId and one that does not decode, the first gets the id
// of its own JSON and the second is refused alone, at its index.
func TestServerBatchWithoutIDsOrWithBadMessages(t *testing.T) {
	noID := `{"type":"page","anonymousId":"a-2"}`
	sum := sha256.Sum256([]byte(noID))
	body := `{"batch":[` + track("m-1", "") + `,` + noID + `,` + track("m-3", `,"userId":{"id":1}`) + `,` + track("m-4", "") + `]}`
	send := &fakeSender{}
	w, resp := newTestServer(t, send, nil).do(call{path: "/v1/batch", key: "wk_srv", body: body})
	if w.Code != 200 || resp.Accepted != 3 || len(resp.Rejected) != 1 || resp.Rejected[0].Index != 2 || resp.Rejected[0].Reason != "invalid_field" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	want := []string{"m-1", "sha256-" + hex.EncodeToString(sum[:16]), "m-4"}
	if got := send.ids(); !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
}

// heldSender holds every send until release is closed, and tells when one
// has started.
type heldSender struct {
	started chan struct{}
	release chan struct{}
}

func (h *heldSender) TouchpointsSync(ctx context.Context, _ []*touchpoint.Touchpoint) error {
	h.started <- struct{}{}
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestServerCapsBytesInFlight: with max_inflight_bytes of 3,000, a request
// of 1,900 bytes waiting for Kafka leaves room for no other of 1,200 bytes,
// which is answered 503 overloaded with Retry-After at once (not after the
// first one's wait), and none for a gzipped one (counted at max_body_bytes);
// once the first is answered, the same request is accepted.
func TestServerCapsBytesInFlight(t *testing.T) {
	send := &heldSender{started: make(chan struct{}, 4), release: make(chan struct{})}
	s := newTestServer(t, send, func(c *Config) { c.MaxBodyBytes, c.MaxInflightBytes = 2048, 3000 })
	big := track("m-big", `,"properties":{"pad":"`+strings.Repeat("x", 1900-len(track("m-big", `,"properties":{"pad":""}`)))+`"}`)
	small := track("m-small", `,"properties":{"pad":"`+strings.Repeat("x", 1200-len(track("m-small", `,"properties":{"pad":""}`)))+`"}`)
	if len(big) != 1900 || len(small) != 1200 {
		t.Fatalf("bodies of %d and %d bytes", len(big), len(small))
	}
	first := make(chan int)
	go func() {
		w, _ := s.do(call{path: "/v1/track", key: "wk_srv", body: big})
		first <- w.Code
	}()
	<-send.started
	w, resp := s.do(call{path: "/v1/track", key: "wk_srv", body: small})
	if w.Code != http.StatusServiceUnavailable || resp.Reason != ReasonOverloaded || w.Header().Get("Retry-After") != "1" {
		t.Errorf("second request: %d %s, Retry-After %q; want 503 overloaded", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(track("m-gz", "")))
	_ = zw.Close()
	if w, resp := s.do(call{path: "/v1/track", key: "wk_srv", body: gz.String(), encoding: "gzip"}); w.Code != http.StatusServiceUnavailable || resp.Reason != ReasonOverloaded {
		t.Errorf("gzipped request: %d %s; want 503 overloaded", w.Code, w.Body)
	}
	close(send.release)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("first request: %d", code)
	}
	if w, _ := s.do(call{path: "/v1/track", key: "wk_srv", body: small}); w.Code != http.StatusOK {
		t.Errorf("second request once the first was answered: %d %s", w.Code, w.Body)
	}
	if s.inflight != 0 {
		t.Errorf("%d bytes still counted in flight", s.inflight)
	}
}

// TestServerReusesRequestsRoomCleanly: requests of batches of different
// sizes and shapes, four at a time, each sending what its body converted
// alone gives, whatever the requests before left in the room they reuse
// (bodies, messages, members, touchpoints, their maps and contexts).
func TestServerReusesRequestsRoomCleanly(t *testing.T) {
	send := &fakeSender{}
	s := newTestServer(t, send, nil)
	r := rand.New(rand.NewPCG(5, 2026))
	var bodies []string
	for i := range 200 {
		var msgs []string
		for j := range 1 + r.IntN(30) {
			var props []string
			for k := range r.IntN(12) {
				props = append(props, fmt.Sprintf(`"p%d":"v%d"`, (k*7+i)%15, r.IntN(5)))
			}
			extra := `,"properties":{` + strings.Join(props, ",") + `}`
			if r.IntN(2) == 0 {
				extra += `,"traits":{"email":"u` + fmt.Sprint(r.IntN(9)) + `@example.com"}`
			}
			switch r.IntN(4) {
			case 0:
				extra += `,"context":{"ip":"203.0.113.9","page":{"url":"https://shop.example.com/?gclid=g` + fmt.Sprint(j) + `"},"campaign":{"source":"s` + fmt.Sprint(j) + `"}}`
			case 1: // a touchpoint context, which a later message without one must not inherit
				extra += `,"context":{"device":{"type":"d` + fmt.Sprint(r.IntN(3)) + `"},"os":{"name":"iOS"},"location":{"country":"DE"}}`
			}
			if r.IntN(3) == 0 {
				extra += `,"userId":"c-` + fmt.Sprint(j) + `"`
			}
			msgs = append(msgs, fmt.Sprintf(`{"type":"track","event":"E%d","messageId":"m-%d-%d","anonymousId":"a-%d","timestamp":"2026-11-30T10:00:00Z"%s}`, j%3, i, j, j, extra))
		}
		bodies = append(bodies, `{"batch":[`+strings.Join(msgs, ",")+`]}`)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(bodies); i += 4 {
				if w, _ := s.do(call{path: "/v1/batch", body: bodies[i], key: "wk_srv"}); w.Code != http.StatusOK {
					t.Errorf("body %d: answered %d %s", i, w.Code, w.Body)
				}
			}
		})
	}
	wg.Wait()
	sent := map[string]*touchpoint.Touchpoint{}
	for _, tp := range send.got {
		sent[tp.EventID] = tp
	}
	c := &Converter{Mapping: DefaultMapping(), IP: IPTruncate}
	var n int
	for _, body := range bodies {
		recs, _, err := decodeBatch(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			want, err := c.Touchpoint(rec.msg, rec.raw, Received{At: time.Now(), Source: "backend", IP: "192.0.2.1"})
			if err != nil {
				t.Fatal(err)
			}
			if rej := s.validate(want, time.Now()); rej != nil {
				t.Fatal(rej.Err)
			}
			if got := sent[want.EventID]; !reflect.DeepEqual(got, copied(want)) {
				t.Fatalf("sent  %+v\nalone %+v", got, want)
			}
			n++
		}
	}
	if n != len(send.got) {
		t.Errorf("sent %d touchpoints, the bodies hold %d", len(send.got), n)
	}
}
