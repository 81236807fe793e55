package observe

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// TestProfilesAreOptIn: /debug/pprof/ used to be served to anyone who could
// reach the metrics port.
func TestProfilesAreOptIn(t *testing.T) {
	for _, profiles := range []bool{false, true} {
		srv, err := Listen("127.0.0.1:0", prometheus.NewRegistry(), func() error { return nil }, profiles, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx) }()
		want := map[string]int{"/metrics": http.StatusOK, "/readyz": http.StatusOK,
			"/debug/pprof/": http.StatusNotFound, "/debug/pprof/heap": http.StatusNotFound, "/debug/pprof/cmdline": http.StatusNotFound}
		if profiles {
			want["/debug/pprof/"], want["/debug/pprof/heap"], want["/debug/pprof/cmdline"] = http.StatusOK, http.StatusOK, http.StatusOK
		}
		for path, code := range want {
			resp, err := http.Get("http://" + srv.Addr() + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != code {
				t.Errorf("profiles %v: GET %s = %d, want %d", profiles, path, resp.StatusCode, code)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
