package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/testenv"
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
	stdout, stderr, status := runProduce(ctx, t, "--config", cfgPath, "--file", file)
	if status != 1 {
		t.Fatalf("exit status %d, want 1\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	for _, want := range []string{"line 2: invalid JSON", `line 3: invalid JSON: json: unknown field "colour"`,
		"line 5: event_id: is required", "line 6: revenue: is negative"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "produced 2 touchpoint records, rejected 4 lines") {
		t.Errorf("stdout: %s", stdout)
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

// eventIDs returns the event ids in the touchpoints table, in order.
func eventIDs(ctx context.Context, t *testing.T, conn driver.Conn) []string {
	t.Helper()
	var rows []struct {
		EventID string `ch:"event_id"`
	}
	if err := conn.Select(ctx, &rows, "SELECT event_id FROM touchpoints FINAL ORDER BY event_id"); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.EventID
	}
	return ids
}

// runProduce runs `touchline produce` with args and returns its output and
// exit status.
func runProduce(ctx context.Context, t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	return runTouchlineStatus(ctx, t, append([]string{"produce"}, args...)...)
}

// runTouchlineStatus runs touchline with args and returns its output and exit
// status.
func runTouchlineStatus(ctx context.Context, t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, touchlineBin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		status = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), status
}

// TestProduceSendsEveryGoodLine: a line over 4 MiB used to end produce with
// "bufio.Scanner: token too long", no line number, and none of the good
// lines sent; a byte order mark was refused, trailing junk and emails that
// ingest dead-letters accepted. Now every good line reaches ClickHouse, and
// each bad one is reported with its number and ingest's reason.
func TestProduceSendsEveryGoodLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 1, nil)
	now := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	event := func(id, ids string) string {
		return `{"event_id":"` + id + `","event_time":"` + now + `","event_type":"page_view","identifiers":{` + ids + `}}`
	}
	lines := []string{
		"\xef\xbb\xbf" + event("q1", `"customer_id":"c1"`),
		event("q2", `"email":"Jane@Example.com"`),
		`{"event_id":"q3","page_url":"https://example.com/?q=` + strings.Repeat("x", 5<<20) + `"}`,
		event("q4", `"customer_id":"c1"`) + ` {"event_id":"q4b"}`,
		event("q5", `"email":"not-an-email"`),
		event("q6", `"phone":"12"`),
		event("q7", `"anonymous_id":"a7"`),
	}
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status := runProduce(ctx, t, "--config", cfgPath, "--file", file)
	if status != 1 {
		t.Fatalf("exit status %d, want 1\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	for _, want := range []string{`line 3: longer than 4194304 bytes\n`, `line 4: invalid JSON: "\{\\"event_id\\":\\"q4b\\"\}" after the object\n`,
		`line 5: invalid identifier: email .*\(invalid_identifier\)\n`, `line 6: invalid identifier: phone .*\(invalid_identifier\)\n`} {
		if !regexp.MustCompile(want).MatchString(stderr) {
			t.Errorf("stderr lacks %s:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "produced 3 touchpoint records, rejected 4 lines") {
		t.Errorf("stdout: %s", stdout)
	}
	startIngest(t, cfgPath, logPath(t))
	waitCommitted(ctx, t, cfg)
	if got := eventIDs(ctx, t, conn); strings.Join(got, ",") != "q1,q2,q7" {
		t.Fatalf("rows %v, want q1,q2,q7", got)
	}
	// Nothing produce accepted was dead-lettered.
	if n := topicRecords(ctx, t, cfg, cfg.Kafka.Topics.DeadLetter); n != 0 {
		t.Errorf("%d records in the dead-letter topic, want none", n)
	}
}

// topicRecords counts the records of a topic (0 when it does not exist).
func topicRecords(ctx context.Context, t *testing.T, cfg config.Config, topic string) int64 {
	t.Helper()
	ends, err := admin(t, cfg).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}

// TestProduceAndGenerateFailFastOnUnreachableBrokers: both used to hang
// silently for 40 s and more. A bad --kind is reported once, before
// anything is read or dialled.
func TestProduceAndGenerateFailFastOnUnreachableBrokers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := servers(t).Config(uniqueName(t))
	cfgPath := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		t.Fatal(err)
	}
	broker := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte("{}\n{}\n{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"produce", "--config", cfgPath, "--brokers", broker, "--file", file},
		{"generate", "--config", cfgPath, "--brokers", broker, "--events", "100", "--persons", "10"},
	} {
		start := time.Now()
		out, err := exec.CommandContext(ctx, touchlineBin, args...).CombinedOutput()
		took := time.Since(start)
		want := "no Kafka broker answered at " + broker
		if err == nil || !strings.Contains(string(out), want) || took > 15*time.Second {
			t.Errorf("touchline %s: %v after %s, output %q; want a failure naming the broker within 15 s", args[0], err, took, out)
		}
	}
	_, stderr, status := runProduce(ctx, t, "--config", cfgPath, "--file", file, "--kind", "spends")
	if status != 1 || strings.Count(stderr, "unknown kind") != 1 || !strings.Contains(stderr, `--kind: unknown kind "spends"`) {
		t.Errorf("a bad --kind: status %d, stderr %q", status, stderr)
	}
}
