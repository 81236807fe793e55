package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/kafka"
	srvs "github.com/touchline-io/touchline/pkg/servers"
)

// TestKafkaSASL starts a broker with a SASL_PLAINTEXT listener and connects
// through touchline's Kafka configuration with PLAIN and SCRAM-SHA-256: right
// credentials produce and consume, a wrong password is refused.
func TestKafkaSASL(t *testing.T) {
	servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	plainPort, saslPort, ctlPort := freePort(t), freePort(t), freePort(t)
	k, err := srvs.StartKafka(ctx, srvs.KafkaOptions{
		Dir: filepath.Join(t.TempDir(), "kafka"), Port: plainPort, ControllerPort: ctlPort,
		Properties: map[string]string{
			"listeners":                      fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", plainPort, saslPort, ctlPort),
			"advertised.listeners":           fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d", plainPort, saslPort),
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
			"sasl.enabled.mechanisms":        "PLAIN,SCRAM-SHA-256",
			"listener.name.sasl_plaintext.plain.sasl.jaas.config":         `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`,
			"listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required;`,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = k.Stop() }()

	admin, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := kadm.NewClient(admin).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{
		User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-secret",
	}}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, mechanism, user, password string
		ok                              bool
	}{
		{"plain", "PLAIN", "alice", "alice-secret", true},
		{"plain wrong password", "PLAIN", "alice", "nope", false},
		{"scram", "SCRAM-SHA-256", "bob", "bob-secret", true},
		{"scram wrong password", "SCRAM-SHA-256", "bob", "nope", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafka.DefaultConfig()
			cfg.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", saslPort)}
			cfg.SASL = kafka.SASLConfig{Mechanism: tc.mechanism, User: tc.user, Password: tc.password}
			cl, err := kafka.NewClient(cfg, nil, kgo.DefaultProduceTopic("sasl"), kgo.AllowAutoTopicCreation())
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			limit := 15 * time.Second
			if !tc.ok {
				limit = 4 * time.Second // the client retries authentication until then
			}
			pctx, cancel := context.WithTimeout(ctx, limit)
			defer cancel()
			err = cl.ProduceSync(pctx, &kgo.Record{Value: []byte(tc.name)}).FirstErr()
			if tc.ok && err != nil {
				t.Fatalf("produce with right credentials: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("produce with a wrong password succeeded")
			}
		})
	}
}
