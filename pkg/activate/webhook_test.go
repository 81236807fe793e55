package activate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/backoff"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// receiver answers with the statuses of answers in turn (then 200), checks
// every request's signature and idempotency key, and records what the
// service's readiness said while it was retrying.
type receiver struct {
	t       *testing.T
	secret  []byte
	mu      sync.Mutex
	answers []int
	got     []Payload
	ready   func() error
	readyAt []error
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !Verify(r.secret, body, req.Header.Get(SignatureHeader)) {
		r.t.Errorf("bad signature %q", req.Header.Get(SignatureHeader))
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil || p.IdempotencyKey != req.Header.Get(IdempotencyHeader) {
		r.t.Errorf("body %s, header %q: %v", body, req.Header.Get(IdempotencyHeader), err)
	}
	r.got = append(r.got, p)
	if r.ready != nil {
		r.readyAt = append(r.readyAt, r.ready())
	}
	status := http.StatusOK
	if len(r.answers) > 0 {
		status, r.answers = r.answers[0], r.answers[1:]
	}
	w.WriteHeader(status)
}

// testService returns a service with one webhook to url, at most attempts
// attempts a millisecond apart.
func testService(url string, attempts int) (*Service, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	d := Destination{Name: "crm", Kind: Webhook, Segments: []string{"s"}, URL: url, Timeout: 5 * time.Second, Rate: 1000, BatchSize: 1, secret: []byte("k")}
	f := &File{MaxAttempts: attempts, Settings: backoff.Settings{RetryBackoff: time.Millisecond, RetryBackoffMax: time.Millisecond},
		Destinations: []Destination{d}}
	return NewService(f, kafka.Config{}, nil, nil, NewExporter(nil), "", NewMetrics(reg), zap.NewNop()), reg
}

// attemptOne attempts the delivery of c alone to svc's webhook, and
// returns its record.
func attemptOne(svc *Service, ctx context.Context, c Change) (Record, error) {
	hook := svc.hooks["crm"]
	recs, err := svc.attempt(ctx, hook, batch{{c, payload(hook.d, c, nil)}})
	if err != nil {
		return Record{}, err
	}
	return recs[0], nil
}

func TestAttemptRetriesThenDelivers(t *testing.T) {
	r := &receiver{t: t, secret: []byte("k"), answers: []int{500, 429, 200}}
	srv := httptest.NewServer(r)
	defer srv.Close()
	svc, _ := testService(srv.URL, 5)
	r.ready = svc.Ready
	c := Change{Person: "p", Segment: "s", Entered: true, At: time.Now()}
	rec, err := attemptOne(svc, context.Background(), c)
	if err != nil || rec.Status != Delivered || rec.Attempts != 3 || rec.IdempotencyKey != IdempotencyKey("crm", c) {
		t.Fatalf("record %+v, %v", rec, err)
	}
	if len(r.got) != 3 || r.got[0].IdempotencyKey != r.got[2].IdempotencyKey {
		t.Errorf("posts %+v: want three with the same key", r.got)
	}
	if r.readyAt[0] != nil || r.readyAt[1] == nil || !strings.Contains(r.readyAt[1].Error(), "destination crm: delivery failing, attempt 1 of 5") {
		t.Errorf("readiness during the attempts: %v", r.readyAt)
	}
	if err := svc.Ready(); err != nil {
		t.Errorf("ready after the delivery: %v", err)
	}
}

func TestAttemptGivesUpAfterMaxAttempts(t *testing.T) {
	r := &receiver{t: t, secret: []byte("k"), answers: []int{503, 503, 503, 503}}
	srv := httptest.NewServer(r)
	defer srv.Close()
	svc, reg := testService(srv.URL, 3)
	c := Change{Person: "p", Segment: "s", At: time.Now()}
	rec, err := attemptOne(svc, context.Background(), c)
	if err != nil || rec.Status != Dead || rec.Attempts != 3 || !strings.Contains(rec.Error, "503") || len(r.got) != 3 {
		t.Fatalf("record %+v (%d posts), %v; want dead after 3", rec, len(r.got), err)
	}
	if got := testutil.ToFloat64(svc.m.deliveries.WithLabelValues("crm", resultDead)); got != 1 {
		t.Errorf("dead counter %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "touchline_activate_deliveries_total"); err != nil || n != 6 {
		t.Errorf("series %d, %v: want every result of crm", n, err)
	}
	// A refusal (4xx) is not retried.
	r.answers = []int{400}
	rec, err = attemptOne(svc, context.Background(), c)
	if err != nil || rec.Status != Dead || rec.Attempts != 1 {
		t.Errorf("refused: %+v, %v", rec, err)
	}
}

func TestAttemptStopsWithItsContext(t *testing.T) {
	r := &receiver{t: t, secret: []byte("k"), answers: []int{500, 500, 500, 500, 500, 500}}
	srv := httptest.NewServer(r)
	defer srv.Close()
	svc, _ := testService(srv.URL, 100)
	svc.file.Settings = backoff.Settings{RetryBackoff: time.Hour, RetryBackoffMax: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	r.ready = func() error { cancel(); return nil }
	c := Change{Person: "p", Segment: "s", At: time.Now()}
	if _, err := attemptOne(svc, ctx, c); err == nil {
		t.Error("an attempt cancelled during its wait returned a record")
	}
}

func TestAttemptPostsABatch(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]Payload
	var headers []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ps []Payload
		if !Verify([]byte("k"), body, req.Header.Get(SignatureHeader)) || json.Unmarshal(body, &ps) != nil {
			t.Errorf("a batch with a bad signature or body: %s", body)
		}
		mu.Lock()
		defer mu.Unlock()
		bodies, headers = append(bodies, ps), append(headers, req.Header.Get(IdempotencyHeader))
		if len(bodies) == 1 {
			w.WriteHeader(http.StatusBadGateway) // retried as a whole
		}
	}))
	defer srv.Close()
	svc, _ := testService(srv.URL, 5)
	hook := svc.hooks["crm"]
	hook.d.BatchSize = 3
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var b batch
	for i := range 3 {
		c := Change{Person: "p" + string(rune('a'+i)), Segment: "s", Entered: i != 1, At: at.Add(time.Duration(i) * time.Second)}
		b = append(b, item{c, payload(hook.d, c, nil)})
	}
	recs, err := svc.attempt(context.Background(), hook, b)
	if err != nil || len(recs) != 3 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	keys := []string{IdempotencyKey("crm", b[0].change), IdempotencyKey("crm", b[1].change), IdempotencyKey("crm", b[2].change)}
	// The batch key is the SHA-256 of the changes' keys, each and a newline.
	sum := sha256.Sum256([]byte(keys[0] + "\n" + keys[1] + "\n" + keys[2] + "\n"))
	if len(bodies) != 2 || headers[0] != hex.EncodeToString(sum[:]) || headers[1] != headers[0] {
		t.Fatalf("%d POSTs under %v, want two under %x", len(bodies), headers, sum)
	}
	for i, p := range bodies[1] {
		if p.IdempotencyKey != keys[i] || recs[i].IdempotencyKey != keys[i] || recs[i].Status != Delivered || recs[i].Attempts != 2 || recs[i].Person != b[i].change.Person {
			t.Errorf("change %d: payload %+v, record %+v", i, p, recs[i])
		}
	}
	if got := testutil.ToFloat64(svc.m.deliveries.WithLabelValues("crm", resultDelivered)); got != 3 {
		t.Errorf("delivered counter %v, want the batch's 3 changes", got)
	}
}
