package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/pkg/ui/settings"
)

// fakeRunner records the queries it is asked to run and answers with res
// or err.
type fakeRunner struct {
	queries []string
	res     *table.Result
	err     error
}

func (f *fakeRunner) run(_ context.Context, sql string) (*table.Result, error) {
	f.queries = append(f.queries, sql)
	return f.res, f.err
}

func newTestMux(t *testing.T, f *fakeRunner, cfg settings.Config) *http.ServeMux {
	t.Helper()
	api := NewAPI(f.run, analytics.DefaultAttribution(), &rules.Rules{}, cfg, NewMetrics(prometheus.NewRegistry()), zap.NewNop())
	api.now = func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }
	mux := http.NewServeMux()
	Register(mux, api, cfg)
	return mux
}

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d is not a JSON error (%v): %s", rec.Code, err, rec.Body.String())
	}
	return body.Error
}

// TestBadParametersAnswer400 covers the bad requests of the issue, and
// more: each gets a 400 with a message naming what is wrong, and never
// reaches ClickHouse.
func TestBadParametersAnswer400(t *testing.T) {
	f := &fakeRunner{res: &table.Result{}}
	mux := newTestMux(t, f, settings.DefaultConfig())
	for _, c := range []struct {
		target, want string
	}{
		{"/api/romi?model=u_shaped", `model: unknown attribution model "u_shaped": want one of first_touch, last_touch`},
		{"/api/attribution?model=", ""},
		{"/api/funnel?steps=a,b&window=0", "window 0s is shorter than a second"},
		{"/api/funnel?steps=a,b&window=-5m", "window: "},
		{"/api/overview?from=2026-05-01&to=2026-04-01", "empty time range: from 2026-05-01T00:00:00Z is not before to 2026-04-01T00:00:00Z"},
		{"/api/funnel?steps=" + url.QueryEscape(`page_view'),purchase`), `steps: funnel step 1: "page_view')" is not an event type`},
		{"/api/funnel?steps=" + url.QueryEscape(`"page_view",purchase`), `steps: funnel step 1: "\"page_view\"" is not an event type`},
		{"/api/funnel?steps=" + strings.Repeat("a,", 999) + "a", "1000 funnel steps: at most 32"},
		{"/api/overview?campaign=" + strings.Repeat("a", 20000), "campaign: 20000 bytes: at most 16384"},
		{"/api/funnel", "steps: required"},
		{"/api/funnel?steps=a&breakdown=person_id", `cannot break down by "person_id"`},
		{"/api/cohort?periods=1001", "periods 1001: want 1 to 1000"},
		{"/api/cohort?by-channel=maybe", `by-channel: "maybe" is not true or false`},
		{"/api/overview?to=2200-01-01", "to 2200-01-01T00:00:00Z is out of range"},
		{"/api/overview?steps=a", `unknown parameter "steps" for overview: want by-day, campaign, channel, currency, format, from, sql, to`},
		{"/api/overview?channel=a&channel=b", "channel: given 2 times"},
		{"/api/overview?format=xml", `format "xml": want json or csv`},
		{"/api/person-touches?person=" + url.QueryEscape(`p_1' OR 1=1 --`), `person: "p_1' OR 1=1 --" is not a person id`},
		{"/api/person-touches?person=p_1&limit=10000000", "limit: limit 10000000 is out of range: want 1 to 100000"},
		{"/api/person-merges", "person: required"},
		{"/api/person-identifiers?person=email:jane@example.com", "person: an identifier (type:value) needs the identity settings"},
		{"/api/segment-members?segment=" + url.QueryEscape(`vip"`), `segment: "vip\"" is not a segment name`},
		{"/api/segment-members?segment=vip&limit=-1", "limit: limit -1 is out of range"},
		{"/api/segment-history?from=1970-01-01", "the range has"},
	} {
		rec := get(t, mux, c.target)
		if c.want == "" { // an empty parameter is no parameter: the default
			if rec.Code != http.StatusOK {
				t.Errorf("%s: %d %s", c.target, rec.Code, rec.Body.String())
			}
			continue
		}
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", c.target, rec.Code, rec.Body.String())
			continue
		}
		if msg := errorOf(t, rec); !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q, want it to contain %q", c.target, msg, c.want)
		}
	}
	if len(f.queries) != 1 {
		t.Errorf("%d queries reached ClickHouse, want only the valid one", len(f.queries))
	}
}

// TestAnswersAreTheCLIsFormats: JSON and CSV as table.Result writes them
// for `touchline query --format json|csv`, the SQL as --sql prints it.
func TestAnswersAreTheCLIsFormats(t *testing.T) {
	res := &table.Result{Columns: []string{"channel", "revenue", "roas"}, Rows: [][]any{{"=email", 12.5, nil}, {"web", 3.0, 0.25}}}
	f := &fakeRunner{res: res}
	mux := newTestMux(t, f, settings.DefaultConfig())
	for format, want := range map[string]string{
		"json": "[\n  {\"channel\": \"=email\", \"revenue\": 12.5, \"roas\": null},\n  {\"channel\": \"web\", \"revenue\": 3, \"roas\": 0.25}\n]\n",
		"csv":  "channel,revenue,roas\n'=email,12.5,\nweb,3,0.25\n",
	} {
		rec := get(t, mux, "/api/romi?model=linear&format="+format)
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("%s: %d %q, want %q", format, rec.Code, rec.Body.String(), want)
		}
	}
	rec := get(t, mux, "/api/funnel?steps=page_view,purchase&from=2026-11-01&to=2026-11-08&sql=1")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(body, "-- Funnel page_view -> purchase over [2026-11-01T00:00:00Z, 2026-11-08T00:00:00Z), window 1d.\n") ||
		!strings.HasSuffix(body, "ORDER BY step;\n") || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("sql: %d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), body)
	}
	if len(f.queries) != 2 {
		t.Errorf("%d queries ran, want 2 (the SQL view runs nothing)", len(f.queries))
	}
	// The index lists every analysis with its parameters.
	var index struct {
		Analyses []struct {
			Name   string `json:"name"`
			Params []struct {
				Name, Default string
			} `json:"parameters"`
		} `json:"analyses"`
	}
	rec = get(t, mux, "/api/")
	if err := json.Unmarshal(rec.Body.Bytes(), &index); err != nil || len(index.Analyses) != 18 || index.Analyses[0].Name != "overview" || index.Analyses[17].Name != "alert-rules" {
		t.Errorf("index: %v %s", err, rec.Body.String())
	}
	// The model defaults to the attribution settings' (time_decay here).
	if !strings.Contains(rec.Body.String(), `"name": "model",
          "default": "time_decay"`) {
		t.Errorf("index without the settings' model:\n%s", rec.Body.String())
	}
}

// TestQueryFailures: what ClickHouse says stays in the log; the answer
// names the limit that stopped the query, or says the server failed
// (502), never a 500.
func TestQueryFailures(t *testing.T) {
	cfg := settings.DefaultConfig()
	for _, c := range []struct {
		err    error
		status int
		want   string
	}{
		{&ch.Exception{Code: 159, Message: "Timeout exceeded: elapsed 30.1 seconds"}, http.StatusGatewayTimeout, "the query ran longer than ui.max_execution_time (30s)"},
		{context.DeadlineExceeded, http.StatusGatewayTimeout, "ClickHouse did not answer within ui.max_execution_time (30s) and 5s more"},
		{fmt.Errorf("reading: %w", table.ErrTooManyRows), http.StatusUnprocessableEntity, "more than ui.max_rows (100000) rows"},
		{fmt.Errorf("running query: %w", ch.ErrAcquireConnTimeout), http.StatusServiceUnavailable, "every ClickHouse connection of the ui is busy"},
		{&ch.Exception{Code: 60, Message: "Table touchline.touchpoints doesn't exist"}, http.StatusBadGateway, "ClickHouse did not answer the query"},
		{errors.New("dial tcp 127.0.0.1:9000: connection refused"), http.StatusBadGateway, "ClickHouse did not answer the query"},
	} {
		rec := get(t, newTestMux(t, &fakeRunner{err: c.err}, cfg), "/api/overview")
		msg := errorOf(t, rec)
		if rec.Code != c.status || !strings.Contains(msg, c.want) || strings.Contains(msg, "touchpoints") || strings.Contains(msg, "9000") {
			t.Errorf("%v: %d %q, want %d %q", c.err, rec.Code, msg, c.status, c.want)
		}
	}
}

func TestRoutes(t *testing.T) {
	mux := newTestMux(t, &fakeRunner{res: &table.Result{}}, settings.DefaultConfig())
	if rec := get(t, mux, "/api/funel"); rec.Code != http.StatusNotFound || !strings.Contains(errorOf(t, rec), `no analysis "funel"`) {
		t.Errorf("unknown analysis: %d %s", rec.Code, rec.Body.String())
	}
	req := httptest.NewRequest(http.MethodPost, "/api/overview", nil)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", rec.Code)
	}
	rec = get(t, mux, "/")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<script src="app.js" defer></script>`) ||
		!strings.HasPrefix(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("index.html: %d %v", rec.Code, rec.Header())
	}
	for _, asset := range []string{"/app.js", "/style.css", "/vendor/echarts/echarts.min.js", "/vendor/echarts/LICENSE"} {
		if rec := get(t, mux, asset); rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("%s: %d", asset, rec.Code)
		}
	}
}

// TestAuthentication: with basic auth or a bearer token configured, the
// app and the API answer only with them.
func TestAuthentication(t *testing.T) {
	cfg := settings.DefaultConfig()
	cfg.BasicAuth = settings.BasicAuth{User: "analyst", Password: "s3cret"}
	cfg.BearerToken = "tok-123"
	mux := newTestMux(t, &fakeRunner{res: &table.Result{}}, cfg)
	for _, c := range []struct {
		path   string
		header []string
		status int
	}{
		{"/api/overview", nil, http.StatusUnauthorized},
		{"/", nil, http.StatusUnauthorized},
		{"/api/overview", []string{"Authorization", "Basic YW5hbHlzdDpzM2NyZXQ="}, http.StatusOK}, // analyst:s3cret
		{"/", []string{"Authorization", "Basic YW5hbHlzdDpzM2NyZXQ="}, http.StatusOK},
		{"/api/overview", []string{"Authorization", "Basic YW5hbHlzdDp3cm9uZw=="}, http.StatusUnauthorized}, // analyst:wrong
		{"/api/overview", []string{"Authorization", "Bearer tok-123"}, http.StatusOK},
		{"/api/overview", []string{"Authorization", "Bearer tok-12"}, http.StatusUnauthorized},
	} {
		rec := get(t, mux, c.path, c.header...)
		if rec.Code != c.status {
			t.Errorf("%s %v: %d, want %d", c.path, c.header, rec.Code, c.status)
		}
		if c.status == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: no basic challenge", c.path)
		}
	}
	open := newTestMux(t, &fakeRunner{res: &table.Result{}}, settings.DefaultConfig())
	if rec := get(t, open, "/api/overview"); rec.Code != http.StatusOK {
		t.Errorf("without authentication configured: %d", rec.Code)
	}
}

// TestDataDrivenModelsAnswerCredits: the API runs the path query of a
// data-driven model and answers the model's credits, with the columns of
// the rule-based models; rows that are not paths answer 422.
func TestDataDrivenModelsAnswerCredits(t *testing.T) {
	f := &fakeRunner{res: &table.Result{Columns: []string{"path", "conversions", "revenue", "nulls"},
		Rows: [][]any{{"email > sms", uint64(2), 30.0, uint64(0)}, {"email", uint64(0), 0.0, uint64(2)}, {"sms", uint64(1), 10.0, uint64(0)}}}}
	mux := newTestMux(t, f, settings.DefaultConfig())
	rec := get(t, mux, "/api/attribution?model=shapley&from=2026-11-01&to=2026-11-08")
	// v(email) = 0, v(sms) = 1, v(both) = 1: phi(email) = 0, phi(sms) = 1.
	var compact bytes.Buffer
	_ = json.Compact(&compact, rec.Body.Bytes())
	if want := `[{"channel":"sms","conversions":3,"revenue":40}]`; rec.Code != http.StatusOK || compact.String() != want {
		t.Errorf("%d %s, want %s", rec.Code, rec.Body.String(), want)
	}
	if len(f.queries) != 1 || !strings.Contains(f.queries[0], "GROUP BY path") {
		t.Errorf("ran %q, want the path query", f.queries)
	}
	rec = get(t, mux, "/api/attribution?model=markov&order=2&from=2026-11-01&to=2026-11-08&sql=1")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "model markov of order 2") {
		t.Errorf("sql: %d %s", rec.Code, rec.Body.String())
	}
	for target, want := range map[string]string{
		"/api/romi?model=shapley&order=2": "order: 2: the markov model's order is 1 to 4",
		"/api/romi?model=linear&order=3":  "order: only the markov model has an order",
	} {
		if rec := get(t, mux, target); rec.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, rec), want) {
			t.Errorf("%s: %d %s, want 400 %q", target, rec.Code, rec.Body.String(), want)
		}
	}
	f.res = &table.Result{Columns: []string{"channel"}, Rows: [][]any{{"email"}}}
	if rec := get(t, mux, "/api/attribution?model=markov"); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(errorOf(t, rec), "no column path") {
		t.Errorf("not paths: %d %s", rec.Code, rec.Body.String())
	}
}
