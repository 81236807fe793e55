package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestClickHouseCredentials migrates and writes as a user with a password
// given in a DSN, and checks that a wrong password is refused with a clear
// error.
func TestClickHouseCredentials(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config.Default()
	dsn := "clickhouse://" + testenv.PasswordUser + ":" + strings.NewReplacer(" ", "%20", "<", "%3C", "&", "%26", ">", "%3E").Replace(testenv.Password) +
		"@" + s.ClickHouse.Addr() + "/" + uniqueName(t)
	if err := cfg.ClickHouse.ApplyDSN(dsn); err != nil {
		t.Fatal(err)
	}
	if _, err := clickhouse.Migrate(ctx, cfg.ClickHouse, nil); err != nil {
		t.Fatalf("migrate as %s: %v", testenv.PasswordUser, err)
	}
	conn, err := clickhouse.Open(ctx, cfg.ClickHouse, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var user string
	if err := conn.QueryRow(ctx, "SELECT user FROM system.processes WHERE query LIKE 'SELECT user FROM system.processes%' LIMIT 1").Scan(&user); err != nil || user != testenv.PasswordUser {
		t.Fatalf("connected as %q (%v), want %s", user, err, testenv.PasswordUser)
	}
	cfg.ClickHouse.Password = "wrong"
	if _, err := clickhouse.Open(ctx, cfg.ClickHouse, nil); err == nil || !strings.Contains(err.Error(), "connecting to clickhouse") {
		t.Fatalf("a wrong password gave %v", err)
	}
}
