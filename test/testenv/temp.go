package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/servers"
)

// StartTemp starts the servers in a new directory made by BenchDir, for
// programs such as the benchmarks. It returns the servers, the directory
// (for the program's own files) and a function that stops the servers and
// removes the directory.
func StartTemp(ctx context.Context, prefix string) (*Servers, string, func(), error) {
	dir, err := BenchDir(prefix)
	if err != nil {
		return nil, "", nil, err
	}
	srv, err := Start(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return srv, dir, func() {
		srv.Stop()
		os.RemoveAll(dir)
	}, nil
}

// ClickHouseOnly is a ClickHouse server started alone in a temporary
// directory, for a benchmark that needs no Kafka.
type ClickHouseOnly struct {
	Server *servers.ClickHouse
	// Dir is the server's directory, for the program's own files too.
	Dir string
	// Version is the server's version.
	Version string
	// Config is the default configuration with the repository's pipelines
	// directory and the server's address.
	Config config.Config
}

// StartClickHouseTemp starts a ClickHouse server in a new directory made
// by BenchDir. Stop stops it and removes the directory.
func StartClickHouseTemp(ctx context.Context, prefix string) (*ClickHouseOnly, error) {
	dir, err := BenchDir(prefix)
	if err != nil {
		return nil, err
	}
	srv, err := servers.StartClickHouse(ctx, servers.ClickHouseOptions{Dir: filepath.Join(dir, "clickhouse")})
	if err != nil {
		os.RemoveAll(dir)
		return nil, wrapUnavailable(err)
	}
	c := &ClickHouseOnly{Server: srv, Dir: dir, Config: config.Default()}
	if c.Version, err = srv.Version(ctx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("asking clickhouse its version: %w", err)
	}
	c.Config.Pipelines = filepath.Join(RepoRoot(), "pipelines")
	c.Config.ClickHouse.Addr = []string{srv.Addr()}
	return c, nil
}

// Stop stops the server and removes the directory.
func (c *ClickHouseOnly) Stop() {
	_ = c.Server.Stop()
	os.RemoveAll(c.Dir)
}
