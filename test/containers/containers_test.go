// Package containers runs touchline against current releases of Kafka and
// ClickHouse in containers, on machines with a Docker engine. Without one the
// tests skip; the integration suite in test/integration covers the same paths
// on real servers started as child processes.
package containers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/cli/ingestcmd"
	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/testenv"
)

func start(ctx context.Context, t *testing.T, req testcontainers.ContainerRequest) testcontainers.Container {
	t.Helper()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("starting %s: %v", req.Image, err)
	}
	return c
}

// TestCurrentServers migrates ClickHouse 24.8, ingests generated traffic from
// Kafka 3.9 and checks the exact count and revenue and the dev report query.
func TestCurrentServers(t *testing.T) {
	testcontainers.SkipIfProviderIsNotHealthy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	kport, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	start(ctx, t, testcontainers.ContainerRequest{
		Image:        "apache/kafka:3.9.1",
		ExposedPorts: []string{fmt.Sprintf("%d:9092/tcp", kport)},
		Env: map[string]string{
			"KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
			"KAFKA_LISTENERS":                        "PLAINTEXT://:9092,CONTROLLER://:9093",
			"KAFKA_ADVERTISED_LISTENERS":             fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", kport),
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":   "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_CONTROLLER_LISTENER_NAMES":        "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":         "1@localhost:9093",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
		},
		WaitingFor: wait.ForListeningPort("9092/tcp").WithStartupTimeout(2 * time.Minute),
	})
	ch := start(ctx, t, testcontainers.ContainerRequest{
		Image:        "clickhouse/clickhouse-server:24.8",
		ExposedPorts: []string{"9000/tcp", "8123/tcp"},
		Env:          map[string]string{"CLICKHOUSE_SKIP_USER_SETUP": "1"},
		WaitingFor:   wait.ForHTTP("/ping").WithPort("8123/tcp").WithStartupTimeout(2 * time.Minute),
	})
	chAddr, err := ch.PortEndpoint(ctx, "9000/tcp", "")
	if err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Kafka.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", kport)}
	cfg.ClickHouse.Addr = []string{chAddr}
	cfg.Pipelines = testenv.RepoRoot() + "/pipelines"
	cfg.HTTPAddr = "127.0.0.1:0"
	conn, err := testenv.Prepare(ctx, cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if applied, err := clickhouse.Migrate(ctx, cfg.ClickHouse, nil); err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, %v; want nothing", applied, err)
	}

	const n = 5000
	revenue, err := testenv.PublishGenerated(ctx, cfg, n, 3, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	svcCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ingestcmd.Run(svcCtx, cfg, app.NewRegistry(), zap.NewNop()) }()
	got, err := testenv.WaitTotals(ctx, conn, n)
	stop()
	if runErr := <-done; runErr != nil {
		t.Fatal(runErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != n || got.Revenue != revenue {
		t.Fatalf("got %d rows, revenue %d; want %d, %d", got.Rows, got.Revenue, n, revenue)
	}
	// The dev report's channel KPIs, in USD at the generated rates.
	overview, err := analytics.OverviewQuery{Range: analytics.LastDays(time.Now(), 30), PurchaseType: "purchase",
		Currency: analytics.Currency{Code: "USD", MaxRateAge: analytics.DefaultMaxRateAge}}.SQL()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, overview)
	if err != nil {
		t.Fatalf("dev report on ClickHouse 24.8: %v", err)
	}
	rows.Close()
}
