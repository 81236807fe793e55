// Package logging builds touchline's zap loggers.
package logging

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Config configures logging.
type Config struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json (the default, for log pipelines) or console (for people).
	Format string `yaml:"format"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{Level: "info", Format: "json"} }

// Validate reports an unknown level and an unknown format, each naming its
// key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(nil)
	_, err := zapcore.ParseLevel(c.Level)
	ch.Check(err != nil, "level", "log level %q: want debug, info, warn or error", c.Level)
	ch.Check(c.Format != "json" && c.Format != "console", "format", "log format %q: want json or console", c.Format)
	return ch.Err()
}

// New returns a logger writing to standard error. Keys are snake_case and
// timestamps ISO 8601.
func New(cfg Config) (*zap.Logger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	level, _ := zapcore.ParseLevel(cfg.Level)
	zc := zap.NewProductionConfig()
	if cfg.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.EncoderConfig.TimeKey = "ts"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.OutputPaths = []string{"stderr"}
	log, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("building logger: %w", err)
	}
	return log, nil
}
