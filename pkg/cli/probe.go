package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newProbeCommand returns `touchline probe URL`, the health check of a
// container whose image has no shell, curl or wget (deploy/Dockerfile's
// distroless image): it exits 0 when URL answers 2xx within the timeout.
func newProbeCommand() *cobra.Command {
	timeout := 3 * time.Second
	cmd := &cobra.Command{
		Use:   "probe URL",
		Short: "Exit 0 when URL (a service's /readyz or /healthz) answers 2xx; for container health checks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return probe(cmd.Context(), args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "how long to wait for the answer")
	return cmd
}

// probe GETs url and returns nil on a 2xx answer within timeout, otherwise
// an error with the status and the first line of the body (a /readyz says
// there why it is not ready).
func probe(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	return fmt.Errorf("probe %s: %s: %s", url, resp.Status, line)
}
