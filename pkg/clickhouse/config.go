// Package clickhouse connects touchline to ClickHouse over the native protocol,
// applies the migrations in schemas/clickhouse, and writes batches of rows.
// Every statement it runs is valid on ClickHouse 18.16 and on current
// releases.
package clickhouse

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/tlsconfig"
)

// Config configures the ClickHouse connection.
type Config struct {
	// Addr lists native-protocol addresses (host:port). Default 127.0.0.1:9000.
	Addr []string `yaml:"addr"`
	// Database holds touchline's tables; the migrator creates it. Default touchline.
	Database string `yaml:"database"`
	// User and Password authenticate. Default user "default", no password.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// TLS secures the connection.
	TLS tlsconfig.Config `yaml:"tls"`
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// QueryTimeout bounds one statement or batch insert. Default 60s.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxOpenConns bounds the connection pool. Default 4.
	MaxOpenConns int `yaml:"max_open_conns"`
	// Cluster names a cluster of the servers' remote_servers. Empty (the
	// default) is one server. With a cluster, migrate creates every table ON
	// CLUSTER as a shard-local Replicated* table (<name>_local) under a
	// Distributed table of the table's own name, and every connection sends
	// the settings of ClusterSettings.
	Cluster string `yaml:"cluster"`
	// Retention keeps each table family's rows for a while and `touchline
	// retention` removes the older ones; off by default.
	Retention Retention `yaml:"retention"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Addr:         []string{"127.0.0.1:9000"},
		Database:     "touchline",
		User:         "default",
		DialTimeout:  5 * time.Second,
		QueryTimeout: 60 * time.Second,
		MaxOpenConns: 4,
	}
}

// ErrConfig reports an invalid ClickHouse setting.
var ErrConfig = errors.New("invalid clickhouse config")

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports every invalid setting, each wrapping ErrConfig and
// naming its key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	ch.Check(len(c.Addr) == 0, "addr", "addr is empty")
	ch.Check(!identifier.MatchString(c.Database), "database", "database %q is not a plain identifier", c.Database)
	ch.Check(c.DialTimeout <= 0, "dial_timeout", "dial_timeout must be positive")
	ch.Check(c.QueryTimeout <= 0, "query_timeout", "query_timeout must be positive")
	ch.Check(c.MaxOpenConns < 1, "max_open_conns", "max_open_conns must be at least 1")
	ch.Check(c.Cluster != "" && !identifier.MatchString(c.Cluster), "cluster", "cluster %q is not a plain identifier", c.Cluster)
	ch.Add("tls", c.TLS.Validate())
	ch.Add("retention", c.Retention.Validate())
	return ch.Err()
}

// ApplyDSN sets the address, database, user, password and TLS from a DSN of
// the form clickhouse://user:password@host:port[,host:port]/database?secure=true.
func (c *Config) ApplyDSN(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("%w: dsn: %v", ErrConfig, err)
	}
	if u.Scheme != "clickhouse" && u.Scheme != "tcp" {
		return fmt.Errorf("%w: dsn scheme %q: want clickhouse:// (native protocol)", ErrConfig, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: dsn has no host", ErrConfig)
	}
	c.Addr = strings.Split(u.Host, ",")
	if db := strings.Trim(u.Path, "/"); db != "" {
		c.Database = db
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if s := u.Query().Get("secure"); s != "" {
		c.TLS.Enabled = s == "true" || s == "1"
	}
	return nil
}
