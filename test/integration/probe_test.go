package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestProbeFollowsReadiness runs `touchline probe`, the compose stack's
// health check, on a real ingest service: it passes once /readyz answers
// 200, fails with /readyz's reason while ClickHouse is hung (SIGSTOP),
// and passes again after SIGCONT.
func TestProbeFollowsReadiness(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_, _, cfgPath := setup(ctx, t, 1, nil)
	ready := startWatched(t, cfgPath, "ingest")
	probe := func() (string, error) { return runTouchline(ctx, "probe", "--timeout", "2s", ready.url) }

	ready.waitFor(t, http.StatusOK, 2*time.Minute)
	if out, err := probe(); err != nil {
		t.Fatalf("probe of a ready ingest: %v\n%s", err, out)
	}
	paused := pause(t, s.ClickHouse)
	ready.notReadySoonAfter(t, paused, "ClickHouse hung")
	out, err := probe()
	if err == nil || !strings.Contains(out, "503 Service Unavailable: ") {
		t.Errorf("probe of an ingest that is not ready: %v\n%s\nwant exit 1 with the status and the reason", err, out)
	}
	if err := s.ClickHouse.Resume(); err != nil {
		t.Fatal(err)
	}
	ready.waitFor(t, http.StatusOK, 2*time.Minute)
	if out, err := probe(); err != nil {
		t.Fatalf("probe after ClickHouse came back: %v\n%s", err, out)
	}
	t.Logf("not ready: %s", strings.TrimSpace(out))
}
