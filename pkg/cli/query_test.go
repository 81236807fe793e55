package cli

import (
	"bytes"
	"context"
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
		{[]string{"query"}, "query: name an analysis: alert-history, alert-state, attribution, cohort, funnel, overview, person-identifiers, person-merges, person-segments, person-touches, romi, segment-history, segment-members, segments"},
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
