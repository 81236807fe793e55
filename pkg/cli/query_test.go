package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// execute runs the touchline command with args and no config file, and
// returns its standard output and error.
func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	t.Setenv("TOUCHLINE_CONFIG", "")
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestQueryRefusesWhatItCannotAnswer: an unknown analysis used to print the
// help and exit 0, and out-of-range durations and times used to run and give
// other results (213504d wrapped to 25m26s) or none (--to 2200-01-01).
func TestQueryRefusesWhatItCannotAnswer(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"query", "funel"}, `query: unknown analysis "funel": want funnel`},
		{[]string{"query", "cohorts"}, `query: unknown analysis "cohorts": want cohort`},
		{[]string{"query"}, "query: name an analysis: alert-history, alert-rules, alert-state, attribution, cohort, funnel, kpis, overview, paths, person-identifiers, person-merges, person-segments, person-touches, romi, segment-history, segment-members, segments, stages"},
		{[]string{"query", "funnel", "--steps", "a,b", "--window", "213504d", "--sql"}, `--window: duration "213504d" is out of range`},
		{[]string{"query", "attribution", "--lookback", "213504d", "--sql"}, `--lookback: duration "213504d" is out of range`},
		{[]string{"query", "romi", "--half-life", "9999999999d", "--sql"}, `--half-life: duration "9999999999d" is out of range`},
		{[]string{"query", "funnel", "--steps", "a,b", "--to", "2200-01-01", "--sql"}, "to 2200-01-01T00:00:00Z is out of range"},
		{[]string{"query", "cohort", "--from", "1969-12-01", "--sql"}, "from 1969-12-01T00:00:00Z is out of range"},
	} {
		out, err := execute(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("touchline %s: %v (output %q), want an error containing %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}
	out, err := execute(t, "query", "funnel", "--steps", "a,b", "--window", "36500d", "--to", "2106-01-01", "--sql")
	if err != nil || !strings.Contains(out, "start + 3153600000000") {
		t.Errorf("the longest window: %v\n%s", err, out)
	}
}

// TestQueryAlertRules: `touchline query alert-rules` prints the rules of
// alerts.yaml in the pipelines directory, reading no ClickHouse, and has
// no SQL to print.
func TestQueryAlertRules(t *testing.T) {
	dir := t.TempDir()
	rule := "rules:\n  - name: low-ctr\n    kpi: ctr\n    scope: channel\n    window: 1h\n    threshold: {below: 0.01}\n    severity: critical\n"
	if err := os.WriteFile(filepath.Join(dir, "alerts.yaml"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := execute(t, "query", "alert-rules", "--pipelines", dir, "--format", "csv")
	want := "rule,description,kpi,model,scope,channels,campaigns,event_types,window,delay,every,condition,condition_text,min_volume,for,severity,cooldown,source\n" +
		"low-ctr,,ctr,,channel,,,,1h0m0s,0s,1m0s,threshold,below 0.01,0,1,critical,0s,alerts.yaml:2\n"
	if err != nil || out != want {
		t.Errorf("got %q, %v; want %q", out, err, want)
	}
	if _, err := execute(t, "query", "alert-rules", "--pipelines", dir, "--sql"); err == nil || !strings.Contains(err.Error(), "alert-rules has no SQL") {
		t.Errorf("--sql: %v, want no SQL", err)
	}
	if _, err := execute(t, "query", "alert-rules", "--pipelines", t.TempDir(), "--format", "json"); err != nil {
		t.Errorf("no alerts.yaml: %v, want no rules", err)
	}
}

// TestBrokenStagesFailOnlyTheStagesQuery: stages.yaml is read for `query
// stages` alone, so a broken one fails it with the file and line and
// leaves every other analysis working.
func TestBrokenStagesFailOnlyTheStagesQuery(t *testing.T) {
	dir := t.TempDir()
	stages := filepath.Join(dir, "stages.yaml")
	if err := os.WriteFile(stages, []byte("stages:\n  awareness: [impression]\n  interest: [page_view]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"funnel", "--steps", "page_view,purchase"},
		{"attribution"},
		{"kpis", "--by", "channel", "--model", "linear"},
	} {
		if out, err := execute(t, append(append([]string{"query"}, args...), "--sql", "--pipelines", dir)...); err != nil || !strings.Contains(out, "SELECT") {
			t.Errorf("query %s with a broken %s: %v\n%s", args[0], stages, err, out)
		}
	}
	_, err := execute(t, "query", "stages", "--sql", "--pipelines", dir)
	if want := stages + ":3: "; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `unknown stage "interest"`) {
		t.Errorf("query stages with a broken %s: %v, want an error naming %q and the unknown stage", stages, err, want)
	}
}
