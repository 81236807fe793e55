package testenv

import (
	"context"
	"io"
	"net/http"
	"os"
	"time"
)

// SaveProfile fetches a profile from url (a service's /debug/pprof/...)
// into path, retrying until the service answers or ctx ends. Benchmarks
// run it in a goroutine while they load the service.
func SaveProfile(ctx context.Context, url, path string) {
	for ctx.Err() == nil {
		resp, err := http.Get(url) //nolint:gosec // loopback URL built by the benchmark
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err == nil {
			_, _ = io.Copy(f, resp.Body)
			_ = f.Close()
		}
		return
	}
}
