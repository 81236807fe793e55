// Package config assembles touchline's configuration from defaults, a YAML
// file, environment variables and command-line flags, in increasing order of
// precedence, and validates it with the file and line of every error.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/logging"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/segments/settings"
	uisettings "github.com/touchline-io/touchline/pkg/ui/settings"
)

// Config is the whole configuration of every touchline command.
type Config struct {
	Kafka       kafka.Config       `yaml:"kafka"`
	ClickHouse  clickhouse.Config  `yaml:"clickhouse"`
	Ingest      ingest.Config      `yaml:"ingest"`
	Identifiers identifiers.Config `yaml:"identifiers"`
	Identity    identity.Config    `yaml:"identity"`
	Alerts      alerts.Config      `yaml:"alerts"`
	Segments    settings.Config    `yaml:"segments"`
	Collect     collect.Config     `yaml:"collect"`
	UI          uisettings.Config  `yaml:"ui"`
	Log         logging.Config     `yaml:"log"`
	// Pipelines is the directory of the declarative pipeline files
	// (channels.yaml, ...). Default "pipelines".
	Pipelines string `yaml:"pipelines"`
	// HTTPAddr is where a service serves /metrics, /healthz and /readyz.
	// Default ":8080".
	HTTPAddr string `yaml:"http_addr"`
	// PProf also serves Go's profiles under /debug/pprof/ on HTTPAddr.
	// Default false: profiles expose the program's memory and can load
	// the CPU, so they are for an operator who asks for them.
	PProf bool `yaml:"pprof"`
	// StateDir holds a service instance's local state (the ingest service's
	// copy of the identity map). Each instance needs its own. Default
	// ".touchline/state".
	StateDir string `yaml:"state_dir"`

	file  string
	lines map[string]int
}

// Default returns the configuration with every default applied.
func Default() Config {
	return Config{
		Kafka:       kafka.DefaultConfig(),
		ClickHouse:  clickhouse.DefaultConfig(),
		Ingest:      ingest.DefaultConfig(),
		Identifiers: identifiers.DefaultConfig(),
		Identity:    identity.DefaultConfig(),
		Alerts:      alerts.DefaultConfig(),
		Segments:    settings.DefaultConfig(),
		Collect:     collect.DefaultConfig(),
		UI:          uisettings.DefaultConfig(),
		Log:         logging.DefaultConfig(),
		Pipelines:   "pipelines",
		HTTPAddr:    ":8080",
		StateDir:    ".touchline/state",
	}
}

// Load reads path over the defaults (an empty path means no file), then
// applies the environment. Unknown keys, ill-typed values and bad
// durations are errors with their line, all of them (a pipefile.List of
// *pipefile.ConfigError). Durations take 1d and 2w as the pipelines files
// do.
func Load(path string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return cfg, pipefile.Errorf(path, 0, "reading the config file: %v", err)
		}
		if err := cfg.parse(path, data); err != nil {
			return cfg, err
		}
	}
	if err := cfg.applyEnv(os.LookupEnv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func (c *Config) parse(path string, data []byte) error {
	c.file = path
	root, err := pipefile.Document(path, data)
	if err != nil || root == nil {
		return err
	}
	c.lines = pipefile.KeyLines(root)
	return pipefile.Decode(path, root, "", c)
}

// line returns the line of key (dotted) in section, or of the closest
// enclosing key the file has, or 0 when the file has none of them.
func (c *Config) line(section, key string) int {
	for k := pipefile.Join(section, key); ; {
		if l, ok := c.lines[k]; ok {
			return l
		}
		i := strings.LastIndex(k, ".")
		if i < 0 {
			return 0
		}
		k = k[:i]
	}
}

// Validate checks every section and returns all the invalid settings (a
// pipefile.List), each at the line of its key in the file when it came
// from one, or of the closest enclosing key the file has.
func (c *Config) Validate() error {
	var l pipefile.List
	for _, s := range []struct {
		name string
		err  error
	}{
		{"kafka", c.Kafka.Validate()},
		{"clickhouse", c.ClickHouse.Validate()},
		{"ingest", c.Ingest.Validate()},
		{"identifiers", c.Identifiers.Validate()},
		{"identity", c.Identity.Validate()},
		{"alerts", c.Alerts.Validate()},
		{"segments", c.Segments.Validate()},
		{"collect", c.Collect.Validate()},
		{"ui", c.UI.Validate()},
		{"log", c.Log.Validate()},
		{"pipelines", emptyErr(c.Pipelines)},
		{"state_dir", emptyErr(c.StateDir)},
	} {
		for _, err := range pipefile.Flatten(s.err) {
			l = append(l, &pipefile.ConfigError{File: c.file, Line: c.line(s.name, pipefile.Key(err)), Reason: s.name + ": " + err.Error(), Err: err})
		}
	}
	if err := c.insertConnections(); err != nil {
		l = append(l, err)
	}
	return l.Err()
}

// insertConnections checks that ingest's concurrent inserts leave a
// ClickHouse connection free: each insert holds one for as long as it
// runs, and the readiness probe and the other writes need one too. It is
// placed at ingest.concurrent_inserts when the file sets it, else at
// clickhouse.max_open_conns.
func (c *Config) insertConnections() *pipefile.ConfigError {
	n, conns := c.Ingest.ConcurrentInserts, c.ClickHouse.MaxOpenConns
	if conns < 1 || n < conns {
		return nil
	}
	line, ok := c.lines[pipefile.Join("ingest", "concurrent_inserts")]
	if !ok {
		line = c.line("clickhouse", "max_open_conns")
	}
	return &pipefile.ConfigError{File: c.file, Line: line, Reason: fmt.Sprintf(
		"ingest: concurrent_inserts (%d) must be less than clickhouse.max_open_conns (%d): each insert holds a connection while it runs, and the readiness probe and the other writes need one",
		n, conns)}
}

func emptyErr(v string) error {
	if v == "" {
		return errors.New("is empty")
	}
	return nil
}
