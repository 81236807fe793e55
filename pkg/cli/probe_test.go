package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProbe: the compose health checks run `touchline probe`, which must
// fail on a service that answers but is not ready, and on one that does not
// answer at all, and pass on a ready one.
func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, "clickhouse: connection refused\nmore", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	if _, err := execute(t, "probe", srv.URL+"/healthz"); err != nil {
		t.Errorf("probe of a healthy endpoint: %v", err)
	}
	_, err := execute(t, "probe", srv.URL+"/readyz")
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable: clickhouse: connection refused") || strings.Contains(err.Error(), "more") {
		t.Errorf("probe of a service that is not ready: %v; want the status and the first line of the reason", err)
	}
	srv.Close()
	if _, err := execute(t, "probe", "--timeout", "1s", srv.URL+"/healthz"); err == nil {
		t.Error("probe of a stopped server passed")
	}
}
