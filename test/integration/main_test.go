// Package integration tests touchline's services end to end on a real Apache
// Kafka broker and a real ClickHouse server, started once for the package.
package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/testenv"
)

var (
	srv          *testenv.Servers
	ingestBin    string
	touchlineBin string
	skipWhy      string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "touchline-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err = testenv.Start(ctx, dir)
	if err != nil {
		if errors.Is(err, testenv.ErrUnavailable) && os.Getenv("CI") != "true" {
			skipWhy = err.Error()
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "starting real servers:", err)
		return 1
	}
	defer srv.Stop()
	if ingestBin, err = testenv.Build(ctx, dir, "ingest"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if touchlineBin, err = testenv.Build(ctx, dir, "touchline"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// servers returns the shared servers, skipping the test when they are not
// installed outside CI.
func servers(t testing.TB) *testenv.Servers {
	t.Helper()
	if srv == nil {
		t.Skip(skipWhy)
	}
	return srv
}

// uniqueName names a test's topics, group and database.
func uniqueName(t testing.TB) string { return testenv.UniqueName(t.Name()) }

// logPath returns where a test's service process logs; the log is printed
// when the test fails.
func logPath(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "service.log")
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(p); err == nil {
				if len(b) > 20000 {
					b = b[len(b)-20000:]
				}
				t.Logf("service log tail:\n%s", b)
			}
		}
	})
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// preparedDatabase migrates a database of the test's own (topics too, one
// partition each) and returns a context that ends with the test or after
// timeout, and a connection to the database that is closed with the test.
func preparedDatabase(t *testing.T, timeout time.Duration) (context.Context, driver.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	conn, err := testenv.Prepare(ctx, servers(t).Config(uniqueName(t)), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ctx, conn
}

// writeConfigWith writes cfg as a service's config file, followed by extra,
// sections of YAML that testenv.WriteConfig does not write, and returns
// its path.
func writeConfigWith(t *testing.T, cfg config.Config, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, path); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(extra)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}
