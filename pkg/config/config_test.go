package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/pipefile"
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

// load loads the config file of body and validates it, and returns the
// errors as lines with the file's path replaced by F.
func load(t *testing.T, body string) (Config, []string) {
	t.Helper()
	path := write(t, body)
	cfg, err := Load(path)
	if err == nil {
		err = cfg.Validate()
	}
	if err == nil {
		return cfg, nil
	}
	var ce *pipefile.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("%v: not a *pipefile.ConfigError", err)
	}
	return cfg, strings.Split(strings.ReplaceAll(err.Error(), path, "F"), "\n")
}

// TestErrorsCarryFileAndLine: every error names the file and the line of
// the key it is about, not of its section.
func TestErrorsCarryFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown key", "kafka:\n  brokers: [a:1]\n  brokerz: [b:2]\n", "F:3: kafka.brokerz: unknown key"},
		{"bad type", "ingest:\n  batch_size: lots\n", "F:2: ingest.batch_size: cannot unmarshal !!str `lots` into int"},
		{"bad duration", "clickhouse:\n  dial_timeout: soon\n", `F:2: clickhouse.dial_timeout: duration "soon": want e.g. 30d, 2w, 36h or 90m`},
		{"invalid value", "log:\n  level: info\nclickhouse:\n  database: \"no-dashes\"\n",
			`F:4: clickhouse: invalid clickhouse config: database "no-dashes" is not a plain identifier`},
		{"invalid sasl", "kafka:\n  sasl:\n    mechanism: GSSAPI\n",
			`F:3: kafka: invalid kafka config: sasl.mechanism "GSSAPI" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{"dead-letter topic is the input topic", "log:\n  level: info\nkafka:\n  topics:\n    dead_letter: touchline.touchpoints\n",
			`F:5: kafka: invalid kafka config: topics.touchpoints and topics.dead_letter both name "touchline.touchpoints"; every topic needs its own name (a service reading its own output loops forever)`},
		{"invalid default under a key of the file", "kafka:\n  sasl:\n    mechanism: PLAIN\n",
			"F:2: kafka: invalid kafka config: sasl.user is required with sasl.mechanism PLAIN"},
		{"webhook", "alerts:\n  webhooks:\n    - name: ops\n      url: ftp://x\n",
			`F:4: alerts: invalid alerts config: webhook ops: url "ftp://x" is not an http(s) URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := load(t, tc.body); !reflect.DeepEqual(got, []string{tc.want}) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAllErrorsAreReported: one run shows every problem of the file, each
// at its key's line: the decoding problems (ill-typed values, bad
// durations, unknown keys) all at once, and once the file decodes, every
// invalid setting of every section.
func TestAllErrorsAreReported(t *testing.T) {
	_, got := load(t, "ingest:\n  batch_size: lots\n  workers: many\n  flush_interval: 1 day\n  bogus: 1\nlog:\n  levle: info\n")
	want := []string{
		"F:2: ingest.batch_size: cannot unmarshal !!str `lots` into int",
		"F:3: ingest.workers: cannot unmarshal !!str `many` into int",
		`F:4: ingest.flush_interval: duration "1 day": want e.g. 30d, 2w, 36h or 90m`,
		"F:5: ingest.bogus: unknown key",
		"F:7: log.levle: unknown key",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoding errors:\n got %q\nwant %q", got, want)
	}
	_, got = load(t, "clickhouse:\n  addr: []\n  max_open_conns: 0\ningest:\n  batch_size: 0\n  workers: 0\n  gc_percent: 10\nlog:\n  level: loud\n")
	want = []string{
		"F:2: clickhouse: invalid clickhouse config: addr is empty",
		"F:3: clickhouse: invalid clickhouse config: max_open_conns must be at least 1",
		"F:5: ingest: invalid ingest config: batch_size must be at least 1",
		"F:6: ingest: invalid ingest config: workers must be at least 1",
		"F:7: ingest: invalid ingest config: gc_percent must be at least 25",
		`F:9: log: log level "loud": want debug, info, warn or error`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("invalid settings:\n got %q\nwant %q", got, want)
	}
}

// TestInsertsLeaveAConnection: ingest's concurrent inserts must leave a
// ClickHouse connection free; the error is placed at whichever of the two
// settings the file has, concurrent_inserts first, and one fewer insert
// passes.
func TestInsertsLeaveAConnection(t *testing.T) {
	const tail = "must be less than clickhouse.max_open_conns (%d): each insert holds a connection while it runs, and the readiness probe and the other writes need one"
	for _, tc := range []struct{ file, want string }{
		{"clickhouse:\n  max_open_conns: 2\n", "F:2: ingest: concurrent_inserts (2) " + fmt.Sprintf(tail, 2)},
		{"clickhouse:\n  max_open_conns: 4\ningest:\n  concurrent_inserts: 4\n", "F:4: ingest: concurrent_inserts (4) " + fmt.Sprintf(tail, 4)},
		{"clickhouse:\n  max_open_conns: 4\ningest:\n  concurrent_inserts: 3\n", ""},
		{"ingest:\n  concurrent_inserts: 3\n", ""},
	} {
		_, got := load(t, tc.file)
		if tc.want == "" && got != nil || tc.want != "" && !reflect.DeepEqual(got, []string{tc.want}) {
			t.Errorf("%q:\n got %q\nwant %q", tc.file, got, tc.want)
		}
	}
}

// TestIdentifiersFitALinkRequest: ingest's limit on an event's identifiers
// may not pass what a link request may carry, at the line of the limit.
func TestIdentifiersFitALinkRequest(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"ingest:\n  limits:\n    max_identifiers: 65536\n", "F:3: ingest: invalid ingest config: limits.max_identifiers (65536) must be at most 65535, the most identifiers a link request may carry"},
		{"ingest:\n  limits:\n    max_identifiers: 65535\n", ""},
	} {
		_, got := load(t, tc.file)
		if tc.want == "" && got != nil || tc.want != "" && !reflect.DeepEqual(got, []string{tc.want}) {
			t.Errorf("%q:\n got %q\nwant %q", tc.file, got, tc.want)
		}
	}
}

// TestDurationsTakeDaysAndWeeks: touchline.yaml's durations read 1d and 2w
// as the pipelines files do.
func TestDurationsTakeDaysAndWeeks(t *testing.T) {
	cfg, errs := load(t, "ingest:\n  shutdown_timeout: 1d\n  stall_timeout: 2w\nclickhouse:\n  query_timeout: 1h30m\n")
	if errs != nil {
		t.Fatal(errs)
	}
	if cfg.Ingest.ShutdownTimeout != 24*time.Hour || cfg.Ingest.StallTimeout != 14*24*time.Hour || cfg.ClickHouse.QueryTimeout != 90*time.Minute {
		t.Fatalf("got %s, %s, %s", cfg.Ingest.ShutdownTimeout, cfg.Ingest.StallTimeout, cfg.ClickHouse.QueryTimeout)
	}
}

// TestSessionTimeoutRule: a session timeout under the broker's minimum (6s)
// is refused by the validation of every service section that has one, not
// by the broker at the first join; 6s itself passes.
func TestSessionTimeoutRule(t *testing.T) {
	_, got := load(t, "ingest:\n  session_timeout: 2s\nidentity:\n  session_timeout: 2s\nsegments:\n  session_timeout: 2s\n")
	const tail = "session_timeout 2s is shorter than 6s (the broker's group.min.session.timeout.ms)"
	want := []string{
		"F:2: ingest: invalid ingest config: " + tail,
		"F:4: identity: invalid identity config: " + tail,
		"F:6: segments: invalid segments config: " + tail,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if _, got := load(t, "ingest:\n  session_timeout: 6s\nidentity:\n  session_timeout: 6s\nsegments:\n  session_timeout: 6s\n"); got != nil {
		t.Fatalf("6s refused: %q", got)
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
	t.Setenv("TOUCHLINE_CLICKHOUSE_CLUSTER", "analytics")
	if cfg, err = Load(path); err != nil || cfg.ClickHouse.Cluster != "analytics" {
		t.Fatalf("TOUCHLINE_CLICKHOUSE_CLUSTER: cluster %q, %v", cfg.ClickHouse.Cluster, err)
	}
	t.Setenv("TOUCHLINE_CLICKHOUSE_CLUSTER", "")
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
