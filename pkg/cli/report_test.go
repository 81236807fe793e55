package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportRefusesBadFlags: every bad flag of report is refused before it
// reaches ClickHouse (none runs here) and before it writes anything.
func TestReportRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "--html: name the file to write"},
		{[]string{"report", "--from", "2026-09-01"}, "--html: name the file to write"},
		{[]string{"report", "--html", file, "--from", "2026-09-29", "--to", "2026-09-01"}, "empty time range: from 2026-09-29T00:00:00Z is not before to 2026-09-01T00:00:00Z"},
		{[]string{"report", "--html", file, "--from", "2026-09-01", "--to", "2026-09-01"}, "empty time range"},
		{[]string{"report", "--html", file, "--from", "yesterday"}, `--from: "yesterday" is neither YYYY-MM-DD`},
		{[]string{"report", "--html", file, "--window", "0"}, "window 0s is shorter than a second"},
		{[]string{"report", "--html", file, "--currency", "usd"}, `--currency: reporting currency "usd" is not an ISO 4217 code`},
		{[]string{"report", "--html", file, "--currency", "EURO"}, `--currency: reporting currency "EURO" is not an ISO 4217 code`},
		{[]string{"report", "--html", file, "--steps", "page_view',purchase"}, "--steps"},
		{[]string{"report", "--html", filepath.Join(dir, "no such dir", "report.html")}, "--html: cannot write " + filepath.Join(dir, "no such dir", "report.html")},
		{[]string{"report", "--html", "/proc/report.html"}, "--html: cannot write /proc/report.html"},
		{[]string{"report", "--html", dir}, "--html: " + dir + " is a directory"},
	} {
		out, err := execute(t, append(c.args, "--pipelines", "../../pipelines", "--clickhouse-addr", "127.0.0.1:1")...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("touchline %s: %v (output %q), want an error containing %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}
	// Nothing was written, not even a temporary file.
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the refused reports left %v", left)
	}
}

// TestReportLeavesNoHalfFile: a report whose queries fail (no ClickHouse
// answers on port 1) leaves neither the file nor its temporary file, and
// an existing file stays as it was.
func TestReportLeavesNoHalfFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, []byte("earlier"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := execute(t, "report", "--html", file, "--pipelines", "../../pipelines", "--clickhouse-addr", "127.0.0.1:1"); err == nil {
		t.Fatal("a report without ClickHouse succeeded")
	}
	left, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(file); len(left) != 1 || string(b) != "earlier" {
		t.Errorf("after a failed report the directory holds %v and the file %q", left, b)
	}
}
