package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/testenv"
)

// outageRegistry is a Schema Registry that cannot be asked for the
// Touchpoint schema until it is opened: it answers 503 to every look-up of
// id 1 while closed, and then serves the shipped Touchpoint schema. It
// accepts every registration as id 4 and serves the shipped SegmentChange
// schema as id 4, the one schema the segments service registers.
type outageRegistry struct {
	open                  atomic.Bool
	touchpoint, segChange string
	refused               atomic.Int64
}

func (f *outageRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions"):
		_ = json.NewEncoder(w).Encode(map[string]int{"id": 4})
	case r.Method == http.MethodGet && r.URL.Path == "/schemas/ids/1":
		if !f.open.Load() {
			f.refused.Add(1)
			http.Error(w, `{"error_code":50301,"message":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": f.touchpoint})
	case r.Method == http.MethodGet && r.URL.Path == "/schemas/ids/4":
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": f.segChange})
	default:
		http.NotFound(w, r)
	}
}

// TestSegmentsRouterWaitsOutTheSchemaRegistry publishes touchpoints while
// the Schema Registry cannot be asked for their schema: the segments
// router must not route past them (and commit them unrouted) but say not
// ready, retry, and route every one of them once the registry answers.
func TestSegmentsRouterWaitsOutTheSchemaRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reg := &outageRegistry{touchpoint: shippedSchema(t, "touchpoint.v1.avsc"), segChange: shippedSchema(t, "segment_change.v1.avsc")}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	cfg, cfgPath, metrics := costlySetup(ctx, t, "allowed_lateness: 1s\nsegments:\n  - name: viewers\n    when: count(\"page_view\") > 0\n", 8192)
	p, err := testenv.StartProcess(touchlineBin, logPath(t), "--config", cfgPath, "--schema-registry", srv.URL, "segments")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	customers := []string{"a", "b", "c", "d", "e"}
	publishViews(ctx, t, cfg, time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond), customers,
		[]string{"/1", "/2", "/3", "/4", "/5"})

	readyz := strings.TrimSuffix(metrics, "/metrics") + "/readyz"
	for code, body := get(readyz); code != http.StatusServiceUnavailable || !strings.Contains(body, "schema_registry"); code, body = get(readyz) {
		if ctx.Err() != nil {
			t.Fatalf("/readyz answers %d %q, want 503 naming the schema registry while it is down", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := reg.refused.Load(); n == 0 {
		t.Fatal("the router said the registry failed without asking it")
	}
	if got := scrape(metrics); strings.Contains(got, `touchline_segments_routed_total{kind="skipped"}`) {
		t.Fatalf("the router skipped touchpoints while the registry was down:\n%s", got)
	}
	reg.open.Store(true)
	waitMetric(ctx, t, metrics, `touchline_segments_routed_total{kind="event"} 5`+"\n")
	waitMetric(ctx, t, metrics, "touchline_segments_changes_total 5\n")
	for code, body := get(readyz); code != http.StatusOK; code, body = get(readyz) {
		if ctx.Err() != nil {
			t.Fatalf("/readyz answers %d %q once the registry is back, want 200", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := scrape(metrics); strings.Contains(got, `touchline_segments_routed_total{kind="skipped"}`) {
		t.Errorf("touchpoints were skipped:\n%s", got)
	}
	if err := p.Terminate(30 * time.Second); err != nil {
		t.Errorf("stopping the service: %v", err)
	}
}

// get returns the status and body of a GET of url (0 when it cannot be
// asked).
func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// shippedSchema returns the text of a schema shipped in schemas/avro.
func shippedSchema(t *testing.T, name string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "schemas", "avro", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}
