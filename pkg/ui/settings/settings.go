// Package settings is the ui: section of touchline.yaml, apart from the UI
// so that reading the configuration does not link the web app.
package settings

import (
	"errors"
	"net"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Config configures the web UI.
type Config struct {
	// Listen is the address of the UI, its API, /metrics, /healthz and
	// /readyz. Default 127.0.0.1:8070: only this machine, until an
	// operator says otherwise (and, preferably, sets a password or token).
	Listen string `yaml:"listen"`
	// MaxExecutionTime bounds each query, on the server (ClickHouse's
	// max_execution_time) and in the UI. Default 30s.
	MaxExecutionTime time.Duration `yaml:"max_execution_time"`
	// MaxRows bounds the rows of an answer: a longer result is refused
	// once its first MaxRows rows are read, never held whole. Default
	// 100000.
	MaxRows int `yaml:"max_rows"`
	// ClickHouseUser and ClickHousePassword, when the user is set, replace
	// the clickhouse section's for the UI's queries: a read-only user (see
	// docs/ui.md).
	ClickHouseUser     string `yaml:"clickhouse_user"`
	ClickHousePassword string `yaml:"clickhouse_password"`
	// BasicAuth, when its user is set, requires HTTP basic authentication
	// of the app and the API.
	BasicAuth BasicAuth `yaml:"basic_auth"`
	// BearerToken, when set, requires "Authorization: Bearer <token>" of
	// the API (or basic authentication, when that is configured too).
	BearerToken string `yaml:"bearer_token"`
	// ProbeInterval schedules the ClickHouse ping behind /readyz. Default 5s.
	ProbeInterval time.Duration `yaml:"probe_interval"`
}

// BasicAuth is a user and password for HTTP basic authentication.
type BasicAuth struct {
	// User is the user name; empty means no basic authentication.
	User string `yaml:"user"`
	// Password is the user's password, compared in constant time.
	Password string `yaml:"password"`
}

// DefaultPort is the port of the UI's default address.
const DefaultPort = "8070"

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Listen:           net.JoinHostPort("127.0.0.1", DefaultPort),
		MaxExecutionTime: 30 * time.Second,
		MaxRows:          100000,
		ProbeInterval:    5 * time.Second,
	}
}

// ErrConfig reports an invalid ui setting.
var ErrConfig = errors.New("invalid ui config")

// Validate reports every invalid setting, each wrapping ErrConfig and
// naming its key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	_, _, err := net.SplitHostPort(c.Listen)
	ch.Check(err != nil, "listen", "listen %q is not host:port", c.Listen)
	ch.Check(c.MaxExecutionTime < time.Second, "max_execution_time", "max_execution_time must be at least 1s")
	ch.Check(c.MaxRows < 1, "max_rows", "max_rows must be at least 1")
	ch.Check(c.BasicAuth.User != "" && c.BasicAuth.Password == "", "basic_auth", "basic_auth: password is empty")
	ch.Check(c.BasicAuth.User == "" && c.BasicAuth.Password != "", "basic_auth", "basic_auth: user is empty")
	ch.Check(c.ClickHouseUser == "" && c.ClickHousePassword != "", "clickhouse_password", "clickhouse_password without clickhouse_user")
	ch.Check(c.ProbeInterval <= 0, "probe_interval", "probe_interval must be positive")
	return ch.Err()
}
