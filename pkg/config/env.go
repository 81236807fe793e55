package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// EnvVar documents one environment variable.
type EnvVar struct {
	Name string
	Help string
	set  func(c *Config, v string) error
}

func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func boolean(name string, dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%s=%q is not a boolean", name, v)
	}
	*dst = b
	return nil
}

// EnvVars lists the environment variables touchline reads, in the order it
// applies them. They override the file; flags override them.
var EnvVars = []EnvVar{
	{"TOUCHLINE_KAFKA_BROKERS", "comma-separated seed brokers", func(c *Config, v string) error { c.Kafka.Brokers = list(v); return nil }},
	{"TOUCHLINE_KAFKA_TLS", "true to connect to Kafka over TLS", func(c *Config, v string) error {
		return boolean("TOUCHLINE_KAFKA_TLS", &c.Kafka.TLS.Enabled, v)
	}},
	{"TOUCHLINE_KAFKA_SASL_MECHANISM", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", func(c *Config, v string) error { c.Kafka.SASL.Mechanism = v; return nil }},
	{"TOUCHLINE_KAFKA_SASL_USER", "SASL user", func(c *Config, v string) error { c.Kafka.SASL.User = v; return nil }},
	{"TOUCHLINE_KAFKA_SASL_PASSWORD", "SASL password", func(c *Config, v string) error { c.Kafka.SASL.Password = v; return nil }},
	{"TOUCHLINE_SCHEMA_REGISTRY_URL", "Schema Registry URL", func(c *Config, v string) error { c.Kafka.SchemaRegistry.URL = v; return nil }},
	{"TOUCHLINE_CLICKHOUSE_DSN", "clickhouse://user:password@host:port/database?secure=true", func(c *Config, v string) error {
		return c.ClickHouse.ApplyDSN(v)
	}},
	{"TOUCHLINE_CLICKHOUSE_ADDR", "comma-separated native-protocol addresses", func(c *Config, v string) error { c.ClickHouse.Addr = list(v); return nil }},
	{"TOUCHLINE_CLICKHOUSE_DATABASE", "database holding touchline's tables", func(c *Config, v string) error { c.ClickHouse.Database = v; return nil }},
	{"TOUCHLINE_CLICKHOUSE_CLUSTER", "ClickHouse cluster of remote_servers (clickhouse.cluster); empty is one server", func(c *Config, v string) error { c.ClickHouse.Cluster = v; return nil }},
	{"TOUCHLINE_CLICKHOUSE_USER", "ClickHouse user", func(c *Config, v string) error { c.ClickHouse.User = v; return nil }},
	{"TOUCHLINE_CLICKHOUSE_PASSWORD", "ClickHouse password", func(c *Config, v string) error { c.ClickHouse.Password = v; return nil }},
	{"TOUCHLINE_CLICKHOUSE_TLS", "true to connect to ClickHouse over TLS", func(c *Config, v string) error {
		return boolean("TOUCHLINE_CLICKHOUSE_TLS", &c.ClickHouse.TLS.Enabled, v)
	}},
	{"TOUCHLINE_PEPPER", "secret key for hashing emails and phones (HMAC-SHA256)", func(c *Config, v string) error { c.Identifiers.Pepper = v; return nil }},
	{"TOUCHLINE_REQUIRE_PEPPER", "true to refuse to start without TOUCHLINE_PEPPER", func(c *Config, v string) error {
		return boolean("TOUCHLINE_REQUIRE_PEPPER", &c.Identifiers.RequirePepper, v)
	}},
	{"TOUCHLINE_PIPELINES", "directory of pipeline files", func(c *Config, v string) error { c.Pipelines = v; return nil }},
	{"TOUCHLINE_STATE_DIR", "directory of the instance's local state", func(c *Config, v string) error { c.StateDir = v; return nil }},
	{"TOUCHLINE_PPROF", "true to serve Go profiles under /debug/pprof/ on the HTTP address", func(c *Config, v string) error {
		return boolean("TOUCHLINE_PPROF", &c.PProf, v)
	}},
	{"TOUCHLINE_LOG_LEVEL", "debug, info, warn or error", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"TOUCHLINE_HTTP_ADDR", "address of /metrics, /healthz and /readyz", func(c *Config, v string) error { c.HTTPAddr = v; return nil }},
	{"TOUCHLINE_COLLECT_ADDR", "address of the collector's API (and its /metrics, /healthz, /readyz)", func(c *Config, v string) error { c.Collect.Addr = v; return nil }},
	{"TOUCHLINE_UI_LISTEN", "address of the web UI and its API (and its /metrics, /healthz, /readyz)", func(c *Config, v string) error { c.UI.Listen = v; return nil }},
	{"TOUCHLINE_UI_BEARER_TOKEN", "bearer token the web UI's API requires", func(c *Config, v string) error { c.UI.BearerToken = v; return nil }},
	{"TOUCHLINE_UI_CLICKHOUSE_USER", "the web UI's read-only ClickHouse user (ui.clickhouse_user)", func(c *Config, v string) error { c.UI.ClickHouseUser = v; return nil }},
	{"TOUCHLINE_UI_CLICKHOUSE_PASSWORD", "password of the web UI's read-only ClickHouse user (ui.clickhouse_user)", func(c *Config, v string) error { c.UI.ClickHousePassword = v; return nil }},
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	for _, e := range EnvVars {
		v, ok := lookup(e.Name)
		if !ok || v == "" {
			continue
		}
		if err := e.set(c, v); err != nil {
			return pipefile.Errorf("", 0, "environment: %s: %v", e.Name, err)
		}
	}
	return nil
}
