// Package kafka builds touchline's franz-go clients from configuration:
// brokers, TLS, SASL, the topic names, and the Schema Registry.
package kafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/tlsconfig"
)

// Config configures the Kafka connection and topics.
type Config struct {
	// Brokers lists seed brokers (host:port). Default 127.0.0.1:9092.
	Brokers []string `yaml:"brokers"`
	// ClientID names the client in broker logs. Default touchline.
	ClientID string `yaml:"client_id"`
	// TLS secures the connection.
	TLS tlsconfig.Config `yaml:"tls"`
	// SASL authenticates the connection.
	SASL SASLConfig `yaml:"sasl"`
	// Topics names the topics touchline reads and writes.
	Topics Topics `yaml:"topics"`
	// SchemaRegistry, when its URL is set, resolves schema ids; otherwise the
	// ids of the schemas shipped in schemas/avro are used.
	SchemaRegistry SchemaRegistryConfig `yaml:"schema_registry"`
	// DialTimeout bounds connecting to a broker. Default 10s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// CreateTopics makes each service create the topics it reads and
	// writes when they are missing, as `touchline topics create` does.
	// With false, a service refuses to start while one is missing. Default
	// true.
	CreateTopics bool `yaml:"create_topics"`
	// Partitions is the partition count of the touchpoints, spend and
	// dead-letter topics when touchline creates them (the identity and
	// segment topics take theirs from those sections). Default 6.
	Partitions int32 `yaml:"partitions"`
	// ReplicationFactor of the topics touchline creates; -1 takes the
	// broker's default.replication.factor. Default -1.
	ReplicationFactor int16 `yaml:"replication_factor"`
	// Retention is the retention.ms of the non-compacted topics touchline
	// creates; 0 takes the broker's log.retention (7 days unless changed).
	// Default 0.
	Retention time.Duration `yaml:"retention"`
}

// Topics names the topics touchline uses.
type Topics struct {
	// Touchpoints carries Touchpoint records. Default touchline.touchpoints.
	Touchpoints string `yaml:"touchpoints"`
	// Spend carries Spend records. Default touchline.spend.
	Spend string `yaml:"spend"`
	// ExchangeRates carries ExchangeRate records, keyed by
	// date|base|quote. Default (empty): the spend topic's name with its
	// ".spend" suffix replaced by ".exchange_rates",
	// touchline.exchange_rates.
	ExchangeRates string `yaml:"exchange_rates"`
	// DeadLetter receives records that cannot be decoded or fail validation,
	// with the reason in headers. Default touchline.deadletter.
	DeadLetter string `yaml:"dead_letter"`
	// IdentityLinks carries identity link requests to the resolver; it has
	// one partition so one resolver applies them in order. Default
	// touchline.identity.links.
	IdentityLinks string `yaml:"identity_links"`
	// IdentityMap is the compacted identifier -> person map the resolver
	// publishes. Default touchline.identity.map.
	IdentityMap string `yaml:"identity_map"`
	// Alerts carries the alerts service's firing and resolved
	// notifications as Alert records, keyed by incident. Default
	// touchline.alerts.
	Alerts string `yaml:"alerts"`
	// SegmentInputs carries touchpoints and identity merges repartitioned
	// by person, for the segments service. Default touchline.segments.inputs.
	SegmentInputs string `yaml:"segment_inputs"`
	// SegmentChangelog is the compacted changelog of the segments
	// service's state. Default touchline.segments.changelog.
	SegmentChangelog string `yaml:"segment_changelog"`
	// SegmentChanges carries SegmentChange records (entries and exits),
	// keyed by person. Default touchline.segments.changes.
	SegmentChanges string `yaml:"segment_changes"`
	// IdentitySuppressions is the compacted list of erased identifiers
	// (`touchline forget`), keyed by a hash of each. Default (empty): the
	// identity map topic's name with its ".map" suffix replaced by
	// ".suppressions", touchline.identity.suppressions.
	IdentitySuppressions string `yaml:"identity_suppressions"`
}

// Suppressions returns the name of the suppressions topic: IdentitySuppressions,
// or the name derived from IdentityMap when it is empty.
func (t Topics) Suppressions() string {
	if t.IdentitySuppressions != "" {
		return t.IdentitySuppressions
	}
	return strings.TrimSuffix(t.IdentityMap, ".map") + ".suppressions"
}

// Rates returns the name of the exchange rates topic: ExchangeRates, or the
// name derived from Spend when it is empty.
func (t Topics) Rates() string {
	if t.ExchangeRates != "" {
		return t.ExchangeRates
	}
	return strings.TrimSuffix(t.Spend, ".spend") + ".exchange_rates"
}

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or empty for
	// none (the default).
	Mechanism string `yaml:"mechanism"`
	User      string `yaml:"user"`
	Password  string `yaml:"password"`
}

// SchemaRegistryConfig configures a Confluent-compatible Schema Registry.
type SchemaRegistryConfig struct {
	// URL of the registry, e.g. http://localhost:8081. Default empty: none.
	URL      string           `yaml:"url"`
	User     string           `yaml:"user"`
	Password string           `yaml:"password"`
	TLS      tlsconfig.Config `yaml:"tls"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Brokers:           []string{"127.0.0.1:9092"},
		ClientID:          "touchline",
		DialTimeout:       10 * time.Second,
		CreateTopics:      true,
		Partitions:        6,
		ReplicationFactor: -1,
		Topics: Topics{
			Touchpoints:      "touchline.touchpoints",
			Spend:            "touchline.spend",
			DeadLetter:       "touchline.deadletter",
			IdentityLinks:    "touchline.identity.links",
			IdentityMap:      "touchline.identity.map",
			Alerts:           "touchline.alerts",
			SegmentInputs:    "touchline.segments.inputs",
			SegmentChangelog: "touchline.segments.changelog",
			SegmentChanges:   "touchline.segments.changes",
		},
	}
}

// ErrConfig reports an invalid Kafka setting.
var ErrConfig = errors.New("invalid kafka config")

// Validate reports every invalid setting, each wrapping ErrConfig and
// naming its key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	ch.Check(len(c.Brokers) == 0, "brokers", "brokers is empty")
	for _, b := range c.Brokers {
		ch.Check(!strings.Contains(b, ":"), "brokers", "broker %q needs host:port", b)
	}
	if c.Topics.Touchpoints == "" || c.Topics.Spend == "" || c.Topics.DeadLetter == "" || c.Topics.IdentityLinks == "" || c.Topics.IdentityMap == "" || c.Topics.Alerts == "" ||
		c.Topics.SegmentInputs == "" || c.Topics.SegmentChangelog == "" || c.Topics.SegmentChanges == "" {
		ch.Add("topics", errors.New("every topic (touchpoints, spend, dead_letter, identity_links, identity_map, alerts, segment_inputs, segment_changelog, segment_changes) must be named"))
	} else {
		ch.Add("topics", c.Topics.distinct())
	}
	ch.Check(c.Partitions < 1, "partitions", "partitions must be at least 1")
	ch.Check(c.ReplicationFactor == 0 || c.ReplicationFactor < -1, "replication_factor", "replication_factor must be at least 1, or -1 for the broker's default")
	ch.Check(c.Retention < 0 || (c.Retention > 0 && c.Retention < time.Millisecond), "retention", "retention must be 0 (the broker's default) or at least 1ms")
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		ch.Check(c.SASL.User == "", "sasl.user", "sasl.user is required with sasl.mechanism %s", c.SASL.Mechanism)
	default:
		ch.Add("sasl.mechanism", fmt.Errorf("sasl.mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASL.Mechanism))
	}
	ch.Check(c.DialTimeout <= 0, "dial_timeout", "dial_timeout must be positive")
	ch.Add("tls", c.TLS.Validate())
	if err := c.SchemaRegistry.TLS.Validate(); err != nil {
		ch.Add("schema_registry.tls", fmt.Errorf("schema_registry: %w", err))
	}
	return ch.Err()
}

// distinct reports two settings that name the same topic. Every topic has
// one role: a topic that is both read and written by a service (the
// dead-letter topic set to the touchpoints topic, say) feeds the service
// its own output and loops forever, and two roles on one topic mix record
// kinds that their readers cannot tell apart.
func (t Topics) distinct() error {
	named := []struct{ key, topic string }{
		{"touchpoints", t.Touchpoints}, {"spend", t.Spend}, {"exchange_rates", t.Rates()}, {"dead_letter", t.DeadLetter},
		{"identity_links", t.IdentityLinks}, {"identity_map", t.IdentityMap}, {"alerts", t.Alerts},
		{"segment_inputs", t.SegmentInputs}, {"segment_changelog", t.SegmentChangelog}, {"segment_changes", t.SegmentChanges},
		{"identity_suppressions", t.Suppressions()},
	}
	seen := map[string]string{}
	for _, n := range named {
		if other, ok := seen[n.topic]; ok {
			return pipefile.AtKey(n.key, fmt.Errorf("%w: topics.%s and topics.%s both name %q; every topic needs its own name (a service reading its own output loops forever)",
				ErrConfig, other, n.key, n.topic))
		}
		seen[n.topic] = n.key
	}
	return nil
}
