// Package logging builds touchline's zap loggers.
package logging

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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

// Validate reports an unknown level or format.
func (c Config) Validate() error {
	if _, err := zapcore.ParseLevel(c.Level); err != nil {
		return fmt.Errorf("log level %q: want debug, info, warn or error", c.Level)
	}
	if c.Format != "json" && c.Format != "console" {
		return fmt.Errorf("log format %q: want json or console", c.Format)
	}
	return nil
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
