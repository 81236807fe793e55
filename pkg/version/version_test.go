package version

import (
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestInfo(t *testing.T) {
	b := Info{Version: "v1.2.0", Commit: "0a1b2c3-modified", Built: "2026-11-02T10:00:00Z", Go: "go1.26.8 linux/amd64"}
	if got, want := b.String(), "touchline v1.2.0 (commit 0a1b2c3-modified, 2026-11-02T10:00:00Z) go1.26.8 linux/amd64"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := Get().Version; got != "devel" {
		t.Errorf("unstamped test binary: version %q, want devel", got)
	}
}

func TestBuildInfoMetric(t *testing.T) {
	defer func(v string) { Version = v }(Version)
	Version = "v1.2.0"
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 1 || families[0].GetName() != "touchline_build_info" || len(families[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v", families)
	}
	m := families[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if m.GetGauge().GetValue() != 1 || labels["version"] != "v1.2.0" || labels["goversion"] != runtime.Version() {
		t.Errorf("touchline_build_info %v = %v", labels, m.GetGauge().GetValue())
	}
}
