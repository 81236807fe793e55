package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/cli/command"
)

// runCheck runs `touchline check` with args and returns its standard
// output and error, with dir replaced by D.
func runCheck(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := NewRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"check"}, args...))
	err = root.Execute()
	if dir == "" {
		return out.String(), errOut.String(), err
	}
	return strings.ReplaceAll(out.String(), dir, "D"), strings.ReplaceAll(errOut.String(), dir, "D"), err
}

// TestCheckPrintsEveryErrorOfEveryFile: on a directory with a broken
// touchline.yaml, segments file and alerts file, `touchline check` prints
// every error, each at its key's own line, and fails (exit status 1).
func TestCheckPrintsEveryErrorOfEveryFile(t *testing.T) {
	dir := t.TempDir()
	channels, err := os.ReadFile("../../pipelines/channels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"channels.yaml":  string(channels),
		"touchline.yaml": "log:\n  level: info\ningest:\n  flush_interval: soon\n  bogus: 1\n",
		"segments.yaml": "segments:\n  - name: buyers\n    when: count(\"purchase\") > 0\n    colour: red\n" +
			"  - name: lapsed\n    when: days_since(\"purchase\") > \"90\"\n",
		"alerts.yaml": "rules:\n  - name: low-roas\n    kpi: roas\n    scope: channel\n    window: 7d\n    every: 1h\n    threshold: {below: lots}\n" +
			"  - name: no-spend\n    kpi: spend\n    window: 1 day\n    threshold: {below: 1}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, err := runCheck(t, dir, "--config", filepath.Join(dir, "touchline.yaml"), "--pipelines", dir)
	want := []string{
		`D/touchline.yaml:4: ingest.flush_interval: duration "soon": want e.g. 30d, 2w, 36h or 90m`,
		`D/touchline.yaml:5: ingest.bogus: unknown key`,
		`D/segments.yaml:4: segment "buyers": unknown key "colour": want name, description or when`,
		`D/segments.yaml:6: segment "lapsed": found no matching overload for '_>_' applied to '(int, string)' (column 24 of the expression)`,
		`D/alerts.yaml:7: rule "low-roas": below: "lots" is not a number`,
		`D/alerts.yaml:10: rule "no-spend": window: duration "1 day": want e.g. 30d, 2w, 36h or 90m`,
	}
	if got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !errors.Is(err, errCheckFailed) || err.Error() != "the configuration has errors: 6 found" || stdout != "" {
		t.Errorf("got %v and output %q, want errCheckFailed (exit status 1) and no output", err, stdout)
	}
	root := NewRoot()
	root.SetArgs([]string{"check", "--config", filepath.Join(dir, "touchline.yaml"), "--pipelines", dir})
	root.SetErr(&bytes.Buffer{})
	if code := command.Main(root); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}

// TestCheckAcceptsTheShippedFiles: the example configuration and the
// shipped pipelines files pass (exit status 0).
func TestCheckAcceptsTheShippedFiles(t *testing.T) {
	stdout, stderr, err := runCheck(t, "", "--config", "../../docs/touchline.example.yaml", "--pipelines", "../../pipelines")
	if err != nil || stderr != "" || stdout != "configuration and pipelines files in ../../pipelines OK\n" {
		t.Fatalf("got %v, %q, %q", err, stdout, stderr)
	}
}

// TestCheckReportsMissingRequiredFiles: a pipelines directory without the
// files the ingest and segments services cannot start without fails the
// check; the optional files may be absent.
func TestCheckReportsMissingRequiredFiles(t *testing.T) {
	dir := t.TempDir()
	_, stderr, err := runCheck(t, dir, "--pipelines", dir)
	want := "D/channels.yaml: missing: the ingest service needs it\nD/segments.yaml: missing: the segments service needs it\n"
	if !errors.Is(err, errCheckFailed) || stderr != want {
		t.Fatalf("got %v, %q; want %q", err, stderr, want)
	}
}

// TestCheckNamesTheFlagOrVariableOfAnError: a bad flag or environment
// variable is reported by its name, not as the config file's.
func TestCheckNamesTheFlagOrVariableOfAnError(t *testing.T) {
	t.Setenv("TOUCHLINE_KAFKA_TLS", "maybe")
	_, stderr, err := runCheck(t, "", "--pipelines", "../../pipelines")
	if want := "environment: TOUCHLINE_KAFKA_TLS: TOUCHLINE_KAFKA_TLS=\"maybe\" is not a boolean\n"; !errors.Is(err, errCheckFailed) || stderr != want {
		t.Errorf("environment: %v, %q; want %q", err, stderr, want)
	}
	t.Setenv("TOUCHLINE_KAFKA_TLS", "")
	_, stderr, err = runCheck(t, "", "--pipelines", "../../pipelines", "--clickhouse-dsn", "mysql://x")
	if !errors.Is(err, errCheckFailed) || !strings.HasPrefix(stderr, "--clickhouse-dsn: ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("flag: %v, %q; want one error naming --clickhouse-dsn", err, stderr)
	}
}
