package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestDevMode runs `touchline dev --once` as a user would on a fresh machine:
// it starts its own broker and ClickHouse server, publishes synthetic traffic
// and prints a report once every touchpoint is queryable.
func TestDevMode(t *testing.T) {
	servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const events = 3000
	cmd := exec.CommandContext(ctx, touchlineBin, "dev", "--once",
		"--events", strconv.Itoa(events), "--persons", "200", "--days", "10",
		"--kafka-port", strconv.Itoa(freePort(t)), "--data-dir", t.TempDir(),
		"--http-addr", "127.0.0.1:0", "--report-every", "500ms")
	cmd.Dir = t.TempDir()
	collectAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	uiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd.Env = append(os.Environ(), "TOUCHLINE_PIPELINES="+filepath.Join(testenv.RepoRoot(), "pipelines"), "TOUCHLINE_COLLECT_ADDR="+collectAddr,
		"TOUCHLINE_UI_LISTEN="+uiAddr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("touchline dev: %v\n%s", err, out)
	}
	text := string(out)
	migrations, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	applied := fmt.Sprintf("migrations:  %d applied", len(migrations))
	for _, want := range []string{"kafka:", "clickhouse:", applied, "services:    ingest", "report:", "alert rules now:", "segment members so far", "clickhouse-client --host",
		"collector:   http://" + collectAddr, "ui:          http://" + uiAddr} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	checkDevReportInUSD(t, text, "channel KPIs in USD", "unconverted_purchases")
	checkDevReportInUSD(t, text, "ROMI per channel in USD", "unconverted_conversions")
	m := regexp.MustCompile(`published (\d+) touchpoints`).FindStringSubmatch(text)
	if m == nil || m[1] != strconv.Itoa(events) {
		t.Fatalf("published count missing or wrong:\n%s", text)
	}
	if !strings.Contains(text, "progress:    "+strconv.Itoa(events)+" touchpoints queryable") {
		t.Fatalf("never saw all %d touchpoints queryable:\n%s", events, text)
	}
}

// checkDevReportInUSD: the dev report titled title is in USD, its EUR
// revenue converted at the generated rates, none of it left unconverted
// (its last two columns, the first of them named unconverted).
func checkDevReportInUSD(t *testing.T, text, title, unconverted string) {
	t.Helper()
	_, report, ok := strings.Cut(text, "report:      "+title)
	if !ok {
		t.Fatalf("no report %q:\n%s", title, text)
	}
	_, report, _ = strings.Cut(report, "\n\n") // the title's line, then the table
	report, _, _ = strings.Cut(report, "\n\n")
	lines := strings.Split(report, "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], unconverted) {
		t.Fatalf("%s:\n%s", title, report)
	}
	rows := 0
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 3 || strings.Trim(l, "-+ ") == "" {
			continue
		}
		rows++
		if f[1] != "USD" || f[len(f)-1] != "0" || f[len(f)-2] != "0" {
			t.Errorf("%s: row not all in USD: %q", title, l)
		}
	}
	if rows == 0 {
		t.Fatalf("%s without rows:\n%s", title, report)
	}
}
