package testenv

import (
	"context"
	"fmt"
	"os"
)

// StartTemp starts the servers in a new temporary directory whose name
// begins with prefix, for programs such as the benchmarks. It returns the
// servers, the directory (for the program's own files) and a function that
// stops the servers and removes the directory.
func StartTemp(ctx context.Context, prefix string) (*Servers, string, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, "", nil, fmt.Errorf("making a directory for the servers: %w", err)
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
