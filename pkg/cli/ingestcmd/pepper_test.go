package ingestcmd

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
)

// TestRequiredPepperRefusesToStartWithoutIt: with require_pepper set and
// the pepper's secret missing, ingest used to start and hash every email
// with plain SHA-256, splitting every person from her earlier events.
func TestRequiredPepperRefusesToStartWithoutIt(t *testing.T) {
	cfg := config.Default()
	cfg.Pipelines = filepath.Join("..", "..", "..", "pipelines")
	cfg.Identifiers.RequirePepper = true
	err := Run(context.Background(), cfg, prometheus.NewRegistry(), zap.NewNop())
	if !errors.Is(err, identifiers.ErrNoPepper) {
		t.Fatalf("ingest without its required pepper: %v, want %v", err, identifiers.ErrNoPepper)
	}

	rules, err := stitch.LoadRules(filepath.Join(cfg.Pipelines, stitch.RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	hash := func(cfg config.Config) string {
		t.Helper()
		norm, err := app.Normalizer(cfg, rules)
		if err != nil {
			t.Fatal(err)
		}
		id, err := norm.Identifier(identifiers.Email, "Jane@Example.com")
		if err != nil {
			t.Fatal(err)
		}
		return id.Value
	}
	cfg.Identifiers.Pepper = "s3cret"
	peppered := hash(cfg)
	cfg.Identifiers.RequirePepper, cfg.Identifiers.Pepper = false, ""
	if plain := hash(cfg); plain == peppered {
		t.Errorf("the pepper does not change the hash %s", plain)
	}
}
