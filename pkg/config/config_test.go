package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExampleIsTheDefaults keeps docs/touchline.example.yaml true: it must load,
// validate, and equal the defaults.
func TestExampleIsTheDefaults(t *testing.T) {
	cfg, err := Load("../../docs/touchline.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	def := Default()
	cfg.file, cfg.lines = "", nil
	if !reflect.DeepEqual(cfg, def) {
		t.Fatalf("example differs from defaults:\n%+v\n%+v", cfg, def)
	}
}

func TestErrorsCarryFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown key", "kafka:\n  brokers: [a:1]\n  brokerz: [b:2]\n", ":3: "},
		{"bad type", "ingest:\n  batch_size: lots\n", ":2: "},
		{"bad duration", "clickhouse:\n  dial_timeout: soon\n", ":2: "},
		{"invalid value", "log:\n  level: info\nclickhouse:\n  database: \"no-dashes\"\n", ":3: clickhouse: "},
		{"invalid sasl", "kafka:\n  sasl:\n    mechanism: GSSAPI\n", ":1: kafka: "},
		{"dead-letter topic is the input topic", "log:\n  level: info\nkafka:\n  topics:\n    dead_letter: touchline.touchpoints\n",
			":3: kafka: invalid kafka config: topics.touchpoints and topics.dead_letter both name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, tc.body)
			cfg, err := Load(path)
			if err == nil {
				err = cfg.Validate()
			}
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), path+tc.want) {
				t.Fatalf("got %v, want an error at %s%s", err, path, tc.want)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	path := write(t, "clickhouse:\n  database: fromfile\n  addr: [file:9000]\n")
	t.Setenv("TOUCHLINE_CLICKHOUSE_DATABASE", "fromenv")
	t.Setenv("TOUCHLINE_KAFKA_BROKERS", "k1:9092, k2:9092")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Database != "fromenv" || cfg.ClickHouse.Addr[0] != "file:9000" {
		t.Fatalf("env must override the file and leave the rest: %+v", cfg.ClickHouse)
	}
	if !reflect.DeepEqual(cfg.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) {
		t.Fatalf("brokers %v", cfg.Kafka.Brokers)
	}
	if cfg.Ingest.FlushInterval != time.Second {
		t.Fatalf("defaults lost: %v", cfg.Ingest.FlushInterval)
	}
	t.Setenv("TOUCHLINE_CLICKHOUSE_DSN", "clickhouse://u:p@h1:9440,h2:9440/analytics?secure=true")
	t.Setenv("TOUCHLINE_CLICKHOUSE_DATABASE", "")
	cfg, err = Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := clickhouse.DefaultConfig()
	want.Addr, want.Database, want.User, want.Password, want.TLS.Enabled = []string{"h1:9440", "h2:9440"}, "analytics", "u", "p", true
	if !reflect.DeepEqual(cfg.ClickHouse, want) {
		t.Fatalf("dsn: %+v", cfg.ClickHouse)
	}
}

func TestRequirePepperFromTheEnvironment(t *testing.T) {
	t.Setenv("TOUCHLINE_REQUIRE_PEPPER", "true")
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Identifiers.RequirePepper || cfg.Identifiers.CheckPepper() == nil {
		t.Fatalf("TOUCHLINE_REQUIRE_PEPPER=true without a pepper: %+v passes", cfg.Identifiers)
	}
	t.Setenv("TOUCHLINE_PEPPER", "s3cret")
	if cfg, err = Load(""); err != nil || cfg.Identifiers.CheckPepper() != nil {
		t.Fatalf("with the pepper: %v, %v", err, cfg.Identifiers.CheckPepper())
	}
	t.Setenv("TOUCHLINE_REQUIRE_PEPPER", "yes please")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "TOUCHLINE_REQUIRE_PEPPER") {
		t.Fatalf("a non-boolean: %v", err)
	}
}
