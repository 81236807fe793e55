package integration

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
)

// TestUIStagesFromPipelines: the web UI's /api/stages reads stages.yaml of
// its pipelines directory, as `touchline query stages` does, so a custom
// file changes its answer, which stays the CLI's.
func TestUIStagesFromPipelines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, _ := trafficDatabase(ctx, t, 2000, 200, 23)
	args := append([]string{"stages", "--by", "channel"}, uiRange...)
	shipped := cliRows(ctx, t, cfg, args...)

	custom := cfg
	custom.Pipelines = t.TempDir()
	files, err := filepath.Glob(filepath.Join(cfg.Pipelines, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(custom.Pipelines, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stages := "stages:\n  awareness: [page_view]\n  consideration: [add_to_cart]\n  conversion: [purchase]\n  retention: [purchase]\n"
	if err := os.WriteFile(filepath.Join(custom.Pipelines, analytics.StagesFile), []byte(stages), 0o644); err != nil {
		t.Fatal(err)
	}
	want := cliRows(ctx, t, custom, args...)
	if reflect.DeepEqual(want, shipped) {
		t.Fatalf("the custom stages give the shipped stages' answer, so the comparison would prove nothing: %v", want)
	}

	base := startUI(ctx, t, custom)
	var got []map[string]any
	getJSON(t, base+"/api/stages?by=channel&from=2026-09-01&to=2026-09-29", &got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("/api/stages with the custom stages.yaml:\n%v\nwant the CLI's:\n%v", got, want)
	}
}
