package testenv

import (
	"path/filepath"
	"testing"

	"github.com/touchline-io/touchline/pkg/config"
)

// TestWriteConfigKeepsTheIngestTuning: an ingest service started from the
// file WriteConfig writes batches, decodes, fetches and collects garbage as
// the test set it to.
func TestWriteConfigKeepsTheIngestTuning(t *testing.T) {
	cfg := config.Default()
	cfg.Ingest.BatchSize, cfg.Ingest.Workers, cfg.Ingest.FetchMaxBytes, cfg.Ingest.GCPercent = 50000, 3, 16<<20, 150
	got := writtenAndRead(t, cfg)
	if got.Ingest.BatchSize != 50000 || got.Ingest.Workers != 3 || got.Ingest.FetchMaxBytes != 16<<20 || got.Ingest.GCPercent != 150 {
		t.Errorf("read back batch_size %d, workers %d, fetch_max_bytes %d, gc_percent %d; wrote 50000, 3, %d, 150",
			got.Ingest.BatchSize, got.Ingest.Workers, got.Ingest.FetchMaxBytes, got.Ingest.GCPercent, 16<<20)
	}
}

// TestWriteConfigKeepsTheCollectorsGCTarget: a collector started from the
// file WriteConfig writes collects garbage as the test set it to.
func TestWriteConfigKeepsTheCollectorsGCTarget(t *testing.T) {
	cfg := config.Default()
	cfg.Collect.Addr, cfg.Collect.GCPercent = "127.0.0.1:1", 150
	if got := writtenAndRead(t, cfg); got.Collect.GCPercent != 150 {
		t.Errorf("read back gc_percent %d, wrote 150", got.Collect.GCPercent)
	}
}

// writtenAndRead writes cfg with WriteConfig and returns what loading the
// file gives.
func writtenAndRead(t *testing.T, cfg config.Config) config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := WriteConfig(cfg, path); err != nil {
		t.Fatal(err)
	}
	got, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
