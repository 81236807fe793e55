package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProduceReportsBadLines runs `touchline produce` on a file mixing good
// and bad lines: each bad line is reported with its number and reason, the
// good ones reach ClickHouse through the ingest service, and the exit status
// is 1.
func TestProduceReportsBadLines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 1, nil)
	now := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	lines := []string{
		`{"event_id":"p1","event_time":"` + now + `","event_type":"purchase","identifiers":{"customer_id":"c1"},"revenue":12.34,"currency":"USD"}`,
		`{"event_id":"p2","event_time":`,
		`{"event_id":"p3","event_time":"` + now + `","event_type":"click","identifiers":{"customer_id":"c1"},"colour":"red"}`,
		``,
		`{"event_time":"` + now + `","event_type":"click","identifiers":{"customer_id":"c1"}}`,
		`{"event_id":"p5","event_time":"` + now + `","event_type":"purchase","identifiers":{"customer_id":"c1"},"revenue":-1,"currency":"USD"}`,
		`{"event_id":"p6","event_time":"` + now + `","event_type":"page_view","identifiers":{"anonymous_id":"a1"},"referrer":"https://www.google.com/"}`,
	}
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, touchlineBin, "produce", "--config", cfgPath, "--file", file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
	}
	for _, want := range []string{"line 2: invalid JSON", `line 3: invalid JSON: json: unknown field "colour"`,
		"line 5: event_id: is required", "line 6: revenue: is negative"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, &stderr)
		}
	}
	if !strings.Contains(stdout.String(), "produced 2 touchpoint records, rejected 4 lines") {
		t.Errorf("stdout: %s", &stdout)
	}
	proc := startIngest(t, cfgPath, logPath(t))
	defer proc.Kill()
	waitCommitted(ctx, t, cfg)
	rows, err := conn.Query(ctx, "SELECT event_id, channel, revenue FROM touchpoints FINAL ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, ch string
		var rev int64
		if err := rows.Scan(&id, &ch, &rev); err != nil {
			t.Fatal(err)
		}
		got = append(got, id+"/"+ch+"/"+strconv.FormatInt(rev, 10))
	}
	if want := "p1/direct/12340000,p6/organic_search/0"; strings.Join(got, ",") != want {
		t.Fatalf("rows %v, want %s", got, want)
	}
}
