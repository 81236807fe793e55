package testenv

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// WaitReady waits up to a minute until the service of proc answers 200 on
// base+"/readyz". It fails at once when the process exits; both errors name
// logPath, the service's log.
func WaitReady(ctx context.Context, proc *Process, base, logPath string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if _, err := proc.Wait(100 * time.Millisecond); err == nil {
			return fmt.Errorf("the service exited before it was ready; see %s", logPath)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the service at %s was not ready within a minute; see %s", base, logPath)
		}
	}
}
