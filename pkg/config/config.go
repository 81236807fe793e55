// Package config assembles touchline's configuration from defaults, a YAML
// file, environment variables and command-line flags, in increasing order of
// precedence, and validates it with the file and line of every error.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/alerts"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/ingest"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/logging"
	"github.com/touchline-io/touchline/pkg/resolver"
	"github.com/touchline-io/touchline/pkg/segmenter/settings"
)

// Config is the whole configuration of every touchline command.
type Config struct {
	Kafka       kafka.Config       `yaml:"kafka"`
	ClickHouse  clickhouse.Config  `yaml:"clickhouse"`
	Ingest      ingest.Config      `yaml:"ingest"`
	Identifiers identifiers.Config `yaml:"identifiers"`
	Identity    resolver.Config    `yaml:"identity"`
	Alerts      alerts.Config      `yaml:"alerts"`
	Segments    settings.Config    `yaml:"segments"`
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
		Identity:    resolver.DefaultConfig(),
		Alerts:      alerts.DefaultConfig(),
		Segments:    settings.DefaultConfig(),
		Log:         logging.DefaultConfig(),
		Pipelines:   "pipelines",
		HTTPAddr:    ":8080",
		StateDir:    ".touchline/state",
	}
}

// Error is a configuration error with its place. File is empty and Line zero
// when the setting did not come from a file.
type Error struct {
	File    string
	Line    int
	Section string
	Err     error
}

// Error formats the error as file:line: section: reason.
func (e *Error) Error() string {
	prefix := ""
	switch {
	case e.File != "" && e.Line > 0:
		prefix = fmt.Sprintf("%s:%d: ", e.File, e.Line)
	case e.File != "":
		prefix = e.File + ": "
	}
	if e.Section != "" {
		prefix += e.Section + ": "
	}
	return prefix + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Load reads path over the defaults (an empty path means no file), then
// applies the environment. Unknown keys and ill-typed values are errors with
// their line.
func Load(path string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, &Error{File: path, Err: err}
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
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return &Error{File: path, Err: err}
	}
	c.lines = map[string]int{}
	if len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
		m := root.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			c.lines[m.Content[i].Value] = m.Content[i].Line
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return placeYAMLError(path, err)
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^\s*line (\d+): (.*)$`)

// placeYAMLError turns a yaml.v3 decoding error into an *Error at the line of
// its first problem.
func placeYAMLError(path string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if m := yamlLine.FindStringSubmatch(te.Errors[0]); m != nil {
			line, _ := strconv.Atoi(m[1])
			return &Error{File: path, Line: line, Err: errors.New(m[2])}
		}
	}
	if m := yamlLine.FindStringSubmatch(strings.TrimPrefix(err.Error(), "yaml: ")); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: path, Line: line, Err: errors.New(m[2])}
	}
	return &Error{File: path, Err: err}
}

// Validate checks every section and returns the first error, placed at the
// line of its section in the file when it came from one.
func (c *Config) Validate() error {
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
		{"log", c.Log.Validate()},
	} {
		if s.err != nil {
			return &Error{File: c.file, Line: c.lines[s.name], Section: s.name, Err: s.err}
		}
	}
	if c.Pipelines == "" {
		return &Error{File: c.file, Line: c.lines["pipelines"], Section: "pipelines", Err: errors.New("is empty")}
	}
	if c.StateDir == "" {
		return &Error{File: c.file, Line: c.lines["state_dir"], Section: "state_dir", Err: errors.New("is empty")}
	}
	return nil
}
